"""The README as a reader navigates it: every section heading (outside code blocks) appears once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def headings(text: str) -> list[str]:
    """Markdown ATX headings, skipping lines inside ``` fences (shell comments there start with # too)."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            found.append(line.strip())
    return found


def test_headings_skip_code_blocks():
    assert headings("# a\n```\n# comment\n```\n## b\n") == ["# a", "## b"]


def test_readme_has_each_heading_once():
    counts = Counter(headings(README.read_text(encoding="utf-8")))
    assert [h for h, n in counts.items() if n > 1] == []
    assert counts["## Tests"] == 1
