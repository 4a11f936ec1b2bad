"""Helpers of the guided flow tests (guides, faults, visits): paging, a shared location."""

from __future__ import annotations

from aiogram.types import Location, Update

from tests import updates
from tests.support.walker import Screen, Walker


async def tap_paged(walker: Walker, fragment: str) -> Screen:
    """Tap the button with ``fragment``, pressing "More" until it shows up."""
    for _ in range(10):
        if any(fragment in b for b in walker.screen.flat):
            return await walker.tap(fragment)
        await walker.tap("➡️")
    raise AssertionError(f"{fragment!r} never shown")


async def share_location(walker: Walker, latitude: float = 31.30, longitude: float = 120.60) -> Screen:
    assert any("📍" in b for b in walker.screen.flat), "no share-location button on screen"
    message = updates._message(walker.user_id, location=Location(latitude=latitude, longitude=longitude))
    return await walker._feed(Update(update_id=next(updates._update_ids), message=message))
