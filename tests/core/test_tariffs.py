"""R13 tiered water prices from data, and understanding free-text water-bill questions."""

from __future__ import annotations

import re

import pytest
import yaml

from core import tariffs
from core.settings import ROOT


def test_r13_worked_examples_from_the_topic() -> None:
    # knowledge/topics/water.tariff.yaml: 4 people, 250 m³ = ¥884.12; 320 m³ = ¥1,243.72; 6 people 320 m³ = ¥1,091.20
    assert tariffs.quote_water(250_000, 4).total_fen == 88_412
    q = tariffs.quote_water(320_000, 4)
    assert [(line.tier, line.volume_milli, line.amount_fen) for line in q.lines] == [
        (1, 216_000, 73_656), (2, 84_000, 36_456), (3, 20_000, 14_260)]
    assert q.total_fen == 124_372
    six = tariffs.quote_water(320_000, 6)
    assert six.total_fen == 109_120 and len(six.lines) == 1


def test_household_rule_raises_every_boundary_by_54_per_extra_person() -> None:
    w = tariffs.load_tariffs().water
    assert w.boundaries(4) == [216, 300, None]
    assert w.boundaries(2) == [216, 300, None]  # fewer people: base boundaries
    assert w.boundaries(5) == [270, 354, None]
    assert w.boundaries(6) == [324, 408, None]


def test_quote_edges_and_bad_input() -> None:
    assert tariffs.quote_water(0, 4).total_fen == 0
    exactly = tariffs.quote_water(216_000, 4)
    assert [line.tier for line in exactly.lines] == [1]
    assert tariffs.quote_water(216_001, 4).lines[-1].tier == 2
    # fractional volumes are rounded half up per tier line
    assert tariffs.quote_water(1_500, 4).total_fen == 512  # 1.5 × 3.41 = 5.115
    with pytest.raises(ValueError):
        tariffs.quote_water(100_000, 0)
    with pytest.raises(ValueError):
        tariffs.quote_water(-1, 4)


def test_prices_live_in_data(tmp_path) -> None:
    raw = yaml.safe_load(tariffs.DATA_FILE.read_text(encoding="utf-8"))
    raw["water_tiers"]["tiers"][0]["price_fen"] = 400
    raw["water_tiers"]["extra_person_m3"] = 60
    changed = tmp_path / "tariffs.yaml"
    changed.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    book = tariffs.load_tariffs(changed)
    assert tariffs.quote_water(100_000, 4, book).total_fen == 40_000
    assert book.water.boundaries(5) == [276, 360, None]


def test_topup_minimum_matches_what_the_topics_tell_residents() -> None:
    """R1: the bot must not contradict general.prepayment ("the minimum top-up is {min_prepay}")."""
    site = yaml.safe_load((ROOT / "knowledge" / "site.yaml").read_text(encoding="utf-8"))["values"]
    minimum_yuan = tariffs.load_tariffs().topup.min_fen // 100
    for lang in ("zh", "en"):
        assert re.findall(r"\d+", site["min_prepay"][lang]) == [str(minimum_yuan)]


@pytest.mark.parametrize(("text", "volume", "household", "monthly"), [
    ("250 m³ a year for 6 people", 250_000, 6, False),
    ("how much for 300 m3, family of 5", 300_000, 5, False),
    ("6-person household uses 400 tonnes, what's the bill", 400_000, 6, False),
    ("六口人一年用水320吨", 320_000, 6, False),
    ("家里有七口人，每年用水三百吨", 300_000, 7, False),
    ("每月20吨 5个人", 240_000, 5, True),
    ("我家3口人每个月用18方水多少钱", 216_000, 3, True),
    ("用了250吨水要交多少钱", 250_000, None, False),
    ("一年用两百五十吨水多少钱", 250_000, None, False),
    ("２５０吨水，６口人", 250_000, 6, False),
])
def test_free_text_questions_are_understood(text, volume, household, monthly) -> None:
    q = tariffs.parse_tariff_question(text)
    assert q == tariffs.TariffQuery(volume, household, monthly)


@pytest.mark.parametrize("text", [
    "一吨水多少钱",  # the unit price: the knowledge base answers that
    "超过300吨水怎么收费",  # a rule question, no household, no bill wording
    "阶梯水价怎么算",
    "gas 30 m3 how much",  # not water
    "这个月电费用了200度多少钱",
    "250吨",
    "my neighbour is 6 people",
    "啊" * 500,
])
def test_other_texts_are_left_to_other_features(text) -> None:
    assert tariffs.parse_tariff_question(text) is None


def test_typed_volume_and_household() -> None:
    assert tariffs.parse_volume("250") == (250_000, False)
    assert tariffs.parse_volume("about 250.5 m3") == (250_500, False)
    assert tariffs.parse_volume("20 a month") == (240_000, True)
    assert tariffs.parse_volume("每月20吨") == (240_000, True)
    assert tariffs.parse_volume("lots") is None
    assert tariffs.parse_household("7") == 7
    assert tariffs.parse_household("十二口人") == 12
    assert tariffs.parse_household("family of 8") == 8
    assert tariffs.parse_household("many") is None
