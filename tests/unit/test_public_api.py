"""The public surface: names, their order, and what importing the package costs."""

from __future__ import annotations

import subprocess
import sys

import resilient_s3

PUBLIC = [
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "AsyncPresignedUploader",
    "AsyncPresigner",
    "AsyncResilientUploader",
    "Cause",
    "Checksum",
    "CleanupReport",
    "CompletedUpload",
    "CorsFinding",
    "CorsReport",
    "CredentialRefreshError",
    "Diagnosis",
    "DirectoryReport",
    "DirectoryUploadError",
    "DoctorCheck",
    "DoctorReport",
    "EventKind",
    "Explanation",
    "FileOutcome",
    "IntegrityError",
    "InvalidUploadError",
    "ObjectExistsError",
    "ObjectTooLargeError",
    "PresignedMultipart",
    "PresignedPart",
    "PresignedPost",
    "PresignedRequest",
    "PresignedUploader",
    "Presigner",
    "RedactingFormatter",
    "ResilientUploader",
    "RetriesExhaustedError",
    "S3RequestError",
    "SignRequest",
    "SourceChangedError",
    "SourceError",
    "StaleUpload",
    "UploadConfig",
    "UploadError",
    "UploadEvent",
    "UploadResult",
    "UploadedPart",
    "UploaderStats",
    "UrlReport",
    "__version__",
    "async_doctor",
    "check_cors_rules",
    "diagnose",
    "doctor",
    "explain",
]


def test_all_is_sorted_and_complete() -> None:
    assert resilient_s3.__all__ == sorted(resilient_s3.__all__, key=lambda n: (not n.isupper(), n))
    for name in resilient_s3.__all__:
        assert getattr(resilient_s3, name) is not None
    assert set(resilient_s3._LAZY) <= set(resilient_s3.__all__)
    assert resilient_s3.__all__ == PUBLIC


def test_public_classes_are_resilient_s3s() -> None:
    for name in resilient_s3.__all__:
        value = getattr(resilient_s3, name)
        if isinstance(value, type):
            assert value.__module__ == "resilient_s3", name


def test_the_error_tree_is_drawn_completely() -> None:
    tree = resilient_s3._exceptions.__doc__ or ""
    errors = [n for n in resilient_s3.__all__ if n.endswith("Error")]
    for name in errors:
        assert name in tree, name
        assert issubclass(getattr(resilient_s3, name), resilient_s3.UploadError)


def test_importing_the_package_and_plugin_loads_no_sdk() -> None:
    code = (
        "import sys, resilient_s3, resilient_s3.testing._pytest_plugin; "
        "print(sorted(m for m in ('botocore', 'aiohttp', 'aiobotocore', 'awscrt') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_forgotten_sync_uploader_does_not_block_exit() -> None:
    code = (
        "import resilient_s3; "
        "up = resilient_s3.ResilientUploader(endpoint_url='http://127.0.0.1:9', region_name='x'); "
        "print('made')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "made"


def test_the_command_line_loads_the_benchmark_harness_only_for_bench() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from resilient_s3._cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['put', '--help'])\n"
        "print('resilient_s3_bench' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
