"""The docs site without building it: every page in mkdocs.yml's nav exists, every Markdown file under
docs/ is in the nav, every relative link and image in docs/ and README.md resolves to a file, and the
README stays short. The strict mkdocs build itself runs in CI (`make docs`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_LIMIT = 15_000  # bytes: what aire is, install, the two commands, quick starts, where to go next

#: [text](target) and ![alt](target), target up to a space or ")" (an optional "title" may follow)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
#: nav entries: "- Title: path.md" or "- path.md"
NAV_ENTRY = re.compile(r"^\s*-\s+(?:[^:\n]+:\s+)?([\w./-]+\.md)\s*$")


def nav_pages(config: str) -> list[str]:
    """The .md paths listed under the top-level `nav:` key of an mkdocs.yml text."""
    lines = config.splitlines()
    start = lines.index("nav:")
    pages = []
    for line in lines[start + 1:]:
        if line and not line.startswith(" "):  # the next top-level key
            break
        match = NAV_ENTRY.match(line)
        if match:
            pages.append(match.group(1))
    return pages


def unfenced(text: str) -> str:
    """`text` without its ``` fenced code blocks and inline `code` spans (their brackets are not links)."""
    kept, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def relative_targets(text: str) -> list[str]:
    """Link and image targets that point into the repository: no scheme, no mailto, no bare #anchor."""
    targets = []
    for target in LINK.findall(unfenced(text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def test_nav_pages_parsed_from_a_small_config():
    config = "site_name: x\nnav:\n  - Home: index.md\n  - Guide:\n      - guide/a.md\n      - B: guide/b.md\nplugins:\n  - search\n"
    assert nav_pages(config) == ["index.md", "guide/a.md", "guide/b.md"]


def test_links_found_outside_code_only():
    text = "[a](a.md) ![b](img/b.png \"t\") [c](https://x.org) [d](#here) [e](e.md#part)\n`[f](f.md)`\n```\n[g](g.md)\n```\n"
    assert relative_targets(text) == ["a.md", "img/b.png", "e.md"]


def test_every_nav_page_exists():
    pages = nav_pages((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert "index.md" in pages
    assert [page for page in pages if not (DOCS / page).is_file()] == []


def test_every_docs_page_is_in_the_nav():
    """mkdocs --strict refuses a page outside the nav; say which one without building."""
    pages = set(nav_pages((ROOT / "mkdocs.yml").read_text(encoding="utf-8")))
    found = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert sorted(found - pages) == []


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_and_images_resolve(path: Path):
    broken = [target for target in relative_targets(path.read_text(encoding="utf-8"))
              if target and not (path.parent / target).exists()]
    assert broken == []


def test_docs_images_stay_inside_the_repository():
    """An image in docs/ may be a link to a benchmark plot, never to a file outside the checkout."""
    for image in DOCS.rglob("*.png"):
        assert image.resolve().is_relative_to(ROOT), image


def test_readme_is_short():
    assert README.stat().st_size < README_LIMIT


@pytest.mark.parametrize("path", sorted(DOCS.rglob("*.md")), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_docs_links_stay_inside_docs(path: Path):
    """mkdocs serves only what lies under docs/: a link that leaves it (a benchmark plot in
    benchmarks/results, say) breaks the strict build; link the file into docs/img instead."""
    import os

    outside = [target for target in relative_targets(path.read_text(encoding="utf-8"))
               if target and not Path(os.path.normpath(path.parent / target)).is_relative_to(DOCS)]
    assert outside == []


#: what a user cannot follow: the project's issue numbers and its internal documents
INTERNAL = re.compile(r"\bissues?\s*[-#]?\s*\d+|\bthe issue\b|(?<![\w/&])#\d+\b|\b(?:SPEC|STYLE|HELPER_RULES)\.md\b",
                      re.IGNORECASE)


def test_internal_references_are_found():
    found = [m.group(0) for m in INTERNAL.finditer(
        "The bar (issue 16); our issue-15 bars; see #12; as the issue asks; SPEC.md; colour #1f77b4; &#8212;")]
    assert found == ["issue 16", "issue-15", "#12", "the issue", "SPEC.md"]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_user_docs_name_no_issue_numbers_or_internal_documents(path: Path):
    assert [m.group(0) for m in INTERNAL.finditer(path.read_text(encoding="utf-8"))] == []
