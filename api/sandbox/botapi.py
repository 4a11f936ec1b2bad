"""Bot API methods of the sandbox, validated the way Telegram validates them.

Each method takes the `SandboxState` and the request `Params` and returns the `result`
value, or raises `BotApiError` with Telegram's error code and description. The methods live in
`api.sandbox.methods`, one module per family; this module is the dispatch table over all of them.
"""

from __future__ import annotations

from api.sandbox.methods import keyboards, media, messages, payments, profile, updates
from api.sandbox.methods.params import Params, Upload
from api.sandbox.methods.table import Method, merge

__all__ = ["METHODS", "METHOD_NAMES", "Method", "Params", "Upload"]

# lower-case name -> implementation (Telegram ignores case); lower-case name -> canonical name, for the call log
METHODS, METHOD_NAMES = merge(
    profile.table, updates.table, messages.table, media.table, keyboards.table, payments.table
)
