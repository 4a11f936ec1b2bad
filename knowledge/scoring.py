"""Scoring a question against the index: per-topic evidence and the 0-100 score.

Per question, the postings of its features are gathered once and scattered with a handful of
numpy calls (no per-topic Python loop), giving for every topic:

* cov  — share of the question's characters / words the topic explains (a character counts
  fully when it is part of a bigram the topic uses, less through a homophone, little alone);
  off-topic questions are mostly unexplained, whatever the best topic is;
* idf  — IDF-weighted share of the question's features found in the topic (discriminates);
* dice — weighted Dice similarity with the topic's closest single phrase;
* name — how completely the question contains one of the topic's titles / keywords;
* util — a question that names one utility (燃气, 水费, electricity...) scales the topics of the
  other utilities down; the cues are learnt from the topics, not listed by hand.

Above CANDIDATE_BUDGET topics only the topics of the question's most selective features are
scored, in a compact index space (bench/faq/README.md for the figures).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol

import numpy as np

from knowledge.features import KNOWN_LEVEL, Unit, unit_weight
from knowledge.index import TopicIndex
from knowledge.models import Utility

# A question cueing exactly one utility (knowledge/index.py) scales the other utilities' topics.
UTILITY_MISMATCH = 0.65
# Mixing of the signals into the 0-100 score.
MIX_COVERAGE = 0.4
MIX_IDF = 0.2
MIX_DICE = 0.2
MIX_NAME = 0.2
MIX_BODY = 0.15
MIX_TOTAL = MIX_COVERAGE + MIX_IDF + MIX_DICE + MIX_NAME + MIX_BODY  # scores stay within 0-100
# Above this many topics a question is scored against the topics of its most selective features
# only (Matcher._candidates); the real catalogue and the 2,000-topic benchmark are scored whole.
CANDIDATE_BUDGET = 2500
# Above CANDIDATE_BUDGET topics, features in more phrases than this (words of every page's
# template: 材料, 多少钱, 要) are left out of the phrase overlap (Dice / name): their IDF is near
# zero, and reading their postings was most of the cost of a long message at 20,000 topics.
PHRASE_POSTING_CAP = 4 * CANDIDATE_BUDGET
# ...and the union of those features' postings stops at this many topics (round 3: 2,500 -> 1,000
# moved no dev outcome at 20,000 topics and cut the CPU median by ~40 %, the p99 by ~20 %).
CANDIDATE_UNION = 1000
# The clauses of a long message are scored against the whole message's CLAUSE_TOPICS best topics
# (a clause only lifts a topic the whole message already ranks: its score is 60 % the message's;
# 16 instead of 64 moved no outcome of the 1,327 benchmark questions on the real catalogue).
CLAUSE_TOPICS = 16


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


class Postings(Protocol):
    """Topic postings by feature: the index's own dict, or a view restricted to candidates."""

    def get(self, f: str, /) -> np.ndarray | None: ...

    def __contains__(self, f: object, /) -> bool: ...

    def __getitem__(self, f: str, /) -> np.ndarray: ...


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
        p: np.ndarray = self._pos[tp]
        kept: np.ndarray = p[p >= 0]
        return kept

    def __contains__(self, f: object) -> bool:
        return f in self._post

    def __getitem__(self, f: str) -> np.ndarray:
        hit = self.get(f)
        if hit is None:
            raise KeyError(f)
        return hit


