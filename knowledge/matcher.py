"""Match a resident's free-text question to a topic.

Index (built once): every title, question and keyword of every topic, in both languages, is
normalised (knowledge.normalize) and turned into weighted features:

* ``c:`` Chinese characters and ``b:`` character bigrams — what was typed;
* ``p:`` fuzzy-pinyin syllable bigrams — what was *meant* when an input method picked a
  homophone (过护 -> 过户, 燃汽 -> 燃气, 交废 -> 缴费);
* ``w:`` stemmed English words (typos corrected against the index vocabulary with rapidfuzz)
  and ``v:`` English word bigrams.

A feature weighs its type weight x IDF over topics, so words that name one business (过户,
transfer) count far more than words every topic shares (燃气, gas). Per question, the postings
of its features are gathered once and scattered with a handful of numpy calls (no per-topic
Python loop), giving for every topic:

* cov  — share of the question's characters / words the topic explains (a character counts
  fully when it is part of a bigram the topic uses, less through a homophone, little alone);
  off-topic questions are mostly unexplained, whatever the best topic is;
* idf  — IDF-weighted share of the question's features found in the topic (discriminates);
* dice — weighted Dice similarity with the topic's closest single phrase;
* name — how completely the question contains one of the topic's titles / keywords;
* util — a question that names one utility (燃气, 水费, electricity...) scales the topics of the
  other utilities down; the cues are learnt from the topics, not listed by hand.

The score (0-100) is a weighted mix. A calibrated decision (knowledge/calibration.py, fitted on the
dev set by bench/faq/tune.py) over the best topic's score, margin, coverage, evidence, length and
the share of the question any topic explains turns it into answer / choice / off_topic (issue 14).
Long messages are also scored clause by clause; above CANDIDATE_BUDGET topics only the topics of
the question's most selective features are scored (bench/faq/README.md for the figures).

Speed (bench/faq, 2,000 topics / ~37,000 phrases): the work per question is proportional to the
postings of its own features, never to the catalogue: topic- and phrase-level sums are weighted
bincounts over those postings, per-topic maxima (coverage levels, best phrase) one unbuffered
np.maximum.at over the touched entries, and the top k is chosen among positive scores only.
Pinyin is a table lookup, OpenCC and rapidfuzz are warmed when the index is built, and English
typo corrections are cached. About 0.15 ms CPU per question at the median and 0.4 ms at p99
(min of 5, 2,000 topics, on a loaded machine). A bound-and-prune pass that scored only the topics
that could still reach the top k was tried: exact but slower, because the catalogue's common
characters leave dozens of contenders (bench/faq/README.md).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from knowledge.calibration import Calibration, feature_vector
from knowledge.catalogue import Catalogue
from knowledge.models import LANGS, Topic, Utility
from knowledge.normalize import MAX_INPUT_CHARS, clean, pinyin, tokenize

Outcome = Literal["answer", "choice", "off_topic"]

# --- Weights from the issue-3 grid search on the (then) dev set; kept as they are. Since issue 14
# the decision itself is the calibrated model in knowledge/calibration.json (bench/faq/tune.py).
# Feature type weights. Bigrams carry meaning in Chinese; single characters help colloquial
# variants (发黄/黄色, 存钱/预存) but weigh less.
# Pinyin bigrams are a bit below character bigrams so an exact spelling beats a homophone.
W_CHAR = 0.6
W_BIGRAM = 1.0
W_PINYIN = 0.8
W_WORD = 1.0
W_WORD_BIGRAM = 0.5
# A feature never seen in any topic weighs like one seen in this share of topics: unknown words
# must pull coverage down (off-topic), but not so hard that one chatty word sinks a question.
UNKNOWN_DF_SHARE = 0.02
# English typo correction: max OSA edits by word length (a transposition is one edit).
TYPO_MAX_EDITS = ((4, 0), (8, 1), (999, 2))  # len < 4 exact, < 8 one edit, else two
TYPO_PENALTY = 0.8
TYPO_ANY_FIRST_LETTER = 8  # shorter words are only corrected to words with the same first letter
# Coverage levels: how well one query character is explained by a topic.
COVER_BIGRAM = 1.0  # part of a character bigram the topic uses
COVER_PINYIN = 0.85  # part of a homophone bigram
COVER_CHAR = 0.5  # the character alone appears in the topic
# A feature is a utility cue (gas / water / power) when at least UTILITY_CUE_SHARE of the
# non-general topics using it belong to one utility and it appears in at least
# UTILITY_CUE_SPREAD of that utility's topics; a question cueing exactly one utility scales
# the other utilities' topics by UTILITY_MISMATCH.
UTILITY_CUE_SHARE = 0.7
UTILITY_CUE_SPREAD = 0.4
UTILITY_MISMATCH = 0.75
# Mixing of the signals into the 0-100 score.
MIX_COVERAGE = 0.4
MIX_IDF = 0.2
MIX_DICE = 0.2
MIX_NAME = 0.2
# The decision (answer / choice / off_topic) is a calibrated model, not thresholds on the score:
# knowledge/calibration.py, coefficients in knowledge/calibration.json (bench/faq/tune.py, dev set).
# A choice offers the first two or three topics; the third only when it is not far behind.
MIN_CHOICES = 2
MAX_ALTERNATIVES = 3
# Above this many topics a question is scored against the topics of its most selective features
# only (Matcher._candidates); the real catalogue and the 2,000-topic benchmark are scored whole.
CANDIDATE_BUDGET = 2500
PHRASE_POSTING_CAP = 8 * CANDIDATE_BUDGET
CLAUSE_TOPICS = 64
CLAUSE_PHRASE_POSTING_CAP = 4 * CANDIDATE_BUDGET
THIRD_CHOICE_SPREAD = 30.0
# Two topics (nearly) tied: the question does not say which ("过户": gas or water?), so whatever
# the calibrated confidence, the resident chooses rather than the matcher guessing.
TIE_MARGIN = 1.0
# Long messages (issue 14: an elderly resident telling the story before the request) are also
# scored clause by clause: the request is one clause, the narrative around it only dilutes the
# coverage. A clause's score is discounted a little, so a whole matching message still wins.
LONG_UNITS = 14
MAX_CLAUSES = 6
MIN_CLAUSE_UNITS = 2
CLAUSE_DISCOUNT = 0.95
_CLAUSE_SPLIT = re.compile(r"[，,。.!！?？;；、\n：:~～…]+|\s{1,}(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])\s+"
                           r"|但是|可是|不过|所以|想问问|想问|请问|问一下|问问|麻烦|现在")


def _expand(out: dict[str, np.ndarray], cand: np.ndarray | None, n_all: int, known: float) -> dict[str, np.ndarray]:
    """Per-topic arrays in catalogue order (topics outside the candidates score 0), plus `known`."""
    if cand is not None:
        for k, v in out.items():
            full = np.ones(n_all) if k == "util" else np.zeros(n_all)
            full[cand] = v
            out[k] = full
    out["known"] = np.full(n_all, known)
    return out


def _columns(entries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(entries, return_inverse=True) for topic ids in [0, n), without sorting: a mark
    array is O(n + len(entries)); the sort of ~50,000 postings was most of a long question's cost."""
    mark = np.zeros(n, dtype=bool)
    mark[entries] = True
    touched = np.flatnonzero(mark)
    col = np.empty(n, dtype=np.int64)
    col[touched] = np.arange(len(touched))
    return touched, col[entries]


