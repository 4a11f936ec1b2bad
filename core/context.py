"""The application context: everything a service call needs, built once in main() and injected.

The bot receives it as workflow data (``ctx``), the console as ``app.state.ctx``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.calendar import WorkCalendar
from core.clock import Clock, SystemClock
from core.i18n import Translator
from core.keys import install_secret_key
from core.live import LiveHub
from core.resident_cache import ResidentCache
from core.settings import Settings
from db.session import make_engine, make_sessionmaker
from knowledge.catalogue import Catalogue
from knowledge.loader import load_catalogue
from knowledge.matcher import Matcher


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    calendar: WorkCalendar
    translator: Translator
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings, *, clock: Clock | None = None, engine: AsyncEngine | None = None) -> AppContext:
        install_secret_key(settings)  # issue 12 F4: refuses production without a key, before any work
        engine = engine or make_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            clock=clock or SystemClock(),
            calendar=WorkCalendar(settings.calendar_file),
            translator=Translator(settings.locales_dir),
        )

    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue(self.settings.knowledge_dir / "topics", self.settings.knowledge_dir / "site.yaml")

    @cached_property
    def matcher(self) -> Matcher:
        return Matcher(self.catalogue)

    @cached_property
    def resident_cache(self) -> ResidentCache:
        return ResidentCache(self.settings.inbox.resident_cache)

    @cached_property
    def live(self) -> LiveHub:
        return LiveHub(self.settings.redis_url)

    async def close(self) -> None:
        await self.engine.dispose()
