"""R17 account states and the meter-reading window (seed 000, 第二章 抄表催费工作管理).

The states: 在册 registered → 待点火 awaiting ignition → 点火通气 connected; a connected account may become
空房 vacant (confirmed long-term empty), 报停 suspended (the resident asked to stop for a while), 封停 sealed
(meter removed or pipe cut for arrears or a violation), and any account may end as 拆除 dismantled. Vacant,
suspended and sealed accounts come back to connected (reopened, or reconnected after paying, R11). Dismantled
is final: a dismantled household that wants gas again opens a new account.

Meters are read monthly between the 6th and the 26th; a reading dated outside that window is kept, never
refused, and flagged for the reading supervisor.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from db.enums import AccountState as S
from db.models import UtilityAccount

TRANSITIONS: dict[S, frozenset[S]] = {
    S.registered: frozenset({S.awaiting_ignition, S.dismantled}),
    S.awaiting_ignition: frozenset({S.connected, S.dismantled}),
    S.connected: frozenset({S.vacant, S.suspended, S.sealed, S.dismantled}),
    S.vacant: frozenset({S.connected, S.sealed, S.dismantled}),
    S.suspended: frozenset({S.connected, S.sealed, S.dismantled}),
    S.sealed: frozenset({S.connected, S.dismantled}),
    S.dismantled: frozenset(),
}
READING_WINDOW = (6, 26)  # R17: day of the month, inclusive
OUTSIDE_WINDOW = "outside_window"


class StateError(ValueError):
    """A transition R17 does not allow."""


def allowed(old: S, new: S) -> bool:
    """R17: may an account go from ``old`` to ``new``? Staying in the same state is always allowed."""
    return old is new or new in TRANSITIONS[old]


def transition_problem(old: S, new: S) -> str | None:
    if allowed(old, new):
        return None
    nexts = ", ".join(sorted(s.value for s in TRANSITIONS[old])) or "none (final state)"
    return f"R17: an account cannot go from {old.value} to {new.value}; from {old.value} it may go to: {nexts}"


async def change_state(session: AsyncSession, *, account: UtilityAccount, to: S, staff_id: int | None,
                       reason: str, now: datetime) -> None:
    """Move an account to another state if R17 allows it, with an audit row; the caller commits."""
    problem = transition_problem(account.state, to)
    if problem:
        raise StateError(problem)
    if account.state is to:
        return
    audit_state_change(session, account_id=account.id, old=account.state, new=to, staff_id=staff_id,
                       reason=reason, now=now)
    account.state = to
    account.updated_at = now


def audit_state_change(session: AsyncSession, *, account_id: int, old: S, new: S, staff_id: int | None,
                       reason: str, now: datetime) -> None:
    audit.record(session, at=now, staff_id=staff_id, action="account.state", target_type="account",
                 target_id=account_id, from_state=old.value, to_state=new.value, reason=reason[:200])


def in_reading_window(day: date) -> bool:
    lo, hi = READING_WINDOW
    return lo <= day.day <= hi


def reading_flag(day: date) -> str | None:
    """R17: the flag an imported reading carries (None inside the 6th–26th window)."""
    return None if in_reading_window(day) else OUTSIDE_WINDOW
