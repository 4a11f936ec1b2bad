"""Callback data that more than one feature puts on its buttons.

A feature's own buttons live beside its router; these are the ones other features (and simple mode) build too —
a balance button under a receipt, "top up" under an account, "try simple mode" under an answer — so they sit
below every router and no router imports another to make a button. Prefixes and fields never change: buttons
already on residents' phones keep working.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from bot.keyboards.callback_int import CallbackInt


class Lang(StrEnum):
    zh = "zh_Hans"
    en = "en"


class LanguageCallback(CallbackData, prefix="lang"):
    code: Lang


class GuidedOffer(StrEnum):
    on = "on"
    off = "off"


class GuidedOfferCallback(CallbackData, prefix="gofr"):
    choice: GuidedOffer


class AccountAction(StrEnum):
    list = "list"
    view = "view"
    link = "link"
    relation_self = "self"
    relation_relative = "rel"
    unlink = "unlink"
    unlink_yes = "unlink_yes"
    alerts_on = "al_on"
    alerts_off = "al_off"


class AccountCallback(CallbackData, prefix="acc"):
    action: AccountAction
    account_id: CallbackInt = 0


class TopupAction(StrEnum):
    start = "start"
    amount = "amt"
    other = "other"


class TopupCallback(CallbackData, prefix="top"):
    action: TopupAction
    account_id: CallbackInt = 0
    amount_fen: CallbackInt = 0


class TariffAction(StrEnum):
    start = "start"
    household = "hh"
    quote = "q"
    type_household = "thh"
    type_volume = "tvol"


class TariffCallback(CallbackData, prefix="tar"):
    action: TariffAction
    household: CallbackInt = 0
    volume: CallbackInt = 0  # m³ a year


class ReconnectCallback(CallbackData, prefix="rcn"):
    account_id: CallbackInt


class HandoffAction(StrEnum):
    end = "end"


class HandoffCallback(CallbackData, prefix="ho"):
    action: HandoffAction
    conv: CallbackInt
