"""One bounded integer for every CallbackData field (issue 13).

Callback data comes back from the resident's client and can be forged: ``ho:end:99999999999999999999`` used to
reach the database and raise OverflowError. With this type such data does not unpack, the CallbackData filter
does not match, and the tap ends at the fallback's "this button is no longer active". The upper bound is the
largest 64-bit SQL integer (every id the bot puts on a button is a BIGINT, SQLite's INTEGER is 64-bit too); -1
is the "none" some keyboards use.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

CALLBACK_INT_MIN = -1
CALLBACK_INT_MAX = 2**63 - 1

CallbackInt = Annotated[int, Field(ge=CALLBACK_INT_MIN, le=CALLBACK_INT_MAX)]
