"""Typed model of a topic file (see knowledge/SCHEMA.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

# Non-empty after stripping: an empty string is as bad as a missing translation.
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Utility(StrEnum):
    gas = "gas"
    water = "water"
    power = "power"
    general = "general"


class Kind(StrEnum):
    business = "business"
    info = "info"
    emergency = "emergency"


class Action(StrEnum):
    """Buttons offered under an answer; exactly the values listed in SCHEMA.md."""

    book_visit = "book_visit"
    report_fault = "report_fault"
    talk_to_person = "talk_to_person"
    complaint = "complaint"
    show_balance = "show_balance"
    top_up = "top_up"
    outages = "outages"
    tariff_calculator = "tariff_calculator"
    callback = "callback"


class _Strict(BaseModel):
    # Unknown keys are typos in a hand-written file; reject them instead of ignoring.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    zh: NonEmpty
    en: NonEmpty

    def get(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en


class Document(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    zh: NonEmpty
    en: NonEmpty
    when: Text | None = None

    def get(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en


class Notice(_Strict):
    """The R1 one-time notification; every field is required for business topics."""

    basis: Text
    time_limit: Text
    steps: list[Text] = Field(min_length=1)
    documents: list[Document] = Field(min_length=1)
    rectify: list[Text] = Field(min_length=1)
    not_accepted: list[Text] = Field(min_length=1)
    fees: Text
    where: Text


class Phrases(_Strict):
    """Per-language lists of short strings (questions, keywords)."""

    zh: list[NonEmpty] = Field(default_factory=list)
    en: list[NonEmpty] = Field(default_factory=list)

    def get(self, lang: Lang) -> list[str]:
        return self.zh if lang == "zh" else self.en


class Topic(_Strict):
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*$")]
    utility: Utility
    kind: Kind
    seed: NonEmpty
    title: Text
    summary: Text
    notice: Notice | None = None
    body: list[Text] = Field(default_factory=list)
    safety: list[Text] = Field(default_factory=list)
    questions: Phrases
    keywords: Phrases = Field(default_factory=Phrases)
    actions: list[Action] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
