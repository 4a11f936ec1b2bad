"""Prices as data (core/data/tariffs.yaml): R13 tiered water prices, estimate unit prices, top-up limits.

Also parses the way residents ask for a water bill in their own words ("250 m³ a year for 6 people",
"六口人一年用水320吨") into a quote request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from db.enums import Utility

DATA_FILE = Path(__file__).resolve().parent / "data" / "tariffs.yaml"
MILLI = 1000  # volumes are integer thousandths of a unit, like meter readings


@dataclass(frozen=True)
class Tier:
    name: int
    upto_m3: int | None  # base-household boundary; None = no upper bound
    price_fen: int
    basic_fen: int


@dataclass(frozen=True)
class WaterTiers:
    base_household: int
    extra_person_m3: int
    max_household: int
    resource_fee_fen: int
    sewage_fee_fen: int
    tiers: tuple[Tier, ...]

    def boundaries(self, household: int) -> list[int | None]:
        """Yearly upper bound of each tier for this household (R13: +54 m³ per person above 4)."""
        extra = max(0, household - self.base_household) * self.extra_person_m3
        return [None if t.upto_m3 is None else t.upto_m3 + extra for t in self.tiers]


@dataclass(frozen=True)
class TopupLimits:
    min_fen: int
    max_fen: int
    presets_fen: tuple[int, ...]


@dataclass(frozen=True)
class TariffBook:
    water: WaterTiers
    unit_prices_fen: dict[Utility, int]
    units: dict[Utility, dict[str, str]]
    low_credit_fen: dict[Utility, int]
    low_credit_days: int
    topup: TopupLimits

    def unit(self, utility: Utility, lang: str | None) -> str:
        return self.units[utility]["en" if (lang or "").startswith("en") else "zh"]


@lru_cache(maxsize=4)
def load_tariffs(path: Path = DATA_FILE) -> TariffBook:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    w = raw["water_tiers"]
    tiers = tuple(Tier(int(t["name"]), t["upto_m3"], int(t["price_fen"]), int(t["basic_fen"])) for t in w["tiers"])
    if tiers[-1].upto_m3 is not None or any(t.upto_m3 is None for t in tiers[:-1]):
        raise ValueError(f"{path}: only the last water tier may (and must) be open-ended")
    water = WaterTiers(
        base_household=int(w["base_household"]), extra_person_m3=int(w["extra_person_m3"]),
        max_household=int(w["max_household"]), resource_fee_fen=int(w["components_fen"]["resource_fee"]),
        sewage_fee_fen=int(w["components_fen"]["sewage_fee"]), tiers=tiers,
    )
    t = raw["topup"]
    return TariffBook(
        water=water,
        unit_prices_fen={Utility(k): int(v) for k, v in raw["unit_prices_fen"].items()},
        units={Utility(k): dict(v) for k, v in raw["units"].items()},
        low_credit_fen={Utility(k): int(v) for k, v in raw["low_credit_fen"].items()},
        low_credit_days=int(raw["low_credit_days"]),
        topup=TopupLimits(int(t["min_fen"]), int(t["max_fen"]), tuple(int(x) for x in t["presets_fen"])),
    )


# --- water quote (R13) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierLine:
    tier: int
    from_m3: int
    to_m3: int | None
    volume_milli: int
    price_fen: int
    amount_fen: int


@dataclass(frozen=True)
class WaterQuote:
    volume_milli: int  # per year
    household: int
    lines: tuple[TierLine, ...]  # only tiers actually reached
    boundaries: tuple[int | None, ...]

    @property
    def total_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)


def _amount(volume_milli: int, price_fen: int) -> int:
    """volume × price, rounded half up to the fen (216 m³ × ¥3.41 = ¥736.56 exactly)."""
    return (volume_milli * price_fen + MILLI // 2) // MILLI


def quote_water(volume_milli: int, household: int, book: TariffBook | None = None) -> WaterQuote:
    """R13: a household's yearly water bill, tier by tier."""
    book = book or load_tariffs()
    w = book.water
    if volume_milli < 0:
        raise ValueError("volume must not be negative")
    if not 1 <= household <= w.max_household:
        raise ValueError(f"household size must be 1–{w.max_household}")
    bounds = w.boundaries(household)
    lines = []
    lower = 0
    for tier, upper in zip(w.tiers, bounds, strict=True):
        top = volume_milli if upper is None else min(volume_milli, upper * MILLI)
        part = top - lower * MILLI
        if part <= 0:
            break
        lines.append(TierLine(tier.name, lower, upper, part, tier.price_fen, _amount(part, tier.price_fen)))
        if upper is None:
            break
        lower = upper
    return WaterQuote(volume_milli, household, tuple(lines), tuple(bounds))


