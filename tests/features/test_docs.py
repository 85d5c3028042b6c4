"""The README's indicator table is generated from the catalog and must match it."""

from __future__ import annotations

from pathlib import Path

import pytest

from assist.errors import InputError
from assist.features import CATALOG
from assist.features.docs import END, START, readme_section, update_readme

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_matches_catalog():
    text = README.read_text(encoding="utf-8")
    assert readme_section() in text, "README indicator table is stale: run `make readme`"


def test_table_lists_every_indicator_once():
    section = readme_section()
    for ind in CATALOG:
        assert section.count(f"`{ind.id}`") == 1


def test_update_readme_rewrites_only_the_block(tmp_path):
    f = tmp_path / "README.md"
    f.write_text(f"# title\n\n{START}\nSTALE-CONTENT\n{END}\n\nafter\n", encoding="utf-8")
    assert update_readme(f) is True
    text = f.read_text(encoding="utf-8")
    assert text.startswith("# title\n\n") and text.endswith("\n\nafter\n")
    assert "STALE-CONTENT" not in text and readme_section() in text
    assert update_readme(f) is False


def test_update_readme_without_markers_names_the_file(tmp_path):
    f = tmp_path / "OTHER.md"
    f.write_text("no markers", encoding="utf-8")
    with pytest.raises(InputError, match="OTHER.md"):
        update_readme(f)