class _Restricted:
    """Topic postings seen through the candidate filter: compact candidate indices only.

    A posting list is sorted (topics are indexed in order); for a handful of candidates (the
    clauses of a long message) a binary search per candidate beats reading a long posting list."""

    __slots__ = ("_few", "_memo", "_only", "_pos", "_post")

    def __init__(self, post: dict[str, np.ndarray], pos: np.ndarray, only: np.ndarray) -> None:
        self._post, self._pos, self._only = post, pos, only
        self._few = len(only) <= CLAUSE_TOPICS
        self._memo: dict[str, np.ndarray] = {}  # a feature is read for coverage, IDF and evidence

    def get(self, f: str) -> np.ndarray | None:
        hit = self._memo.get(f)
        if hit is None:
            tp = self._post.get(f)
            if tp is None:
                return None
            hit = self._memo[f] = self._filter(tp)
        return hit

    def _filter(self, tp: np.ndarray) -> np.ndarray:
        if self._few and len(tp) > 4 * len(self._only):
            at = np.minimum(np.searchsorted(tp, self._only), len(tp) - 1)
            return np.flatnonzero(tp[at] == self._only)
        p = self._pos[tp]
        return p[p >= 0]

    def __contains__(self, f: str) -> bool:
        return f in self._post

    def __getitem__(self, f: str) -> np.ndarray:
        hit = self.get(f)
        if hit is None:
            raise KeyError(f)
        return hit


