"""The FAQ bench reports each pooled rate with its count and 95 % Wilson interval, against the target."""

from __future__ import annotations

import pytest

from bench.faq.run import TARGETS, Case, evaluate, load_real, ours, pooled, wilson
from knowledge.matcher import Matcher


@pytest.mark.parametrize(("k", "n", "lo", "hi"), [(0, 10, 0.0, 27.75), (5, 10, 23.66, 76.34), (10, 10, 72.25, 100.0),
                                                  (95, 101, 87.64, 97.25)])
def test_wilson_interval(k: int, n: int, lo: float, hi: float) -> None:
    got = wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=0.01)


def test_no_questions_no_interval() -> None:
    assert wilson(0, 0) == (0.0, 0.0)


def test_pooled_rows_count_every_question() -> None:
    cases = [Case("燃气过户需要什么材料", "zh", "gas.transfer"),
             Case("燃气卡丢了怎么补办", "zh", "gas.ic-card-replace"), Case("讲个笑话", "zh", None)]
    matcher = Matcher(load_real())
    held, out = cases[:2], cases[2:]  # two sets, pooled from their own counts
    rows = pooled([evaluate(ours(matcher), part, matcher.match, rounds=1) for part in (held, out)])
    body = {line.split(" | ")[0].lstrip("| "): line for line in rows if line.startswith("| ") and "%" not in line}
    assert set(body) == set(TARGETS)
    assert "| 2 / 2 |" in body["reached"] and "| 1 / 1 |" in body["off-topic rejected"]
    assert body["dead ends"].endswith("| ≤2 |")
