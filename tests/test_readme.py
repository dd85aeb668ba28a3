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


def test_readme_says_an_open_scans_chamfer_is_dominated_by_the_caps_and_links_the_details():
    """An open scan's Chamfer is dominated by the caps its closed reconstruction adds (measured in
    tests/metrics/test_mesh.py); the README says so where it shows an SDF fit and links the SDF guide's section."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    assert "caps over the scan's holes dominate its Chamfer distance" in text
    assert "`chamfer_l1_from_reference`" in text and "`--set keep_largest_component=true`" in text
    assert "(docs/guide/sdf.md#open-scans)" in text
    guide = (README.parent / "docs" / "guide" / "sdf.md").read_text(encoding="utf-8")
    assert "## Open scans" in headings(guide) and "caps" in guide.split("## Open scans", 1)[1].split("\n## ", 1)[0]