@dataclass(frozen=True, slots=True)
class MatchResult:
    """answer: ``topic`` is the answer; choice: ``alternatives`` (2-3, best first) are offered as
    buttons; off_topic: nothing fits ("I did not understand" + the guide menu)."""

    outcome: Outcome
    topic: str | None
    score: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    confidence: float = 0.0  # calibrated P(the first-ranked topic is right)

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "topic": self.topic,
            "score": round(self.score, 1),
            "confidence": round(self.confidence, 3),
            "alternatives": [{"topic": s, "score": round(v, 1)} for s, v in self.alternatives],
        }


def _max_edits(word: str) -> int:
    for length, edits in TYPO_MAX_EDITS:
        if len(word) < length:
            return edits
    return 0


def features(text: str) -> dict[str, float]:
    """Type-weighted features of one text (before IDF). Raw text in, so index == query path."""
    zh_runs, en_words = tokenize(clean(text))
    return _features(zh_runs, en_words)


def _features(zh_runs: Sequence[str], en_words: Sequence[str]) -> dict[str, float]:
    feats: dict[str, float] = {}
    for run in zh_runs:
        for ch in run:
            feats["c:" + ch] = W_CHAR
        if len(run) == 1:
            # A lone character ("电", "卡") still needs a homophone-tolerant feature.
            feats["p:" + pinyin(run)[0]] = W_CHAR
            continue
        syl = pinyin(run)
        for i in range(len(run) - 1):
            feats["b:" + run[i: i + 2]] = W_BIGRAM
            feats[f"p:{syl[i]}|{syl[i + 1]}"] = W_PINYIN
    for i, word in enumerate(en_words):
        feats["w:" + word] = max(feats.get("w:" + word, 0.0), W_WORD)
        if i:
            feats[f"v:{en_words[i - 1]} {word}"] = W_WORD_BIGRAM
    return feats


def topic_phrases(topic: Topic) -> list[tuple[str, bool]]:
    """Texts indexed for a topic, each with True for a name (title/keyword), False for a question."""
    out: list[tuple[str, bool]] = []
    for lang in LANGS:
        out.append((topic.title.get(lang), True))
        out.extend((k, True) for k in topic.keywords.get(lang))
        out.extend((q, False) for q in topic.questions.get(lang))
    return out


