"""Account numbers: 10 digits, the first names the utility, the last is a Luhn check digit.

The check digit lets the bot reject a mistyped number at once, before any lookup.
"""

from __future__ import annotations

import re

from core.enums import Utility

PREFIX = {Utility.gas: "1", Utility.water: "2", Utility.power: "3"}
_PATTERN = re.compile(r"^[123]\d{9}$")


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def make(utility: Utility, serial: int) -> str:
    body = PREFIX[utility] + f"{serial:08d}"
    return body + _luhn_digit(body)


def clean(text: str) -> str:
    """Accept what residents type: spaces, dashes, full-width digits."""
    table = str.maketrans("０１２３４５６７８９", "0123456789")
    return re.sub(r"[\s\-–—_.]", "", text.translate(table))


def is_valid(number: str) -> bool:
    return bool(_PATTERN.match(number)) and _luhn_digit(number[:-1]) == number[-1]


def utility_of(number: str) -> Utility | None:
    for utility, prefix in PREFIX.items():
        if number.startswith(prefix):
            return utility
    return None
