"""Gettext catalogs shared by the bot (aiogram I18n) and core services (outbox texts).

Catalogs are kept as one ``.po`` file per feature under ``bot/locales/<locale>/LC_MESSAGES/``
so features can be developed side by side without merge conflicts; ``compile_catalogs`` merges
them into the single ``messages.mo`` per locale that aiogram's I18n and :class:`Translator` load.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = ("zh_Hans", "en")
DEFAULT_LOCALE = "zh_Hans"
DOMAIN = "messages"


def normalize_locale(code: str | None) -> str:
    """Telegram language codes (zh-hans, zh-CN, en-US) → our two locales."""
    if not code:
        return DEFAULT_LOCALE
    return "en" if code.lower().startswith("en") else DEFAULT_LOCALE


def read_fragments(locales_dir: Path, locale: str) -> Catalog:
    """Merge every feature's .po of a locale; the same msgid twice must carry the same translation."""
    merged = Catalog(locale=locale.replace("_Hans", ""), domain=DOMAIN)
    folder = locales_dir / locale / "LC_MESSAGES"
    for po in sorted(folder.glob("*.po")):
        with po.open("rb") as fh:
            cat = read_po(fh, locale=locale.split("_")[0])
        for msg in cat:
            if not msg.id:
                continue
            old = merged.get(msg.id, msg.context)
            if old is not None and old.string and msg.string and old.string != msg.string:
                raise ValueError(f"{po}: msgid {msg.id!r} translated differently in another fragment")
            if old is None or not old.string:
                merged.add(msg.id, msg.string, context=msg.context, locations=[(po.name, 0)])
    return merged


def compile_catalogs(locales_dir: Path) -> dict[str, int]:
    """Write messages.mo for every locale; returns the number of messages per locale."""
    counts = {}
    for locale in LOCALES:
        catalog = read_fragments(locales_dir, locale)
        out = locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as fh:
            write_mo(fh, catalog)
        counts[locale] = len(catalog)
    return counts


class Translator:
    """Translate outside a Telegram update (outbox texts rendered in the resident's language)."""

    def __init__(self, locales_dir: Path) -> None:
        self.locales_dir = locales_dir
        self._cache: dict[str, NullTranslations] = {}  # NullTranslations when a locale has no catalogue

    def get(self, locale: str | None) -> NullTranslations:
        locale = normalize_locale(locale) if locale not in LOCALES else locale
        if locale not in self._cache:
            self._cache[locale] = Translations.load(str(self.locales_dir), [locale], DOMAIN)
        return self._cache[locale]

    def gettext(self, locale: str | None, message: str) -> str:
        return self.get(locale).gettext(message)

    def ngettext(self, locale: str | None, singular: str, plural: str, n: int) -> str:
        return self.get(locale).ngettext(singular, plural, n)


KEYWORDS = {"_": None, "__": None, "gettext": None, "lazy_gettext": None, "N_": None,
            "ngettext": (1, 2), "lazy_ngettext": (1, 2)}


def extract_msgids(*dirs: Path) -> dict[str, str]:
    """Every translatable msgid in the Python sources below ``dirs``: {msgid: "file:line"}."""
    found: dict[str, str] = {}
    for base in dirs:
        for path in sorted(base.rglob("*.py")):
            for lineno, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
                for msgid in message if isinstance(message, tuple) else (message,):
                    if msgid:
                        found.setdefault(msgid, f"{path.relative_to(base.parent)}:{lineno}")
    return found


def missing_translations(locales_dir: Path, *source_dirs: Path) -> dict[str, list[str]]:
    """{locale: [msgid, ...]} for msgids in the sources without a translation in that locale."""
    ids = extract_msgids(*source_dirs)
    out: dict[str, list[str]] = {}
    for locale in LOCALES:
        cat = read_fragments(locales_dir, locale)
        out[locale] = [m for m in ids if not ((msg := cat.get(m)) and msg.string)]
    return out