def estimate_cost_fen(utility: Utility, usage_milli: int, *, yearly_milli: int | None = None,
                      household: int = 4, book: TariffBook | None = None) -> int:
    """Rough cost of ``usage_milli`` when no charge is on file: water at its average tiered price."""
    book = book or load_tariffs()
    if utility is Utility.water and yearly_milli:
        quote = quote_water(yearly_milli, min(max(household, 1), book.water.max_household), book)
        return (usage_milli * quote.total_fen + yearly_milli // 2) // yearly_milli
    return _amount(usage_milli, book.unit_prices_fen[utility])


# --- understanding "250 m³ a year for 6 people" ------------------------------------------------------------


@dataclass(frozen=True)
class TariffQuery:
    volume_milli: int | None  # per year
    household: int | None
    monthly: bool = False  # the resident gave a monthly figure (already multiplied by 12)


_FULLWIDTH = str.maketrans("０１２３４５６７８９．", "0123456789.")
_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUM = r"(\d{1,7}(?:\.\d{1,3})?)"
_UNIT = r"\s*(?:m³|m3|立方米|立方|方|吨|噸|cubic\s*met(?:er|re)s?|cu\.?\s*m\b|tons?\b|tonnes?\b)"
_VOLUME = re.compile(_NUM + _UNIT, re.IGNORECASE)
_CN_VOLUME = re.compile(r"([零一二两三四五六七八九十百千]{1,8})" + _UNIT)
_PEOPLE = r"\s*(?:口之家|口人|口|个人|人|-?\s*(?:people|persons?|members?|residents?)\b)"
_HOUSEHOLD = [
    re.compile(r"(\d{1,3})" + _PEOPLE, re.IGNORECASE),
    re.compile(r"([一二两三四五六七八九十]{1,3})" + _PEOPLE),
    re.compile(r"(?:family|household)\s+(?:of|size|size\s+of|with)\s*:?\s*(\d{1,3})\b", re.IGNORECASE),
    re.compile(r"(?:家里|家中|户籍|户口|一家)\s*(?:有)?\s*(\d{1,3}|[一二两三四五六七八九十]{1,3})"),
]
_MONTHLY = re.compile(r"每月|每个月|一个月|月均|月用|/月|a month|per month|monthly|/month|each month|every month",
                      re.IGNORECASE)
_COST = re.compile(r"多少钱|多少水费|水费|费用|要交|交多少|付多少|收多少|怎么算|算一下|贵"
                   r"|cost|how much|price|bill|pay|charge", re.IGNORECASE)
_NOT_WATER = re.compile(r"燃气|煤气|天然气|用电|电费|度电|kwh|千瓦|\bgas\b|electric|power", re.IGNORECASE)
MAX_QUESTION_CHARS = 200
MIN_QUOTE_M3 = 10  # "一吨水多少钱" asks for the unit price (the knowledge base answers that), not a bill


def _cn_number(text: str) -> int | None:
    """Arabic digits or a Chinese numeral up to 9999 (三百, 二百五十, 一千二百, 十二) as an int."""
    if text.isdigit():
        return int(text)
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)


def _milli(number: str) -> int:
    whole, _, frac = number.partition(".")
    return int(whole) * MILLI + int((frac + "000")[:3])


def _find_volume(text: str) -> tuple[int, int, int] | None:
    """(milli, start, end) of the first "250 m³" / "三百吨" in ``text``."""
    m = _VOLUME.search(text)
    if m:
        return _milli(m.group(1)), m.start(), m.end()
    m = _CN_VOLUME.search(text)
    if m and (value := _cn_number(m.group(1))) is not None:
        return value * MILLI, m.start(), m.end()
    return None


def parse_volume(text: str) -> tuple[int, bool] | None:
    """A typed yearly (or monthly) volume: "250", "250 m³", "每月20吨" -> (milli per year, monthly)."""
    text = text.translate(_FULLWIDTH).strip()
    if not text or len(text) > MAX_QUESTION_CHARS:
        return None
    found = _find_volume(text)
    if found is None:
        bare = re.fullmatch(r"\D{0,12}?" + _NUM + r"\D{0,12}", text)
        if bare is None:
            return None
        found = (_milli(bare.group(1)), 0, 0)
    monthly = bool(_MONTHLY.search(text))
    return (found[0] * 12 if monthly else found[0]), monthly


def parse_household(text: str) -> int | None:
    """"6", "6口人", "六口之家", "family of 6" -> 6."""
    text = text.translate(_FULLWIDTH)
    for pattern in _HOUSEHOLD:
        m = pattern.search(text)
        if m:
            return _cn_number(m.group(1))
    bare = text.strip()
    return int(bare) if bare.isdigit() and len(bare) <= 3 else None


def parse_tariff_question(text: str) -> TariffQuery | None:
    """A free-text water-bill question, or None if the text is not one (then other features handle it).

    Needs a water volume with its unit AND either a household size or a cost word, so questions about
    the rules ("超过300吨水怎么收费", "一吨水多少钱") still reach the knowledge base.
    """
    if not text or len(text) > MAX_QUESTION_CHARS:
        return None
    text = text.translate(_FULLWIDTH)
    if _NOT_WATER.search(text):
        return None
    found = _find_volume(text)
    if found is None:
        return None
    milli, start, end = found
    household = parse_household(text[:start] + " " + text[end:])
    if household is None and (not _COST.search(text) or milli < MIN_QUOTE_M3 * MILLI):
        return None
    monthly = bool(_MONTHLY.search(text))
    return TariffQuery(milli * 12 if monthly else milli, household, monthly)
