"""The documentation site builds with warnings as errors, and its API reference covers the
public API.

The build needs the ``docs`` extra (``python -m pip install -e '.[docs]'``): without it that
test is skipped, so the suite passes without the extra; CI installs it. The build is offline:
no plugin fetches anything. Broken links and anchors, a ``:::`` entry naming something that
does not exist, or a missing snippet file fail it (``strict: true`` and ``validation`` in
mkdocs.yml).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import resilient_s3
import resilient_s3.testing

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def _missing_docs_packages() -> list[str]:
    missing = []
    for name in DOCS_PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # a parent package is missing
            found = False
        if not found:
            missing.append(name)
    return missing


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    missing = _missing_docs_packages()
    if missing:
        pytest.skip(
            f"the docs extra is not installed ({', '.join(missing)} missing): "
            "python -m pip install -e '.[docs]'"
        )
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert build.returncode == 0, build.stderr + build.stdout
    assert "WARNING" not in build.stderr, build.stderr
    reference = (site / "reference" / "uploaders" / "index.html").read_text(encoding="utf-8")
    assert 'id="resilient_s3.ResilientUploader.upload_file"' in reference
    assert (site / "troubleshooting" / "index.html").is_file()
    assert "Keep a Changelog" in (site / "changelog" / "index.html").read_text(encoding="utf-8")


def _public_names() -> list[str]:
    modules = [resilient_s3, resilient_s3.testing]
    if importlib.util.find_spec("starlette") is not None:  # resilient_s3.uppy needs it
        modules.append(importlib.import_module("resilient_s3.uppy"))
    return [
        f"{module.__name__}.{name}"
        for module in modules
        for name in module.__all__
        if name != "__version__"
    ]


def test_every_public_name_is_in_the_reference() -> None:
    """A name added to ``__all__`` gets an entry in docs/reference/: a ``::: name`` block
    (mkdocstrings renders its docstring) or, for a value, an anchor ``[](){#name}``."""
    text = "\n".join(page.read_text(encoding="utf-8") for page in REFERENCE.glob("*.md"))
    entries = set(re.findall(r"^::: ([\w.]+)", text, flags=re.M))
    entries |= set(re.findall(r"\[\]\(\)\{#([\w.]+)\}", text))
    assert [name for name in _public_names() if name not in entries] == []
