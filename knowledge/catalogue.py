"""The validated set of topics, with placeholders already filled per language."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from knowledge import render as _render
from knowledge.models import Lang, Topic, Utility


def as_lang(lang: str | None) -> Lang:
    """Map a locale such as 'zh_Hans', 'zh-CN' or 'en_US' to a content language (default zh)."""
    if lang and lang.lower().startswith("en"):
        return "en"
    return "zh"


class Catalogue:
    """Topics by slug, in file order. Build with `knowledge.load_catalogue()`."""

    def __init__(self, topics: Iterable[Topic], site: dict[Lang, dict[str, str]] | None = None) -> None:
        self._topics: dict[str, Topic] = {}
        for topic in topics:
            if topic.slug in self._topics:
                raise ValueError(f"duplicate topic slug {topic.slug!r}")
            self._topics[topic.slug] = topic
        self.site: dict[Lang, dict[str, str]] = site or {"zh": {}, "en": {}}

    def __iter__(self) -> Iterator[Topic]:
        return iter(self._topics.values())

    def __len__(self) -> int:
        return len(self._topics)

    def __contains__(self, slug: object) -> bool:
        return slug in self._topics

    def __getitem__(self, slug: str) -> Topic:
        return self._topics[slug]

    @property
    def slugs(self) -> list[str]:
        return list(self._topics)

    def get(self, slug: str) -> Topic | None:
        return self._topics.get(slug)

    def by_utility(self, utility: Utility | str) -> list[Topic]:
        return [t for t in self._topics.values() if t.utility == Utility(utility)]

    def value(self, name: str, lang: str | None = None) -> str:
        """A site value (hotline, hall address...) in the given language."""
        return self.site[as_lang(lang)][name]

    def _topic(self, topic: Topic | str) -> Topic:
        return self._topics[topic] if isinstance(topic, str) else topic

    def render(self, topic: Topic | str, lang: str | None) -> list[str]:
        """Telegram-HTML chunks (<= 3500 chars each) of the full answer."""
        return _render.render(self._topic(topic), as_lang(lang))

    def checklist_items(self, topic: Topic | str, lang: str | None) -> list[tuple[str, str]]:
        return _render.checklist_items(self._topic(topic), as_lang(lang))
