"""The public surface: names, their order, and what importing the package costs."""

from __future__ import annotations

import subprocess
import sys

import resilient_s3


def test_all_is_sorted_and_complete() -> None:
    assert resilient_s3.__all__ == sorted(resilient_s3.__all__, key=lambda n: (not n.isupper(), n))
    for name in resilient_s3.__all__:
        assert getattr(resilient_s3, name) is not None
    assert set(resilient_s3._MODULE_OF) | {"__version__"} == set(resilient_s3.__all__)


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
