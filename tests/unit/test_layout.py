"""The package's shape: no module grows past about 500 lines without saying why at its top."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[2] / "src"
LIMIT = 500


def test_long_modules_say_why_they_are_long() -> None:
    unexplained = []
    for path in sorted(SOURCES.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= LIMIT:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if not re.search(r"\d+ lines\)?( because|:)", docstring):
            unexplained.append(str(path.relative_to(SOURCES)))
    assert not unexplained, f"over {LIMIT} lines with no reason at the top: {unexplained}"
