"""Registration of Bot API methods: each family module fills its own table, `api.sandbox.botapi` merges them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from api.sandbox.methods.params import Params
from api.sandbox.state import SandboxState

Method = Callable[[SandboxState, Params], Awaitable[Any]]


class MethodTable:
    """One family's methods by lower-case name (Telegram ignores case), and their canonical names."""

    def __init__(self) -> None:
        self.methods: dict[str, Method] = {}
        self.names: dict[str, str] = {}  # lower-case name -> canonical name, for the call log

    def method(self, *names: str) -> Callable[[Method], Method]:
        def register(func: Method) -> Method:
            for name in names:
                self.methods[name.lower()] = func
                self.names[name.lower()] = name
            return func

        return register


def merge(*tables: MethodTable) -> tuple[dict[str, Method], dict[str, str]]:
    """All families in one dispatch table; a name claimed by two families is a programming error."""
    methods: dict[str, Method] = {}
    names: dict[str, str] = {}
    for table in tables:
        clash = methods.keys() & table.methods.keys()
        if clash:
            raise ValueError(f"Bot API methods registered twice: {sorted(clash)}")
        methods.update(table.methods)
        names.update(table.names)
    return methods, names
