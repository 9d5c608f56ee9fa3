"""Every Python example in README.md and docs/ runs, as written, against a real server: an
example that rots fails here.

Each example runs in a fresh interpreter in an empty directory holding the files examples name
(``video.mp4``, ``site/``), with the AWS environment variables pointing boto3 and resilient-s3
at the test server and the bucket ``my-bucket`` created there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from resilient_s3.testing import S3Server

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BUCKETS = ("my-bucket",)


def python_examples() -> list[tuple[str, str]]:
    examples = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for match in re.finditer(r"^```python\n(.*?)^```", text, flags=re.M | re.S):
            line = text.count("\n", 0, match.start()) + 1
            examples.append((f"{document.relative_to(ROOT)}:{line}", match.group(1)))
    return examples


EXAMPLES = python_examples()


def test_the_documents_have_examples() -> None:
    assert len(EXAMPLES) >= 3, EXAMPLES


@pytest.mark.parametrize("code", [code for _, code in EXAMPLES], ids=[n for n, _ in EXAMPLES])
def test_example_runs(s3_server: S3Server, tmp_path: Path, code: str) -> None:
    for bucket in BUCKETS:
        s3_server.create_bucket(bucket)
    (tmp_path / "video.mp4").write_bytes(os.urandom(9 * 1024 * 1024))
    (tmp_path / "site" / "css").mkdir(parents=True)
    (tmp_path / "site" / "index.html").write_text("<h1>hello</h1>")
    (tmp_path / "site" / "css" / "site.css").write_text("h1 { color: teal }")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_DEFAULT_REGION": s3_server.region,
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "RESILIENT_S3_JOURNAL_DIR": str(tmp_path / "journal"),
    }
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        input=b"bytes from a pipe",
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()
