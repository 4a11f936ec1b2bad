"""Every msgid used in the code has a translation in both catalogs."""

from __future__ import annotations

from core.i18n import LOCALES, compile_catalogs, missing_translations, read_fragments
from core.settings import ROOT

LOCALES_DIR = ROOT / "bot" / "locales"


def test_no_msgid_lacks_a_translation() -> None:
    missing = missing_translations(LOCALES_DIR, ROOT / "bot", ROOT / "core")
    assert missing == {loc: [] for loc in LOCALES}


def test_catalogs_compile_and_chinese_differs_from_english() -> None:
    counts = compile_catalogs(LOCALES_DIR)
    assert counts["zh_Hans"] == counts["en"] > 0
    zh = read_fragments(LOCALES_DIR, "zh_Hans")
    assert zh.get("⚙️ Settings").string == "⚙️ 设置"
