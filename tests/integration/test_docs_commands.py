"""Every ``resilient-s3`` command line shown in the guides for presigned uploads, diagnostics and
the command line runs, as written, against a real server: it answers (0, or 1 for "found a
problem"), never with a traceback or a usage error. test_docs_examples.py does the same for the
Python examples.

Each runs in a fresh process with the AWS CLI's environment pointing at the test server, where
the bucket ``my-bucket`` exists; commands that need files the page assumes (uploads) or a
different server (benchmarks, ``--embedded``) belong to other tests.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from resilient_s3.testing import S3Server
from s3_helpers import cli_env

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("presigned.md", "diagnostics.md", "deploying-uppy.md", "cli.md", "faq.md")
SKIPPED = ("put", "put-dir", "bench", "chaos", "resume")
"""Commands other tests run (they need local files, or run until stopped)."""


def command_lines() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        for block in re.finditer(r"^```(?:bash|console|sh)\n(.*?)^```", text, flags=re.M | re.S):
            lines = block.group(1).splitlines()
            prompted = any(line.startswith("$ ") for line in lines)  # the rest is output
            for line in lines:
                if prompted and not line.startswith("$ "):
                    continue
                line = line.removeprefix("$ ").strip()
                if not line.startswith("resilient-s3 ") or "|" in line:
                    continue
                words = shlex.split(line, comments=True)
                if len(words) > 1 and words[1] in SKIPPED:
                    continue
                found.append((f"{page}: {line[:70]}", words))
    return found


COMMANDS = command_lines()


def test_the_guides_show_commands() -> None:
    assert len(COMMANDS) >= 8, COMMANDS


@pytest.mark.parametrize("words", [w for _, w in COMMANDS], ids=[n for n, _ in COMMANDS])
def test_command_runs(s3_server: S3Server, tmp_path: Path, words: list[str]) -> None:
    s3_server.create_bucket("my-bucket")
    run = subprocess.run(
        [sys.executable, "-m", "resilient_s3", *words[1:]],
        cwd=tmp_path,
        env=cli_env(s3_server, AWS_ENDPOINT_URL=s3_server.endpoint_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    shown = f"exit {run.returncode}\nstdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-2000:]}"
    assert "Traceback" not in run.stderr, shown
    assert run.returncode in (0, 1), shown
    assert run.stdout or run.stderr, shown
