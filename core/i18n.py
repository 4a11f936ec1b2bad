"""Gettext catalogs: the bot and core services (domain ``messages``) and the staff console (``console``).

Catalogs are kept as several ``.po`` files per locale so features can be developed side by side without merge
conflicts: the bot's under ``bot/locales/<locale>/LC_MESSAGES/``, the console's under
``api/locales/<locale>/LC_MESSAGES/``. ``compile_catalogs`` merges each folder into one ``.mo`` per locale
(``messages.mo`` for aiogram's I18n and :class:`Translator`, ``console.mo`` for the console pages).
"""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from core.settings import ROOT

LOCALES = ("zh_Hans", "en")
DEFAULT_LOCALE = "zh_Hans"
DOMAIN = "messages"
CONSOLE_DOMAIN = "console"
BOT_LOCALES_DIR = ROOT / "bot" / "locales"  # the default of Settings.locales_dir
# The console's catalogs are data beside its templates; only their path is named here, nothing is imported.
CONSOLE_LOCALES_DIR = ROOT / "api" / "locales"


def normalize_locale(code: str | None) -> str:
    """Telegram language codes (zh-hans, zh-CN, en-US) → our two locales."""
    if not code:
        return DEFAULT_LOCALE
    return "en" if code.lower().startswith("en") else DEFAULT_LOCALE


def read_fragments(locales_dir: Path, locale: str, domain: str = DOMAIN) -> Catalog:
    """Merge every .po of a locale's folder; the same msgid twice must carry the same translation."""
    merged = Catalog(locale=locale.replace("_Hans", ""), domain=domain)
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


def _write_mo(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with tmp.open("wb") as fh:
        write_mo(fh, catalog)
    tmp.replace(path)  # a process loading the catalog meanwhile sees the old file or the new one, never half


def compile_catalogs(locales_dir: Path, console_dir: Path | None = CONSOLE_LOCALES_DIR) -> dict[str, int]:
    """Write messages.mo (and console.mo) for every locale; returns the number of messages per catalog."""
    counts = {}
    for folder, domain in ((locales_dir, DOMAIN), (console_dir, CONSOLE_DOMAIN)):
        if folder is None:
            continue
        for locale in LOCALES:
            catalog = read_fragments(folder, locale, domain)
            _write_mo(folder / locale / "LC_MESSAGES" / f"{domain}.mo", catalog)
            counts[locale if domain == DOMAIN else f"{domain} {locale}"] = len(catalog)
    return counts


def load_translations(locales_dir: Path, locale: str, domain: str) -> Translations:
    """A locale's compiled catalog. When the .mo is missing or older than one of its .po files (a checkout
    that skipped ``make catalogs``), the .po files are compiled in memory instead, so no page shows stale text."""
    folder = locales_dir / locale / "LC_MESSAGES"
    mo = folder / f"{domain}.mo"
    newest_po = max((p.stat().st_mtime for p in folder.glob("*.po")), default=0.0)
    if mo.exists() and mo.stat().st_mtime >= newest_po:
        with mo.open("rb") as fh:
            return Translations(fh, domain=domain)
    buf = BytesIO()
    write_mo(buf, read_fragments(locales_dir, locale, domain))
    buf.seek(0)
    return Translations(buf, domain=domain)


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
# Jinja2's extractor (registered with Babel by jinja2) reads {{ _("…") }} and {% trans %} in templates.
TEMPLATE_OPTIONS = {"trimmed": "true"}


def extract_msgids(*paths: Path) -> dict[str, str]:
    """Every translatable msgid in the Python sources and Jinja2 templates at or below ``paths``:
    {msgid: "file:line"}."""
    found: dict[str, str] = {}
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.suffix in (".py", ".html"))
        for path in files:
            method, options = ("jinja2", TEMPLATE_OPTIONS) if path.suffix == ".html" else ("python", None)
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            for lineno, message, _comments, _context in extract_from_file(method, str(path), keywords=KEYWORDS,
                                                                          options=options):
                for msgid in message if isinstance(message, tuple) else (message,):
                    if msgid:
                        found.setdefault(msgid, f"{where}:{lineno}")
    return found


def missing_translations(locales_dir: Path, *source_dirs: Path, domain: str = DOMAIN) -> dict[str, list[str]]:
    """{locale: [msgid, ...]} for msgids in the sources without a translation in that locale."""
    ids = extract_msgids(*source_dirs)
    out: dict[str, list[str]] = {}
    for locale in LOCALES:
        cat = read_fragments(locales_dir, locale, domain)
        out[locale] = [m for m in ids if not ((msg := cat.get(m)) and msg.string)]
    return out
