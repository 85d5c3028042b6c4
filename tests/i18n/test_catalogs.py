"""The one message catalog (``src/assist/i18n``) of the pages and the stored reports: extracted
with its own ``babel.cfg`` from both template folders and the Python sources, the ``.pot`` is
current, every message has a Chinese translation keeping its placeholders, and English holds the
same ids (empty: the id is the English)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from assist.reports.i18n import CATALOG_DIR, DYNAMIC, read_catalog

ASSIST = Path(__file__).resolve().parents[2] / "src" / "assist"
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _extracted() -> dict[str, set[str]]:
    """Message id -> the files it is found in, extracted as ``babel.cfg`` says."""
    with (CATALOG_DIR / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found: dict[str, set[str]] = {}
    for file, _line, msg, _comments, _context in extract_from_dir(
            str(ASSIST), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "N_": None}):
        found.setdefault(msg if isinstance(msg, str) else msg[0], set()).add(file)
    return found


def _ids(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {str(m.id) for m in read_po(f) if m.id}


def test_catalogs_live_in_the_neutral_home():
    assert CATALOG_DIR == ASSIST / "i18n"
    for name in ("babel.cfg", "messages.pot", "zh/LC_MESSAGES/messages.po",
                 "en/LC_MESSAGES/messages.po"):
        assert (CATALOG_DIR / name).is_file(), name
    assert not (ASSIST / "serving" / "i18n").exists()


def test_extraction_scans_pages_and_reports_and_the_pot_is_current():
    found = _extracted()
    folders = {f.split("/")[0] + "/" + f.split("/")[1] for files in found.values() for f in files}
    assert {"serving/templates", "serving/pages", "reports/templates"} <= folders
    assert any(f.startswith("reports/") and f.endswith(".py") for fs in found.values() for f in fs)
    assert set(found) == _ids(CATALOG_DIR / "messages.pot")


def test_every_message_has_a_chinese_translation_with_its_placeholders():
    found = set(_extracted()) | set(DYNAMIC)
    zh = read_catalog("zh")
    assert not found - set(zh)
    assert not set(zh) - found  # no stale translation left behind
    for msgid, text in zh.items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid


def test_english_holds_the_same_ids():
    zh, en = (_ids(CATALOG_DIR / lang / "LC_MESSAGES" / "messages.po") for lang in ("zh", "en"))
    assert zh == en