class Matcher:
    """Precomputed index over a catalogue; `match()` is pure CPU and thread-safe."""

    def __init__(self, catalogue: Catalogue | Iterable[Topic], *,
                 max_input_chars: int = MAX_INPUT_CHARS, extra: Iterable[tuple[str, str]] = (),
                 calibration: Calibration | None = None) -> None:
        """``extra``: (slug, question) paraphrases learnt from residents (console), indexed like the
        topic's own sample questions; unknown slugs are ignored."""
        topics = list(catalogue)
        self.calibration = calibration or Calibration.load()
        extras: dict[str, list[str]] = defaultdict(list)
        for slug, text in extra:
            extras[slug].append(text)
        self.slugs: list[str] = [t.slug for t in topics]
        self._max_input = max_input_chars
        n = self._n_topics = len(topics)
        phrase_feats: list[dict[str, float]] = []
        phrase_topic: list[int] = []
        phrase_is_name: list[bool] = []
        topic_feats: list[set[str]] = []
        for ti, topic in enumerate(topics):
            seen: set[str] = set()
            for text, is_name in [*topic_phrases(topic), *((x, False) for x in extras.get(topic.slug, ()))]:
                feats = features(text)
                if feats:
                    phrase_feats.append(feats)
                    phrase_topic.append(ti)
                    phrase_is_name.append(is_name)
                    seen.update(feats)
            topic_feats.append(seen)

        df: dict[str, int] = defaultdict(int)
        for feats in topic_feats:
            for f in feats:
                df[f] += 1
        self._idf: dict[str, float] = {f: self._idf_of(d) for f, d in df.items()}
        self._unknown_idf = self._idf_of(max(1.0, UNKNOWN_DF_SHARE * n))

        t_post: dict[str, list[int]] = defaultdict(list)
        for ti, feats in enumerate(topic_feats):
            for f in feats:
                t_post[f].append(ti)
        p_post: dict[str, list[int]] = defaultdict(list)
        p_weight = np.zeros(len(phrase_feats))
        for pi, feats in enumerate(phrase_feats):
            for f, w in feats.items():
                p_post[f].append(pi)
                p_weight[pi] += w * self._idf[f]
        # Postings are unique within a feature, so `array[postings] += w` needs no np.add.at.
        self._topic_post = {f: np.asarray(v, dtype=np.int32) for f, v in t_post.items()}
        self._phrase_post = {f: np.asarray(v, dtype=np.int32) for f, v in p_post.items()}
        self._phrase_weight = p_weight
        self._phrase_is_name = np.asarray(phrase_is_name, dtype=bool)
        self._phrase_topic = np.asarray(phrase_topic, dtype=np.int32)
        # Phrases are stored topic by topic: topic t owns phrases [start[t], start[t+1]). With a
        # phrase -> feature table (CSR), the overlap of a few topics' phrases is read directly
        # (clauses of long messages are scored against the message's best topics only).
        self._topic_phrase_start = np.searchsorted(self._phrase_topic, np.arange(n + 1)).astype(np.int64)
        self._feature_id = {f: i for i, f in enumerate(p_post)}
        self._pf_indptr = np.zeros(len(phrase_feats) + 1, dtype=np.int64)
        self._pf_indptr[1:] = np.cumsum([len(feats) for feats in phrase_feats])
        self._pf_ids = np.fromiter((self._feature_id[f] for feats in phrase_feats for f in feats), dtype=np.int32,
                                   count=int(self._pf_indptr[-1]))
        # 1 / weight for names (titles, keywords), 0 for questions: name containment is one product.
        # (Weights are > 0: a phrase without features is never indexed.)
        self._name_inv_weight = np.where(self._phrase_is_name, 1.0 / np.maximum(p_weight, 1e-12), 0.0)

        # Utility cues, learned from the topics themselves: a word that (nearly) only one utility
        # uses, and that most of that utility's topics use — a name of the utility (燃气, 水费,
        # water), not the word of one business (抄表, reading) that happens to be gas-only.
        self._utility = np.asarray([t.utility.value for t in topics])
        per_utility = {u: int((self._utility == u).sum()) for u in set(self._utility.tolist())}
        self._cue: dict[str, str] = {}
        for f, posting in t_post.items():
            if f[0] not in "bpwv":
                continue
            utils = [topics[i].utility.value for i in posting if topics[i].utility is not Utility.general]
            if len(utils) < 2:
                continue
            top = max(set(utils), key=utils.count)
            if (utils.count(top) >= UTILITY_CUE_SHARE * len(utils)
                    and utils.count(top) >= UTILITY_CUE_SPREAD * per_utility[top]):
                self._cue[f] = top

        self._vocab = sorted({f[2:] for f in df if f.startswith("w:")})
        self._vocab_set = frozenset(self._vocab)
        self._correct = lru_cache(maxsize=4096)(self._correct_uncached)
        # Pay the one-off costs now (OpenCC tables, regexes, rapidfuzz), not on a resident's
        # first question: the first traditional-Chinese message would otherwise take ~3 ms more.
        self.match("燃氣過戶 how do I trasnfer gas")

    def _idf_of(self, df: float) -> float:
        return math.log(1.0 + (self._n_topics - df + 0.5) / (df + 0.5))

    # --- query path ------------------------------------------------------------------------------

    def _correct_uncached(self, word: str) -> tuple[str, float] | None:
        """Closest index word to an unknown English word, with a weight factor, or None."""
        edits = _max_edits(word)
        if not edits or not self._vocab or word.isdigit():
            return None
        hit = process.extractOne(word, self._vocab, scorer=OSA.distance, score_cutoff=edits)
        if hit is None:
            return None
        # A short word with another first letter is more often a different real word than a
        # typo ("hold" is not "cold", "see" is not "fee"): people rarely mistype the first letter.
        if hit[0][0] != word[0] and len(word) < TYPO_ANY_FIRST_LETTER:
            return None
        return hit[0], TYPO_PENALTY ** hit[1]

    def _query(self, text: str) -> tuple[dict[str, float], list[list[tuple[str, float]]]]:
        """IDF-weighted features of a question, and its units (characters / English words),
        each with the features that would explain it and how well."""
        zh_runs, en_words = tokenize(clean(text, self._max_input))
        factors: dict[str, float] = {}
        fixed: list[str] = []
        for word in en_words:
            hit = None if word in self._vocab_set else self._correct(word)
            fixed.append(word if hit is None else hit[0])
            if hit is not None:
                factors[hit[0]] = min(factors.get(hit[0], 1.0), hit[1])
        feats: dict[str, float] = {}
        for f, w in _features(zh_runs, fixed).items():
            if f.startswith("w:"):
                w *= factors.get(f[2:], 1.0)
            feats[f] = w * self._idf.get(f, self._unknown_idf)

        units: list[list[tuple[str, float]]] = []
        for run in zh_runs:
            syl = pinyin(run)
            if len(run) == 1:
                units.append([("c:" + run, COVER_CHAR), ("p:" + syl[0], COVER_CHAR)])
                continue
            for i, ch in enumerate(run):
                unit = [("c:" + ch, COVER_CHAR)]
                for j in (i - 1, i):
                    if 0 <= j < len(run) - 1:
                        unit.append(("b:" + run[j: j + 2], COVER_BIGRAM))
                        unit.append((f"p:{syl[j]}|{syl[j + 1]}", COVER_PINYIN))
                units.append(unit)
        for word in fixed:
            units.append([("w:" + word, factors.get(word, 1.0))])
        return feats, units

    def query_features(self, text: str) -> dict[str, float]:
        """IDF-weighted features of a question (English typos mapped onto known words)."""
        return self._query(text)[0]

    def signals(self, text: str) -> dict[str, np.ndarray]:
        return self._signals(text)[0]

    def _signals(self, text: str, only: np.ndarray | None = None, *, compact: bool = False
                 ) -> tuple[dict[str, np.ndarray], int]:
        """Per-topic evidence (and the number of units of the question), each in 0..1:

        cov   share of the question's characters/words the topic explains
        idf   IDF-weighted share of the question's features found in the topic
        mass  IDF weight of the word-level features found, in units of one word unique to a
              topic (absolute, not a share): how much specific evidence there is
        dice  weighted Dice similarity with the topic's closest phrase
        name  how completely the question contains one of the topic's names (title/keywords)
        util  1, or UTILITY_MISMATCH if the question names another utility
        """
        n_all = n = self._n_topics
        q, units = self._query(text)
        if not q or not n:
            z = np.zeros(n)
            return {"cov": z, "idf": z, "mass": z, "dice": z, "name": z, "util": np.ones(n), "known": z}, len(units)
        post = self._topic_post
        cand = self._candidates(q, units) if only is None else only
        if cand is not None:
            # Large catalogue: work on the candidate topics only, in a compact index space.
            pos = np.full(n_all, -1, dtype=np.int64)
            pos[cand] = np.arange(len(cand))
            post = _Restricted(post, pos, cand)
            n = len(cand)
        ones = np.ones(n)

        # Coverage: a (units x touched topics) matrix holding, per unit, the best level at which
        # each topic explains it — one unbuffered np.maximum.at over all (unit, topic) postings.
        # Only topics some unit touches get a column, so the matrix does not grow with the
        # catalogue (at 20,000 topics a dense one was most of the cost of a question).
        # Identical units (a repeated word, a pasted question) are computed once and counted.
        counts: dict[tuple[tuple[str, float], ...], int] = defaultdict(int)
        for unit in units:
            counts[tuple(unit)] += 1
        unit_of: list[int] = []
        levels: list[float] = []
        cols: list[np.ndarray] = []
        for ui, unit in enumerate(counts):
            for f, lvl in unit:
                tp = post.get(f)
                if tp is not None:
                    unit_of.append(ui)
                    levels.append(lvl)
                    cols.append(tp)
        cov = np.zeros(n)
        if cols:
            lens = np.fromiter(map(len, cols), dtype=np.int64, count=len(cols))
            touched, col = _columns(np.concatenate(cols), n)
            width = len(touched)
            level = np.zeros(len(counts) * width, dtype=np.float32)
            np.maximum.at(level, np.repeat(np.asarray(unit_of, dtype=np.int64) * width, lens) + col,
                          np.repeat(np.asarray(levels, dtype=np.float32), lens))
            mult = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            level = level.reshape(len(counts), width)
            cov[touched] = (mult @ level).astype(np.float64) / len(units)
            # Share of the question some topic explains at word level (bigram or homophone): whole
            # words no topic uses ("天气", "股票") mark off-topic questions whatever topic is best.
            known = float(mult @ (level.max(axis=1) >= COVER_PINYIN)) / len(units)
        else:
            known = 0.0

        # IDF share and phrase overlap: one weighted bincount each over all matched postings.
        wq = sum(q.values())
        matched = [(f, w) for f, w in q.items() if f in post]
        if not matched:
            z = np.zeros(n)
            return _expand({"cov": cov, "idf": z, "mass": z, "dice": z, "name": z, "util": ones},
                           None if compact else cand, n_all if not compact else n, known), len(units)
        weights = np.fromiter((w for _, w in matched), dtype=np.float64, count=len(matched))
        t_lists = [post[f] for f, _ in matched]
        t_lens = np.fromiter(map(len, t_lists), dtype=np.int64, count=len(t_lists))
        cues: dict[str, float] = defaultdict(float)
        for f, w in matched:
            if f in self._cue:
                cues[self._cue[f]] += w
        t_all = np.concatenate(t_lists)
        w_all = np.repeat(weights, t_lens)
        idf = np.bincount(t_all, w_all, minlength=n) / wq
        # Evidence counts word-level features only — pinyin bigrams (every Chinese word match,
        # exact or homophone, has one), English words and word pairs — so a Chinese word and an
        # English word weigh alike (characters and character bigrams would count Chinese twice).
        word_level = np.repeat(np.fromiter((f[0] in "wv" or (f[0] == "p" and "|" in f) for f, _ in matched),
                                           dtype=bool, count=len(matched)), t_lens)
        # In units of "one word found in a single topic", so the gate means the same for 30
        # topics or 2,000.
        mass = np.bincount(t_all[word_level], w_all[word_level], minlength=n) / self._idf_of(1)
        util = ones
        if len(cues) == 1:
            (cued,) = cues
            utility = self._utility if cand is None else self._utility[cand]
            util = np.where((utility == cued) | (utility == Utility.general.value), 1.0, UTILITY_MISMATCH)
        out = {"cov": cov, "idf": idf, "mass": mass, "util": util}
        if only is not None and len(only) <= CLAUSE_TOPICS:
            hit, topic_of, ov = self._overlap_of_topics(only, matched)
        else:
            hit, topic_of, ov = self._overlap_by_postings(matched, weights, cand, pos if cand is not None else None)
        best_dice = np.zeros(n)
        best_name = np.zeros(n)
        np.maximum.at(best_dice, topic_of, 2.0 * ov / (wq + self._phrase_weight[hit]))
        np.maximum.at(best_name, topic_of, ov * self._name_inv_weight[hit])  # ov / pw for names, else 0
        out["dice"], out["name"] = best_dice, best_name
        return _expand(out, None if compact else cand, n_all if not compact else n, known), len(units)

    def _overlap_by_postings(self, matched: list[tuple[str, float]], weights: np.ndarray, cand: np.ndarray | None,
                             pos: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Overlap of every touched phrase (phrase ids, their topics in the working index, overlap)."""
        # Computed on the touched phrases only (a few thousand of ~37,000 at 2,000 topics):
        # weighted bincount, then (by the caller) a per-topic maximum over those phrases.
        p_lists = [self._phrase_post[f] for f, _ in matched]
        p_weights = weights
        if cand is not None:
            # Large catalogue: features found in more phrases than the candidates have in all
            # (single common characters) are left out of the phrase overlap. Their IDF weight is
            # small, and reading their postings was most of the cost of a question at 20,000 topics.
            keep_f = np.fromiter((len(p) <= PHRASE_POSTING_CAP for p in p_lists), dtype=bool, count=len(p_lists))
            if not keep_f.all() and keep_f.any():
                p_lists = [p for p, k in zip(p_lists, keep_f, strict=True) if k]
                p_weights = weights[keep_f]
        p_lens = np.fromiter(map(len, p_lists), dtype=np.int64, count=len(p_lists))
        ov_all = np.bincount(np.concatenate(p_lists), np.repeat(p_weights, p_lens))
        hit = np.flatnonzero(ov_all > 0)  # weights are positive; a bool scan is ~3x faster than a float one
        topic_of = self._phrase_topic[hit]
        if pos is not None:
            topic_of = pos[topic_of]
            keep = topic_of >= 0
            hit, topic_of = hit[keep], topic_of[keep]
        return hit, topic_of, ov_all[hit]

    def _overlap_of_topics(self, only: np.ndarray, matched: list[tuple[str, float]]
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Overlap of every phrase of a few topics, read from the phrase -> feature table."""
        wvec = np.zeros(len(self._feature_id) + 1)
        for f, w in matched:
            fid = self._feature_id.get(f)
            if fid is not None:
                wvec[fid] = w
        starts, ends = self._topic_phrase_start[only], self._topic_phrase_start[only + 1]
        counts = ends - starts
        phrases = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        topic_of = np.repeat(np.arange(len(only)), counts)
        lo, hi = self._pf_indptr[phrases], self._pf_indptr[phrases + 1]
        lens = hi - lo
        entries = np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
        ov = np.bincount(np.repeat(np.arange(len(phrases)), lens), wvec[self._pf_ids[entries]],
                         minlength=len(phrases))
        keep = ov > 0
        return phrases[keep], topic_of[keep], ov[keep]

    def _candidates(self, q: dict[str, float], units: list[list[tuple[str, float]]]) -> np.ndarray | None:
        """Topics worth scoring in a large catalogue (None: score them all).

        The union of the postings of the question's most selective features, rarest first, until
        CANDIDATE_BUDGET topics: a topic sharing only common characters (水, 气, 申请) with the
        question cannot outrank one that shares a rare word. Small catalogues are scored whole.
        """
        if self._n_topics <= CANDIDATE_BUDGET:
            return None
        post = self._topic_post
        feats = {f for f in q if f in post}
        feats.update(f for unit in units for f, _lvl in unit if f in post)
        if not feats:
            return None
        chosen: list[np.ndarray] = []
        total = 0
        for f in sorted(feats, key=lambda f: len(post[f])):
            size = len(post[f])
            if chosen and total + size > CANDIDATE_BUDGET:
                break
            chosen.append(post[f])
            total += size
        return _columns(np.concatenate(chosen), self._n_topics)[0]

    @staticmethod
    def _mix(s: dict[str, np.ndarray]) -> np.ndarray:
        mix = MIX_COVERAGE * s["cov"] + MIX_IDF * s["idf"] + MIX_DICE * s["dice"] + MIX_NAME * s["name"]
        return 100.0 * s["util"] * mix

    def scores(self, text: str) -> np.ndarray:
        """Score 0-100 of every topic (index order) for a question."""
        return self._mix(self.signals(text))

    @staticmethod
    def _top(scores: np.ndarray, k: int) -> list[int]:
        # Only positive scores count; partitioning them alone also avoids argpartition's slow
        # path on the many tied zeros of a large catalogue.
        pos = np.flatnonzero(scores > 0)
        if not len(pos) or k <= 0:
            return []
        sub = -scores[pos]
        k = min(k, len(pos))
        idx = np.argpartition(sub, k - 1)[:k]
        return pos[idx[np.argsort(sub[idx], kind="stable")]].tolist()

    def rank(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        """The k best topics with their scores, best first (zero scores left out)."""
        s = self.scores(text)
        return [(self.slugs[i], float(s[i])) for i in self._top(s, k)]

    def clauses(self, text: str) -> list[str]:
        """The clauses of a long message worth scoring on their own (the last MAX_CLAUSES: the
        request usually comes after the story); [] for a short one."""
        parts = [p for p in _CLAUSE_SPLIT.split(text[: self._max_input]) if p and p.strip()]
        if len(parts) < 2:
            return []
        return parts[-MAX_CLAUSES:]

    def evidence(self, text: str) -> tuple[np.ndarray, list[int], np.ndarray | None]:
        """Scores of every topic (the best of the whole message and its clauses), the top
        indices, and the calibration features of the best topic (None: nothing matched)."""
        sig, n_units = self._signals(text)
        scores = self._mix(sig)
        best_sig, clause_won = sig, np.zeros(len(scores), dtype=bool)
        if n_units > LONG_UNITS and not self._confident(scores, sig, n_units):
            # A clause is scored against the message's own best topics only (whatever a clause
            # matches, the whole message, which contains it, matched too), in their compact index.
            only = None
            idx = np.arange(len(scores))
            if self._n_topics > CLAUSE_TOPICS:
                only = idx = np.sort(np.asarray(self._top(scores, CLAUSE_TOPICS), dtype=np.int64))
            merged = False
            for part in self.clauses(text):
                csig, cunits = self._signals(part, only, compact=True)
                if cunits < MIN_CLAUSE_UNITS or len(csig["cov"]) != len(idx):
                    continue
                cscores = CLAUSE_DISCOUNT * self._mix(csig)
                better = cscores > scores[idx]
                if better.any():
                    if not merged:  # copy before the first write: `sig` may be shared arrays
                        scores, best_sig, merged = scores.copy(), {k: v.copy() for k, v in sig.items()}, True
                    sel = idx[better]
                    scores[sel] = cscores[better]
                    clause_won[sel] = True
                    for k in best_sig:
                        best_sig[k][sel] = csig[k][better]
        top_idx = self._top(scores, MAX_ALTERNATIVES + 1)
        if not top_idx:
            return scores, top_idx, None
        b = top_idx[0]
        second = float(scores[top_idx[1]]) if len(top_idx) > 1 else 0.0
        x = feature_vector(float(scores[b]), second, {k: float(v[b]) for k, v in best_sig.items()}, n_units,
                           bool(clause_won[b]))
        return scores, top_idx, x

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
        scores, top_idx, x = self.evidence(text)
        if x is None:
            return MatchResult("off_topic", None, 0.0, [])
        ranked = [(self.slugs[i], float(scores[i])) for i in top_idx]
        best, top = ranked[0]
        outcome, confidence = self.calibration.decide(x)
        if outcome == "answer" and len(ranked) > 1 and top - ranked[1][1] < TIE_MARGIN:
            outcome = "choice"
        if outcome == "answer":  # the runner-ups ride along for `onestop ask` and the question log
            return MatchResult("answer", best, top, ranked[:MAX_ALTERNATIVES], confidence)
        if outcome == "off_topic":
            return MatchResult("off_topic", None, top, [], confidence)
        alts = ranked[:MIN_CHOICES] + [r for r in ranked[MIN_CHOICES:MAX_ALTERNATIVES]
                                       if r[1] >= top - THIRD_CHOICE_SPREAD]
        return MatchResult("choice", best, top, alts, confidence)