class Scorer(TopicIndex):
    """Per-topic signals and scores of a question; pure CPU and thread-safe."""

    def signals(self, text: str) -> dict[str, np.ndarray]:
        return self._signals(text)[0]

    def _signals(self, text: str, *, compact: bool = False) -> tuple[dict[str, np.ndarray], int, np.ndarray | None]:
        """Per-topic evidence, the number of units of the question, and with ``compact`` the
        topics the arrays stand for (None: every topic, in catalogue order). Signals, each in 0..1:

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
            return ({"cov": z, "idf": z, "mass": z, "dice": z, "name": z, "body": z, "util": np.ones(n), "known": z,
                     "unnamed": z},
                    len(units),
                    None)
        post: Postings = self._topic_post
        cand = self._candidates(q, units)
        if cand is not None:
            # Large catalogue: work on the candidate topics only, in a compact index space.
            pos = np.full(n_all, -1, dtype=np.int64)
            pos[cand] = np.arange(len(cand))
            post = _Restricted(self._topic_post, pos, cand)
            n = len(cand)
        ones = np.ones(n)

        # Coverage: a (units x touched topics) matrix holding, per unit, the best level at which
        # each topic explains it — one unbuffered np.maximum.at over all (unit, topic) postings.
        # Only topics some unit touches get a column, so the matrix does not grow with the
        # catalogue (at 20,000 topics a dense one was most of the cost of a question).
        # Identical units (a repeated word, a pasted question) are computed once and counted.
        # Function characters (的, 要, 去...) weigh less: a story told around the request is mostly
        # made of them, and no topic needs to explain them.
        counts: dict[tuple[tuple[str, float], ...], float] = defaultdict(float)
        total = 0.0
        for unit in units:
            w = unit_weight(unit)
            counts[tuple(unit)] += w
            total += w
        unit_of: list[int] = []
        levels: list[float] = []
        cols: list[np.ndarray] = []
        for ui, key in enumerate(counts):
            for f, lvl in key:
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
            flat = np.zeros(len(counts) * width, dtype=np.float32)
            np.maximum.at(flat, np.repeat(np.asarray(unit_of, dtype=np.int64) * width, lens) + col,
                          np.repeat(np.asarray(levels, dtype=np.float32), lens))
            mult = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            level = flat.reshape(len(counts), width)
            cov[touched] = (mult @ level).astype(np.float64) / total
            # Share of the question some topic explains at word level (bigram or homophone): whole
            # words no topic uses ("天气", "股票") mark off-topic questions whatever topic is best.
            known = float(mult @ (level.max(axis=1) >= KNOWN_LEVEL)) / total
        else:
            known = 0.0

        # Answer-text share: IDF-weighted (over the topics' answer texts) share of the question's
        # words (character bigrams, English words) that the topic's own answer uses.
        bw_total = 0.0
        b_lists: list[np.ndarray] = []
        b_weights: list[float] = []
        for f, w in q.items():
            if f[0] in "bw":
                bw = w / self._idf.get(f, self._unknown_idf) * self._body_idf.get(f, self._unknown_idf)
                bw_total += bw
                tp = post.get("B:" + f)
                if tp is not None:
                    b_lists.append(tp)
                    b_weights.append(bw)
        if b_lists:
            b_lens = np.fromiter(map(len, b_lists), dtype=np.int64, count=len(b_lists))
            body = np.bincount(np.concatenate(b_lists), np.repeat(b_weights, b_lens), minlength=n) / bw_total
        else:
            body = np.zeros(n)
        # IDF share and phrase overlap: one weighted bincount each over all matched postings.
        wq = sum(q.values())
        matched = [(f, w) for f, w in q.items() if f in post]
        if not matched:
            z = np.zeros(n)
            sig = _expand({"cov": cov, "idf": z, "mass": z, "dice": z, "name": z, "body": body, "util": ones,
                           "unnamed": np.isin(self._utility if cand is None else self._utility[cand],
                                              self._cued_utilities).astype(np.float64)},
                          None if compact else cand, n_all if not compact else n, known)
            return sig, len(units), cand if compact else None
        weights = np.fromiter((w for _, w in matched), dtype=np.float64, count=len(matched))
        t_lists = [post[f] for f, _ in matched]
        t_lens = np.fromiter(map(len, t_lists), dtype=np.int64, count=len(t_lists))
        cues = self.query_cues(q, units)
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
        utility = self._utility if cand is None else self._utility[cand]
        if len(cues) == 1:
            (cued,) = cues
            util = np.where((utility == cued) | (utility == Utility.general.value), 1.0, UTILITY_MISMATCH)
        # The topic belongs to a utility the question does not name (燃气, 水, electricity): near
        # misses from other services ("社保卡丢了", "路灯不亮") borrow a topic's words, never its
        # utility. General topics (ways to pay, opening hours) need no utility named, nor do the
        # topics of a utility without cue words in this catalogue.
        unnamed = (np.isin(utility, self._cued_utilities) & ~np.isin(utility, list(cues))).astype(np.float64)
        out = {"cov": cov, "idf": idf, "mass": mass, "util": util, "body": body, "unnamed": unnamed}
        hit, topic_of, ov = self._overlap_by_postings(matched, weights, cand, pos if cand is not None else None)
        best_dice = np.zeros(n)
        best_name = np.zeros(n)
        if len(topic_of):
            # Phrases are stored topic by topic and ``hit`` is in phrase order, so each topic's
            # phrases are one run: a per-topic maximum is one reduceat (np.maximum.at is slower).
            change = np.empty(len(topic_of), dtype=bool)
            change[0] = True
            np.not_equal(topic_of[1:], topic_of[:-1], out=change[1:])
            first = np.flatnonzero(change)
            best_dice[topic_of[first]] = np.maximum.reduceat(2.0 * ov / (wq + self._phrase_weight[hit]), first)
            # ov / pw for names, else 0
            best_name[topic_of[first]] = np.maximum.reduceat(ov * self._name_inv_weight[hit], first)
        out["dice"], out["name"] = best_dice, best_name
        return (_expand(out, None if compact else cand, n_all if not compact else n, known), len(units),
                cand if compact else None)

    def _overlap_by_postings(self, matched: list[tuple[str, float]], weights: np.ndarray, cand: np.ndarray | None,
                             pos: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Overlap of every touched phrase (phrase ids, their topics in the working index, overlap)."""
        # Computed on the touched phrases only (a few thousand of ~37,000 at 2,000 topics):
        # weighted bincount, then (by the caller) a per-topic maximum over those phrases.
        p_lists = [self._phrase_post[f] for f, _ in matched]
        p_weights = weights
        if cand is not None:
            # Large catalogue: features found in more than PHRASE_POSTING_CAP phrases are left
            # out of the phrase overlap (see there).
            keep_f = np.fromiter((len(p) <= PHRASE_POSTING_CAP for p in p_lists), dtype=bool, count=len(p_lists))
            if not keep_f.all() and keep_f.any():
                p_lists = [p for p, k in zip(p_lists, keep_f, strict=True) if k]
                p_weights = weights[keep_f]
        p_lens = np.fromiter(map(len, p_lists), dtype=np.int64, count=len(p_lists))
        entries = np.concatenate(p_lists)
        entry_w = np.repeat(p_weights, p_lens)
        if cand is not None and pos is not None:
            # Only the candidates' phrases count. They are contiguous per topic and candidates are
            # in topic order, so they have a compact numbering: the bincount and its scan cover
            # those (~20,000 at 20,000 topics) instead of all ~360,000 phrases.
            top = pos[self._phrase_topic[entries]]
            keep = np.flatnonzero(top >= 0)
            top = top[keep]
            c_start = self._topic_phrase_start[cand]
            c_count = self._topic_phrase_start[cand + 1] - c_start
            c_first = np.cumsum(c_count) - c_count
            ov_c = np.bincount(entries[keep] - c_start[top] + c_first[top], entry_w[keep],
                               minlength=int(c_count.sum()))
            local = np.flatnonzero(ov_c > 0)
            topic_of = np.searchsorted(c_first, local, side="right") - 1
            return c_start[topic_of] + (local - c_first[topic_of]), topic_of, ov_c[local]
        ov_all = np.bincount(entries, entry_w)
        hit = np.flatnonzero(ov_all > 0)  # weights are positive; a bool scan is ~3x faster than a float one
        return hit, self._phrase_topic[hit], ov_all[hit]

    def _candidates(self, q: dict[str, float], units: list[Unit]) -> np.ndarray | None:
        """Topics worth scoring in a large catalogue (None: score them all).

        The union of the postings of the question's most selective features, rarest first, until
        CANDIDATE_UNION topics: a topic sharing only common characters (水, 气, 申请) with the
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
        budget = min(CANDIDATE_BUDGET, CANDIDATE_UNION)
        for f in sorted(feats, key=lambda f: len(post[f])):
            size = len(post[f])
            if chosen and total + size > budget:
                break
            chosen.append(post[f])
            total += size
        return _columns(np.concatenate(chosen), self._n_topics)[0]

    @staticmethod
    def _mix(s: dict[str, np.ndarray]) -> np.ndarray:
        mix = (MIX_COVERAGE * s["cov"] + MIX_IDF * s["idf"] + MIX_DICE * s["dice"] + MIX_NAME * s["name"]
               + MIX_BODY * s["body"])
        return (100.0 / MIX_TOTAL) * s["util"] * mix

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
        best: list[int] = pos[idx[np.argsort(sub[idx], kind="stable")]].tolist()
        return best

    def rank(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        """The k best topics with their scores, best first (zero scores left out)."""
        s = self.scores(text)
        return [(self.slugs[i], float(s[i])) for i in self._top(s, k)]
