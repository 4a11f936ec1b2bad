"""R19 ignition prerequisites (通气点火): no gas is turned on unless the stove has flame-failure protection, the
water heater's flue vents outdoors, the hoses are clamped and the meter and stove valves are closed before
the riser is opened.

The resident confirms each item before an ignition visit can be booked (a "no" is answered with why and what
to do); the technician records the same checklist at the visit, and a failed item closes the visit as
"not ignited" with the reason sent to the resident (core.appointments.record_ignition_visit).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from core.tickets import InvalidInput
from db.enums import ServiceType


def N_(message: str) -> str:
    return message


class Item(StrEnum):
    flame_failure = "flame_failure"
    flue_outdoors = "flue_outdoors"
    hoses_clamped = "hoses_clamped"
    valves_closed = "valves_closed"


ITEMS: tuple[Item, ...] = tuple(Item)

# What the resident is asked before booking (yes = ready).
QUESTIONS: dict[Item, str] = {
    Item.flame_failure: N_("Does your gas stove have flame-failure protection (the gas shuts off by itself when "
                           "the flame goes out)? It is usually marked 熄火保护 on the stove."),
    Item.flue_outdoors: N_("If you have a gas water heater: does its flue pipe lead outdoors (not into the "
                           "kitchen, a shaft or a balcony that is closed)? With no gas water heater, answer Yes."),
    Item.hoses_clamped: N_("Are the gas hoses fixed with a clamp at both ends (not just pushed on)?"),
    Item.valves_closed: N_("Are the valve at the gas meter and the valves of the stove closed now? They must "
                           "stay closed until our technician opens the riser."),
}

# Why a "no" stops the booking (or the visit), and what to do; told to the resident.
REASONS: dict[Item, str] = {
    Item.flame_failure: N_("A stove without flame-failure protection may not be connected: if the flame is "
                           "blown out, gas keeps flowing. Please replace it with a stove that has it (熄火保护)."),
    Item.flue_outdoors: N_("A gas water heater must vent its fumes outdoors, otherwise carbon monoxide collects "
                           "indoors. Please have the flue pipe led outside by a qualified installer."),
    Item.hoses_clamped: N_("Unclamped hoses can slip off and leak. Please fix both ends of each gas hose with a "
                           "hose clamp (any hardware shop has them)."),
    Item.valves_closed: N_("The meter valve and the stove valves must be closed before the riser is opened, so "
                           "that no gas escapes into the room. Please close them (handle across the pipe)."),
}

# The technician's checklist in the console (staff see both languages).
CONSOLE_LABELS: dict[Item, str] = {
    Item.flame_failure: "Stove has flame-failure protection 灶具有熄火保护",
    Item.flue_outdoors: "Water-heater flue vents outdoors 热水器烟道通向室外",
    Item.hoses_clamped: "Hoses clamped at both ends 胶管两端已用管卡固定",
    Item.valves_closed: "Meter and stove valves closed before the riser is opened 开立管前表阀、灶前阀已关闭",
}

BLOCKED = N_("🔥 We cannot book the gas ignition yet.\n{reason}\nOnce this is put right, book the "
             "ignition again — we will be glad to come.")


def needs_prerequisites(service: ServiceType | str) -> bool:
    return ServiceType(service) is ServiceType.ignition


def failed(answers: Mapping[str, Any] | None) -> list[Item]:
    """The items not confirmed (missing or not True), in the order they are asked."""
    answers = answers or {}
    return [i for i in ITEMS if answers.get(i.value) is not True]


def check_booking(service: ServiceType | str, prerequisites: Mapping[str, Any] | None) -> dict[str, bool] | None:
    """R19: an ignition can be booked only with every prerequisite confirmed; returns what is stored."""
    if not needs_prerequisites(service):
        return None
    missing = failed(prerequisites)
    if missing:
        raise InvalidInput("R19: an ignition can be booked only after the resident has confirmed every "
                           "prerequisite; not confirmed: " + ", ".join(i.value for i in missing))
    return {i.value: True for i in ITEMS}

