"""Jinja2 templates for the console, with the helpers every page needs, in the staff member's language.

Console texts are English msgids in the ``console`` gettext domain (``api/locales``). Each render gets the
``gettext``/``ngettext`` of its own user's language in the template context (Jinja2's i18n extension resolves
``_()`` and ``{% trans %}`` through the context), so two requests rendered at once never share a language.
Templates that import macros do so ``with context`` for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from babel.support import Translations
from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from core import ignition
from core.clock import local
from core.i18n import (
    BOT_LOCALES_DIR,
    CONSOLE_DOMAIN,
    CONSOLE_LOCALES_DIR,
    DEFAULT_LOCALE,
    DOMAIN,
    LOCALES,
    load_translations,
)
from db.enums import ROLE_RANK, StaffRole

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.add_extension("jinja2.ext.i18n")
templates.env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks: whitespace and newlines collapsed
templates.env.newstyle_gettext = True  # type: ignore[attr-defined]  # set by the i18n extension; _("… %(n)s", n=…): variables escaped, and a missing one is an error

# The language names on the language switch, each in its own language.
LANGUAGE_NAMES = {"zh_Hans": "中文（简体）", "en": "English"}
HTML_LANG = {"zh_Hans": "zh-Hans", "en": "en"}


def N_(message: str) -> str:
    """Mark a text for the catalogs; it is translated where it is shown."""
    return message


def accept_language(header: str | None) -> str:
    """The locale a browser prefers among ours (``Accept-Language: en-GB,en;q=0.9,zh;q=0.8``)."""
    best, best_q = DEFAULT_LOCALE, 0.0
    for part in (header or "").split(","):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip().lower()
        locale = "en" if tag.startswith("en") else "zh_Hans" if tag.startswith("zh") else None
        q = 1.0
        for param in params.split(";"):
            key, _sep, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if locale is not None and q > best_q:  # the first of equal weights wins, as the header lists them
            best, best_q = locale, q
    return best


def request_language(request: Request) -> str:
    """The logged-in staff member's language; before login, the browser's. Remembered for the request, so a
    page rendered after a rollback (which expires the staff row) does not need the database again."""
    language = getattr(request.state, "language", None)
    if language is None:
        staff = getattr(request.state, "staff", None)
        language = getattr(staff, "language", None)
        if language not in LOCALES:
            language = accept_language(request.headers.get("accept-language"))
        if staff is not None:  # before authentication nothing is remembered
            request.state.language = language
    return language


_catalogs: dict[str, Translations] = {}
_callables: dict[str, dict[str, Any]] = {}


def translations(locale: str) -> Translations:
    """The console catalog of a locale, loaded once per process and read-only afterwards."""
    if locale not in _catalogs:
        catalog = load_translations(CONSOLE_LOCALES_DIR, locale, CONSOLE_DOMAIN)
        # Labels core marks for the bot (visit services, proxy relations and documents) read the same here.
        catalog.add_fallback(load_translations(BOT_LOCALES_DIR, locale, DOMAIN))
        _catalogs[locale] = catalog
    return _catalogs[locale]


def gettext_for(request: Request) -> Callable[..., str]:
    """``_`` for Python-side texts of this request: ``_("Saved %(n)s rows.", n=3)``. Without values nothing is
    formatted, so a message from core (which may hold a "%") can be passed through as it is."""
    catalog = translations(request_language(request))

    def _(message: str, /, **values: Any) -> str:
        text = catalog.gettext(message)
        return text % values if values else text

    return _


def _template_callables(catalog: Translations) -> dict[str, Any]:
    # Like Jinja2's own newstyle callables, but bound to one catalog: the text is trusted (it comes from our
    # catalogs), the variables are escaped when autoescaping is on.
    @pass_context
    def gettext(context: Context, message: str, /, **values: Any) -> str:
        text = catalog.gettext(message)
        return (Markup(text) if context.eval_ctx.autoescape else text) % values

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, /, **values: Any) -> str:
        text = catalog.ngettext(singular, plural, num)
        values.setdefault("num", num)
        return (Markup(text) if context.eval_ctx.autoescape else text) % values

    def tr(value: str) -> str:
        """A label known only at run time (NAV, core's labels): translated, and still escaped like any value."""
        return catalog.gettext(value) if value else value

    return {"gettext": gettext, "ngettext": ngettext, "tr": tr}


def _template_callables_of(locale: str) -> dict[str, Any]:
    if locale not in _callables:
        _callables[locale] = _template_callables(translations(locale))
    return _callables[locale]


def _fmt_dt(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local(value).strftime(fmt) if value else ""


def _mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


def _fen(value: int | None) -> str:
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    return f"{sign}¥{abs(value) / 100:,.2f}"


templates.env.filters["dt"] = _fmt_dt
templates.env.filters["mask_phone"] = _mask_phone
templates.env.filters["fen"] = _fen


def can(user: Any, role: str) -> bool:
    return user is not None and ROLE_RANK[user.role] >= ROLE_RANK[StaffRole(role)]


templates.env.globals["can"] = can

# The console navigation: (path, label, least role). Features add their page here; labels are msgids.
NAV = [
    {"href": "/console/queue", "label": N_("Queue"), "role": "agent"},
    {"href": "/console/tickets", "label": N_("Tickets"), "role": "agent"},
    {"href": "/console/appointments", "label": N_("Appointments"), "role": "agent"},
    {"href": "/console/outages", "label": N_("Outages"), "role": "operator"},
    {"href": "/console/billing", "label": N_("Billing"), "role": "operator"},
    {"href": "/console/corrections", "label": N_("Corrections"), "role": "agent"},
    {"href": "/console/reconnection", "label": N_("Reconnection"), "role": "operator"},
    {"href": "/console/proxy", "label": N_("Proxy"), "role": "agent"},
    {"href": "/console/reports", "label": N_("Reports"), "role": "supervisor"},
    {"href": "/console/approvals", "label": N_("Approvals"), "role": "supervisor"},
    {"href": "/console/knowledge", "label": N_("Knowledge"), "role": "agent"},
    {"href": "/console/audit", "label": N_("Audit"), "role": "admin"},
    {"href": "/console/admin/staff", "label": N_("Staff"), "role": "admin"},  # issue 12 F5
]
templates.env.globals["nav_items"] = NAV
# R19: the technician's ignition checklist on the appointment cards.
templates.env.globals["ignition_items"] = [(i.value, label) for i, label in ignition.CONSOLE_LABELS.items()]
templates.env.globals["language_names"] = LANGUAGE_NAMES


def render(request: Request, name: str, /, status_code: int = 200, **context: Any):
    """Render a console page in the user's language; adds the CSRF token and the current user."""
    sess = getattr(request.state, "session", None)
    csrf = request.app.state.sessions.csrf_token(sess) if sess else ""
    context.setdefault("user", getattr(request.state, "staff", None))
    language = request_language(request)
    return templates.TemplateResponse(
        request, name, {"csrf_token": csrf, "calendar_warnings": request.app.state.calendar_warnings,
                        "language": language, "html_lang": HTML_LANG[language],
                        **_template_callables_of(language), **context},
        status_code=status_code,
    )
