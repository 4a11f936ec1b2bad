"""Account numbers: 10 digits, the first names the utility, the last is a Luhn check digit.

The check digit lets the bot reject a mistyped number at once, before any lookup.
"""

from __future__ import annotations

import re

from db.enums import Utility

PREFIX = {Utility.gas: "1", Utility.water: "2", Utility.power: "3"}
_PATTERN = re.compile(r"^[123][0-9]{9}$")  # ASCII digits only (\d would take any script's digits)
_SEPARATORS = re.compile(r"[\s\-–—_.]")
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its digits summed (Luhn)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = ord(ch) - 48
        total += _DOUBLED[d] if i % 2 == 0 else d
    return str((10 - total % 10) % 10)


def make(utility: Utility, serial: int) -> str:
    body = PREFIX[utility] + f"{serial:08d}"
    return body + _luhn_digit(body)


def clean(text: str) -> str:
    """Accept what residents type: spaces, dashes, full-width digits."""
    if text.isdigit() and text.isascii():  # the usual case, e.g. every row of a billing file
        return text
    return _SEPARATORS.sub("", text.translate(_FULLWIDTH))


def is_valid(number: str) -> bool:
    return bool(_PATTERN.match(number)) and _luhn_digit(number[:-1]) == number[-1]


def utility_of(number: str) -> Utility | None:
    for utility, prefix in PREFIX.items():
        if number.startswith(prefix):
            return utility
    return None
