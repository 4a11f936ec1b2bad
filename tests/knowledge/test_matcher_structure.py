"""Issue 14, structure and speed work on the matcher: modules stay small, and the shortcuts taken for
speed (mark-array columns, scoring a large catalogue in the candidates' compact index) give exactly
what the plain computation gives. Outcomes on the benchmark sets: bench/faq/outcomes.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge import scoring as scoring_module
from knowledge.catalogue import Catalogue
from knowledge.matcher import Matcher
from knowledge.scoring import _columns

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
MAX_MODULE_LINES = 500


@pytest.mark.parametrize("path", sorted(KNOWLEDGE.glob("*.py")), ids=lambda p: p.name)
def test_knowledge_modules_stay_under_500_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) < MAX_MODULE_LINES, path.name


@pytest.mark.parametrize("seed", range(5))
def test_columns_equal_np_unique_with_inverse(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    entries = rng.integers(0, n, size=int(rng.integers(1, 2000)))
    touched, col = _columns(entries, n)
    want_touched, want_col = np.unique(entries, return_inverse=True)
    assert touched.tolist() == want_touched.tolist()
    assert col.tolist() == want_col.tolist()


LONG = "我一个人住，一个月大概用八九方水，想知道一方水现在到底多少钱，是不是分几档的"


@pytest.mark.parametrize("question", ["燃气过户要带什么材料", "how do i pay my water bill", "水表不准想验表", LONG,
                                      "今天天气怎么样"])
def test_candidate_path_ranks_like_the_full_scores(real_catalogue: Catalogue, monkeypatch, question: str) -> None:
    """With candidate pruning on (a tiny budget on the real catalogue) the match is computed over the
    candidates only; its ranking and scores must be those of evidence() over the whole catalogue."""
    monkeypatch.setattr(scoring_module, "CANDIDATE_BUDGET", 8)
    monkeypatch.setattr(scoring_module, "CLAUSE_TOPICS", 4)
    pruned = Matcher(real_catalogue)
    scores, top, x = pruned.evidence(question)
    assert len(scores) == len(pruned.slugs)
    result = pruned.match(question)
    if x is None:
        assert result.outcome == "off_topic"
        return
    assert top == sorted(top, key=lambda i: -scores[i])
    assert result.score == pytest.approx(float(scores[top[0]]))
    ranked = [(pruned.slugs[i], float(scores[i])) for i in top]
    if result.outcome != "off_topic":
        assert result.topic == ranked[0][0]
        assert result.alternatives == ranked[: len(result.alternatives)]
