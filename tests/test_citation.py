"""CITATION.cff: a Citation File Format 1.2.0 file (the keys the CFF schema requires, of the right types) that
cites the AIRe paper (arXiv 2510.23943) and this software, with the version and licence pyproject.toml and
LICENSE state. The full schema check is `cffconvert --validate` (not a dependency)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # PyYAML: installed with the docs extra (mkdocs) and the ray extra

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_keys_cff_requires(citation):
    assert citation["cff-version"] == "1.2.0"
    for key in ("message", "title"):
        assert isinstance(citation[key], str) and citation[key].strip()
    assert isinstance(citation["authors"], list) and citation["authors"]
    for author in citation["authors"]:  # a person (family-names) or an entity (name)
        assert "family-names" in author or "name" in author, author
    assert citation["type"] == "software"


def test_the_software_entry_matches_the_package(citation, project):
    assert str(citation["version"]) == project["version"]
    assert citation["license"] == project["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_the_preferred_citation_is_the_aire_paper(citation):
    paper = citation["preferred-citation"]
    assert paper["type"] == "article" and paper["year"] == 2025
    assert "Pruning and Densification" in paper["title"]
    assert [a["family-names"] for a in paper["authors"]] == [
        "Aldana", "Lima", "Csillag", "Perazzo", "Feng", "Velho", "Novello"]
    assert all(a["given-names"] for a in paper["authors"])
    identifiers = {i["type"]: str(i["value"]) for i in paper["identifiers"]}
    assert identifiers == {"other": "arXiv:2510.23943", "doi": "10.48550/arXiv.2510.23943"}
    assert paper["url"] == "https://arxiv.org/abs/2510.23943"
