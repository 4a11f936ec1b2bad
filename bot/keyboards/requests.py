"""Keyboards and texts shared by the request forms (fault report, visit booking, complaint)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder

from core.tickets import Extent, FaultCategory
from db.enums import AppointmentStatus, TicketKind, TicketStatus

K = TypeVar("K")


def per_locale(build: Callable[..., K]) -> Callable[..., K]:
    """Build a fixed keyboard once per language and arguments, then reuse it.

    aiogram's builders deep-copy every button when exporting; for keyboards that never change that was a
    visible share of each form step (bench/requests). Only for keyboards without per-resident data.
    """
    cache: dict[tuple[Any, ...], K] = {}

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> K:
        i18n = I18n.get_current(no_error=True)
        key = (i18n.current_locale if i18n is not None else None, args, tuple(sorted(kwargs.items())))
        markup = cache.get(key)
        if markup is None:
            markup = cache[key] = build(*args, **kwargs)
        return markup

    return wrapper


class Form(StrEnum):
    fault = "f"
    visit = "v"
    complaint = "c"


class Nav(StrEnum):
    cancel = "x"
    skip = "s"
    done = "d"


class FormNav(CallbackData, prefix="rqn"):
    """Cancel / Skip / Done under a form question; ``form`` says whose question it is."""

    form: Form
    nav: Nav


def nav_buttons(kb: InlineKeyboardBuilder, form: Form, *, skip: bool = False, done: bool = False) -> None:
    if done:
        kb.button(text=_("✅ Done"), callback_data=FormNav(form=form, nav=Nav.done))
    if skip:
        kb.button(text=_("⏭ Skip"), callback_data=FormNav(form=form, nav=Nav.skip))
    kb.button(text=_("✖️ Cancel"), callback_data=FormNav(form=form, nav=Nav.cancel))


@per_locale
def nav_keyboard(form: Form, *, skip: bool = False, done: bool = False) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    nav_buttons(kb, form, skip=skip, done=done)
    kb.adjust(1 if not (skip or done) else 2)
    return kb.as_markup()


@per_locale
def contact_keyboard() -> ReplyKeyboardMarkup:
    """Share-contact button; the typed word "Cancel" (取消) is handled by the global /cancel."""
    kb = ReplyKeyboardBuilder()
    kb.button(text=_("📱 Share my phone number"), request_contact=True)
    kb.button(text=_("Cancel"))
    kb.adjust(1)
    return kb.as_markup(resize_keyboard=True, one_time_keyboard=True,
                        input_field_placeholder=_("or type a phone number"))


@per_locale
def location_keyboard() -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    kb.button(text=_("📍 Send my location"), request_location=True)
    kb.button(text=_("Cancel"))
    kb.adjust(1)
    return kb.as_markup(resize_keyboard=True, one_time_keyboard=True,
                        input_field_placeholder=_("or type the address"))


# --- labels ------------------------------------------------------------------------------------------------------


def category_label(category: str | None) -> str:
    labels = {
        FaultCategory.gas_leak: _("🚨 Gas leak / smell of gas"),
        FaultCategory.no_gas: _("No gas"),
        FaultCategory.no_water: _("No water"),
        FaultCategory.low_pressure: _("Low water pressure"),
        FaultCategory.water_leak: _("Water leak or burst pipe"),
        FaultCategory.meter_fault: _("Meter fault"),
        FaultCategory.power_cut: _("Power cut"),
        FaultCategory.other: _("Other problem"),
    }
    try:
        return labels[FaultCategory(category or "")]
    except ValueError:
        return category or "-"


def extent_label(extent: str | None) -> str:
    """R8: how far a fault reaches, as the resident chose it."""
    labels: dict[str, str] = {
        Extent.home: _("Only my home"),
        Extent.building: _("The whole building"),
        Extent.area: _("The street or the whole area"),
        Extent.unknown: _("Not sure"),
    }
    return labels.get(extent or "", "-")


def ticket_kind_label(kind: TicketKind) -> str:
    return {
        TicketKind.fault: _("Fault report"),
        TicketKind.complaint: _("Complaint"),
        TicketKind.callback: _("Call-back request"),
        TicketKind.followup: _("Follow-up"),
        TicketKind.inquiry: _("Inquiry"),
    }[TicketKind(kind)]


def ticket_status_label(status: TicketStatus) -> str:
    return {
        TicketStatus.new: _("Registered"),
        TicketStatus.accepted: _("Accepted"),
        TicketStatus.in_progress: _("In progress"),
        TicketStatus.resolved: _("Resolved"),
        TicketStatus.closed: _("Closed"),
        TicketStatus.cancelled: _("Cancelled"),
        TicketStatus.duplicate: _("Merged with another request"),
    }[TicketStatus(status)]


def appointment_status_label(status: AppointmentStatus) -> str:
    return {
        AppointmentStatus.requested: _("Waiting for confirmation"),
        AppointmentStatus.confirmed: _("Confirmed"),
        AppointmentStatus.proposed: _("New time proposed"),
        AppointmentStatus.refused: _("Refused"),
        AppointmentStatus.cancelled: _("Cancelled"),
        AppointmentStatus.completed: _("Completed"),
        AppointmentStatus.no_show: _("Missed"),
        AppointmentStatus.not_ignited: _("Not ignited (we sent you the reason)"),
    }[AppointmentStatus(status)]
