"""Long messages, scored clause by clause (issue 14).

An elderly resident tells the story before the request: the request is one clause, the narrative
around it only dilutes the coverage. A clause's score is discounted a little, so a whole matching
message still wins; a clause is scored against the message's own best topics only (whatever a
clause matches, the whole message, which contains it, matched too).
"""

from __future__ import annotations

import re

import numpy as np

from knowledge import scoring
from knowledge.scoring import Scorer

LONG_UNITS = 14
MAX_CLAUSES = 6
MIN_CLAUSE_UNITS = 2
CLAUSE_DISCOUNT = 0.95
CLAUSE_SHARE = 0.4
_CLAUSE_SPLIT = re.compile(r"[，,。.!！?？;；、\n：:~～…]+|\s{1,}(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])\s+"
                           r"|但是|可是|不过|所以|想问问|想问|请问|问一下|问问|麻烦|现在")



def split_clauses(text: str, max_input: int) -> list[str]:
    """The clauses of a long message worth scoring on their own (the last MAX_CLAUSES: the
    request usually comes after the story); [] for a short one."""
    parts = [p for p in _CLAUSE_SPLIT.split(text[:max_input]) if p and p.strip()]
    if len(parts) < 2:
        return []
    return parts[-MAX_CLAUSES:]


def merge_clauses(scorer: Scorer, text: str, scores: np.ndarray, sig: dict[str, np.ndarray],
                  cand: np.ndarray | None) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Scores and signals where a clause beats the whole message for a topic, and which topics a
    clause won. ``scores`` and ``sig`` are over ``cand`` (None: every topic); they are not written
    to (they may be shared arrays)."""
    best_sig, clause_won = sig, np.zeros(len(scores), dtype=bool)
    # Clauses are scored in the compact index of the message's best topics.
    only = None
    idx = np.arange(len(scores))
    if scorer._n_topics > scoring.CLAUSE_TOPICS:
        only = idx = np.sort(np.asarray(scorer._top(scores, scoring.CLAUSE_TOPICS), dtype=np.int64))
        if cand is not None:  # candidates are sorted: the topic ids stay sorted
            only = cand[idx]
    merged = False
    whole = scores
    for part in split_clauses(text, scorer._max_input):
        csig, cunits, _ = scorer._signals(part, only, compact=True)
        if cunits < MIN_CLAUSE_UNITS or len(csig["cov"]) != len(idx):
            continue
        # A clause speaks for a topic as far as the whole message agrees: a stray clause ("房子")
        # can match some topic's name by chance, the request's clause has the message behind it.
        cscores = CLAUSE_DISCOUNT * (CLAUSE_SHARE * scorer._mix(csig) + (1.0 - CLAUSE_SHARE) * whole[idx])
        better = cscores > scores[idx]
        if better.any():
            if not merged:  # copy before the first write
                scores, best_sig, merged = scores.copy(), {k: v.copy() for k, v in sig.items()}, True
            sel = idx[better]
            scores[sel] = cscores[better]
            clause_won[sel] = True
            for k in best_sig:
                best_sig[k][sel] = csig[k][better]
    return scores, best_sig, clause_won
