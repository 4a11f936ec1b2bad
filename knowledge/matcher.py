"""Match a resident's free-text question to a topic: answer, choice or off_topic.

The matcher is split by responsibility:

* knowledge/features.py — features of a text (characters, bigrams, fuzzy-pinyin bigrams, English
  words) and the units of a question;
* knowledge/index.py — the index built once over a catalogue (postings, IDF, utility cues, typo
  vocabulary) and the query side of it;
* knowledge/scoring.py — per-topic signals (coverage, IDF share, evidence, phrase Dice, name
  containment, utility) and the 0-100 score, with candidate pruning for large catalogues;
* knowledge/clauses.py — long messages scored clause by clause;
* knowledge/foreign.py — other public services (社保, 医院, broadband…): named without a utility, never
  answered outright;
* this module — the decision: a calibrated model (knowledge/calibration.py, fitted on the dev set
  by bench/faq/tune.py) over the best topic's score, margin, coverage, evidence, length and the
  share of the question any topic explains turns the ranking into answer / choice / off_topic
  (issue 14).

Speed (bench/faq/README.md for the figures): the work per question follows the postings of its
own features, never the catalogue — topic- and phrase-level sums are weighted bincounts, per-topic
maxima one unbuffered np.maximum.at over the touched entries, the touched topics are found with a
mark array (no sort), the top k is chosen among positive scores only. Pinyin is a table lookup,
OpenCC and rapidfuzz are warmed when the index is built, English typo corrections are cached.
`bench/faq/outcomes.py` checks that a speed change moves no outcome on the three question sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from knowledge.calibration import Calibration, feature_vector
from knowledge.catalogue import Catalogue
from knowledge.clauses import LONG_UNITS, merge_clauses, split_clauses
from knowledge.foreign import ForeignTerms
from knowledge.models import Topic
from knowledge.normalize import MAX_INPUT_CHARS
from knowledge.scoring import Scorer
from knowledge.smalltalk import SmallTalk, small_talk

Outcome = Literal["answer", "choice", "off_topic"]

# The decision (answer / choice / off_topic) is a calibrated model, not thresholds on the score:
# knowledge/calibration.py, coefficients in knowledge/calibration.json (bench/faq/tune.py, dev set).
# A choice offers the first two or three topics; the third only when it is not far behind.
MIN_CHOICES = 2
MAX_ALTERNATIVES = 3
THIRD_CHOICE_SPREAD = 30.0
# Two topics (nearly) tied: the question does not say which ("过户": gas or water?), so whatever
# the calibrated confidence, the resident chooses rather than the matcher guessing.
TIE_MARGIN = 1.0


@dataclass(frozen=True, slots=True)
class MatchResult:
    """answer: ``topic`` is the answer; choice: ``alternatives`` (2-3, best first) are offered as
    buttons; off_topic: nothing fits ("I did not understand" + the guide menu), or the message is small
    talk (``small_talk`` names its kind: answered in kind, knowledge/smalltalk.py)."""

    outcome: Outcome
    topic: str | None
    score: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    confidence: float = 0.0  # calibrated P(the first-ranked topic is right)
    small_talk: SmallTalk | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "topic": self.topic,
            "score": round(self.score, 1),
            "confidence": round(self.confidence, 3),
            "alternatives": [{"topic": s, "score": round(v, 1)} for s, v in self.alternatives],
            "small_talk": self.small_talk,
        }


class Matcher(Scorer):
    """Precomputed index over a catalogue; `match()` is pure CPU and thread-safe."""

    def __init__(self, catalogue: Catalogue | Iterable[Topic], *,
                 max_input_chars: int = MAX_INPUT_CHARS, extra: Iterable[tuple[str, str]] = (),
                 calibration: Calibration | None = None) -> None:
        """``extra``: (slug, question) paraphrases learnt from residents (console), indexed like the
        topic's own sample questions; unknown slugs are ignored."""
        self.calibration = calibration or Calibration.load()
        topics = list(catalogue)
        super().__init__(topics, max_input_chars=max_input_chars, extra=extra)
        self.foreign = ForeignTerms(topics)
        if not self._cued_utilities:  # no topic names a utility apart: the models fitted without cues
            self.calibration = self.calibration.uncued()
        # Pay the one-off costs now (OpenCC tables, regexes, rapidfuzz), not on a resident's
        # first question: the first traditional-Chinese message would otherwise take ~3 ms more.
        self.match("燃氣過戶 how do I trasnfer gas")

    def clauses(self, text: str) -> list[str]:
        """The clauses of a long message worth scoring on their own; [] for a short one."""
        return split_clauses(text, self._max_input)

    def evidence(self, text: str) -> tuple[np.ndarray, list[int], np.ndarray | None]:
        """Scores of every topic (the best of the whole message and its clauses), the top
        indices, and the calibration features of the best topic (None: nothing matched)."""
        scores, top_idx, x, cand = self._evidence(text)
        if cand is None:
            return scores, top_idx, x
        full = np.zeros(self._n_topics)  # topics outside the candidates score 0
        full[cand] = scores
        return full, [int(cand[i]) for i in top_idx], x

    def _evidence(self, text: str) -> tuple[np.ndarray, list[int], np.ndarray | None, np.ndarray | None]:
        """`evidence` over the candidate topics ``cand`` (None: every topic): in a large catalogue,
        mixing and ranking 20,000 mostly-zero columns cost more than the scoring itself."""
        sig, n_units, cand = self._signals(text, compact=True)
        scores = self._mix(sig)
        best_sig, clause_won = sig, np.zeros(len(scores), dtype=bool)
        if n_units > LONG_UNITS and not self._confident(scores, sig, n_units):
            scores, best_sig, clause_won = merge_clauses(self, text, scores, sig, cand)
        top_idx = self._top(scores, MAX_ALTERNATIVES + 1)
        if not top_idx:
            return scores, top_idx, None, cand
        b = top_idx[0]
        second = float(scores[top_idx[1]]) if len(top_idx) > 1 else 0.0
        x = feature_vector(float(scores[b]), second, {k: float(v[b]) for k, v in best_sig.items()}, n_units,
                           bool(clause_won[b]))
        return scores, top_idx, x, cand

    def _confident(self, scores: np.ndarray, sig: dict[str, np.ndarray], n_units: int) -> bool:
        """The whole message already gets a confident answer: its clauses need not be scored
        (they cost one more pass each; most long questions are answered on the whole text)."""
        top = self._top(scores, 2)
        if not top:
            return False
        second = float(scores[top[1]]) if len(top) > 1 else 0.0
        x = feature_vector(float(scores[top[0]]), second, {k: float(v[top[0]]) for k, v in sig.items()}, n_units,
                           False)
        return self.calibration.decide(x)[0] == "answer"

    def match(self, text: str, lang: str | None = None) -> MatchResult:
        """Decide answer / choice / off_topic (the one outcome function the bot, simple mode, the
        sandbox and `onestop ask` share). `lang` is accepted for symmetry; the text's own script
        decides how it is read, so a zh user typing English still matches."""
        chat = small_talk(text)
        if chat is not None:  # "谢谢", "good morning": about no topic, and not a question we failed to read
            return MatchResult("off_topic", None, 0.0, [], small_talk=chat)
        scores, top_idx, x, cand = self._evidence(text)
        if x is None:
            return MatchResult("off_topic", None, 0.0, [])
        ids = top_idx if cand is None else [int(cand[i]) for i in top_idx]
        ranked = [(self.slugs[t], float(scores[i])) for t, i in zip(ids, top_idx, strict=True)]
        best, top = ranked[0]
        outcome, confidence = self.calibration.decide(x)
        if outcome == "answer" and len(ranked) > 1 and top - ranked[1][1] < TIE_MARGIN:
            outcome = "choice"
        if outcome == "answer" and self.foreign.named(text):  # "社保卡丢了": not ours to answer outright
            outcome = "choice"
        if outcome == "answer":  # the runner-ups ride along for `onestop ask` and the question log
            return MatchResult("answer", best, top, ranked[:MAX_ALTERNATIVES], confidence)
        if outcome == "off_topic":
            return MatchResult("off_topic", None, top, [], confidence)
        alts = ranked[:MIN_CHOICES] + [r for r in ranked[MIN_CHOICES:MAX_ALTERNATIVES]
                                       if r[1] >= top - THIRD_CHOICE_SPREAD]
        return MatchResult("choice", best, top, alts, confidence)
