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
from knowledge.features import KNOWN_LEVEL, unit_weight
from knowledge.models import Utility
from knowledge.normalize import clean
from knowledge.scoring import Scorer

LONG_UNITS = 14
MAX_CLAUSES = 6
MIN_CLAUSE_UNITS = 2
CLAUSE_DISCOUNT = 0.95
CLAUSE_SHARE = 0.4
# The clause that asks ("要带什么", "能不能…", "how do I…") carries the request; the story around it
# does not: an asking clause speaks for a topic with this share of its score instead.
ASK_SHARE = 0.6
_ASKS = re.compile(r"[吗么呢啥咋哪谁]|什么|多少|几[个天点块钱时]|能不能|可不可以|要不要|是不是|有没有|行不行|怎样"
                   r"|\b(?:how|what|when|where|why|which|who|can|could|should|do|does|is|are|will)\b")
LONG_POSTING = 32  # a posting this many times longer than the topics looked at is binary-searched
_CLAUSE_SPLIT = re.compile(r"[，,。.!！?？;；、\n：:~～…]+|\s{1,}(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])\s+"
                           r"|但是|可是|不过|所以|想问问|想问|请问|问一下|问问|麻烦|现在")



def split_clauses(text: str, max_input: int) -> list[str]:
    """The clauses of a long message worth scoring on their own (the last MAX_CLAUSES: the
    request usually comes after the story); [] for a short one."""
    parts = [p for p in _CLAUSE_SPLIT.split(text[:max_input]) if p and p.strip()]
    if len(parts) < 2:
        return []
    return parts[-MAX_CLAUSES:]


def asking(clause: str) -> bool:
    """The clause asks something (a question word or particle), rather than telling the story."""
    return _ASKS.search(clean(clause)) is not None


def merge_clauses(scorer: Scorer, text: str, scores: np.ndarray, sig: dict[str, np.ndarray],
                  cand: np.ndarray | None) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Scores and signals where a clause beats the whole message for a topic, and which topics a
    clause won. ``scores`` and ``sig`` are over ``cand`` (None: every topic); they are not written
    to (they may be shared arrays)."""
    best_sig, clause_won = sig, np.zeros(len(scores), dtype=bool)
    # Clauses are scored in the compact index of the message's best topics.
    idx = np.arange(len(scores))
    only = idx
    if scorer._n_topics > scoring.CLAUSE_TOPICS:
        only = idx = np.sort(np.asarray(scorer._top(scores, scoring.CLAUSE_TOPICS), dtype=np.int64))
        if cand is not None:  # candidates are sorted: the topic ids stay sorted
            only = cand[idx]
    csig = clause_signals(scorer, split_clauses(text, scorer._max_input), only)
    if csig is None:
        return scores, best_sig, clause_won
    # A clause speaks for a topic as far as the whole message agrees: a stray clause ("房子")
    # can match some topic's name by chance, the request's clause has the message behind it.
    share = np.where(csig.pop("ask")[:, :1] > 0, ASK_SHARE, CLAUSE_SHARE)
    cscores = CLAUSE_DISCOUNT * (share * scorer._mix(csig) + (1.0 - share) * scores[idx])
    # Per topic, the first clause with the best score (clauses in message order).
    k = np.argmax(cscores, axis=0)
    cols = np.arange(len(idx))
    best = cscores[k, cols]
    better = best > scores[idx]
    if better.any():
        scores, best_sig = scores.copy(), {key: v.copy() for key, v in sig.items()}
        sel = idx[better]
        scores[sel] = best[better]
        clause_won[sel] = True
        for key in best_sig:
            best_sig[key][sel] = csig[key][k[better], cols[better]]
    return scores, best_sig, clause_won


def clause_signals(scorer: Scorer, parts: list[str], only: np.ndarray) -> dict[str, np.ndarray] | None:
    """The signals of each clause (rows) over the topics ``only`` (sorted ids, columns), as
    Scorer._signals would give them (None: no clause worth scoring). All clauses at once: one
    (feature x topic) membership matrix for every feature of every clause, then each signal is a
    matrix product (a pass of postings per clause and feature was most of a long message's cost)."""
    queries = []
    asks: list[float] = []
    for part in parts:
        q, units = scorer._query(part)
        if q and len(units) >= MIN_CLAUSE_UNITS:
            queries.append((q, units))
            asks.append(1.0 if asking(part) else 0.0)
    if not queries:
        return None
    t, c = len(only), len(queries)
    postings = scorer._topic_post
    fid: dict[str, int] = {}  # every feature of the clauses that some topic uses

    def feature(f: str) -> int:
        i = fid.get(f)
        if i is None:
            i = fid[f] = len(fid)
        return i

    # Coverage and "known": every distinct unit of the clauses, with the features explaining it.
    unit_id: dict[tuple[tuple[str, float], ...], int] = {}
    wu_rows: list[tuple[int, int, float]] = []
    total = np.zeros(c)
    for ci, (_q, units) in enumerate(queries):
        for unit in units:
            ui = unit_id.setdefault(tuple(unit), len(unit_id))
            w = unit_weight(unit)
            wu_rows.append((ci, ui, w))
            total[ci] += w
    e_unit: list[int] = []
    e_feat: list[int] = []
    e_level: list[float] = []
    for key, ui in unit_id.items():
        for f, lvl in key:
            if f in postings:
                e_unit.append(ui)
                e_feat.append(feature(f))
                e_level.append(lvl)

    # IDF share, evidence mass, answer-text share and utility cues, per clause and feature.
    rows: list[tuple[int, int, float, bool]] = []
    brows: list[tuple[int, int, float]] = []
    wq = np.zeros(c)
    bw_total = np.zeros(c)
    cue_of: list[set[str]] = []
    for ci, (q, units) in enumerate(queries):
        wq[ci] = sum(q.values())
        cue_of.append(scorer.query_cues(q, units))
        for f, w in q.items():
            if f[0] in "bw":
                bw = w / scorer._idf.get(f, scorer._unknown_idf) * scorer._body_idf.get(f, scorer._unknown_idf)
                bw_total[ci] += bw
                if "B:" + f in postings:
                    brows.append((ci, feature("B:" + f), bw))
            if f in postings:
                rows.append((ci, feature(f), w, f[0] in "wv" or (f[0] == "p" and "|" in f)))

    member = _membership(scorer, only, list(fid), t)
    f32 = member.astype(np.float32)
    level = np.zeros((len(unit_id), t), dtype=np.float32)
    if e_unit:
        eu = np.asarray(e_unit, dtype=np.int64)
        vals = f32[np.asarray(e_feat, dtype=np.int64)] * np.asarray(e_level, dtype=np.float32)[:, None]
        order = np.argsort(eu, kind="stable")
        eu = eu[order]
        first = np.flatnonzero(np.r_[True, eu[1:] != eu[:-1]])
        level[eu[first]] = np.maximum.reduceat(vals[order], first, axis=0)
    wu = np.zeros((c, len(unit_id)), dtype=np.float32)
    for ci, ui, w in wu_rows:
        wu[ci, ui] += w
    cov = (wu @ level).astype(np.float64) / total[:, None]
    known = (wu @ (level.max(axis=1) >= KNOWN_LEVEL).astype(np.float32)).astype(np.float64) / total

    qm = np.zeros((c, len(fid)))
    qw = np.zeros((c, len(fid)))
    for ci, fi, w, word_level in rows:
        qm[ci, fi] = w
        if word_level:
            qw[ci, fi] = w
    idf = (qm @ member) / wq[:, None]
    mass = (qw @ member) / scorer._idf_of(1)
    bm = np.zeros((c, len(fid)))
    for ci, fi, bw in brows:
        bm[ci, fi] += bw
    body = (bm @ member) / np.where(bw_total > 0, bw_total, 1.0)[:, None]
    dice, name = _phrase_overlap(scorer, only, qm, fid, wq)

    # Utility: a clause cueing exactly one utility scales the other utilities' topics.
    cued = np.asarray([next(iter(cues)) if len(cues) == 1 else "" for cues in cue_of])
    utility = scorer._utility[only]
    other = (utility[None, :] != cued[:, None]) & (utility[None, :] != Utility.general.value) & (cued[:, None] != "")
    util = np.where(other, scoring.UTILITY_MISMATCH, 1.0)
    with_cues = set(scorer._cued_utilities)
    unnamed = np.asarray([[u in with_cues and u not in cues for u in utility.tolist()] for cues in cue_of],
                         dtype=np.float64)
    return {"cov": cov, "idf": idf, "mass": mass, "util": util, "body": body, "dice": dice, "name": name,
            "unnamed": unnamed, "ask": np.repeat(np.asarray(asks)[:, None], t, axis=1),
            "known": np.repeat(known[:, None], t, axis=1)}


def _membership(scorer: Scorer, only: np.ndarray, feats: list[str], t: int) -> np.ndarray:
    """(feature x topic) 0/1 matrix over the topics ``only`` (sorted ids): postings are mapped all
    at once, except a very long one (a common character at 20,000 topics), which is searched for
    each of the topics instead."""
    m = np.zeros((len(feats), t))
    short: list[np.ndarray] = []
    short_rows: list[int] = []
    for fi, f in enumerate(feats):
        tp = scorer._topic_post[f]
        if len(tp) > LONG_POSTING * t:
            at = np.minimum(np.searchsorted(tp, only), len(tp) - 1)
            m[fi, tp[at] == only] = 1.0
        else:
            short.append(tp)
            short_rows.append(fi)
    if short:
        pos = np.full(scorer._n_topics, -1, dtype=np.int64)
        pos[only] = np.arange(t)
        lens = np.fromiter(map(len, short), dtype=np.int64, count=len(short))
        cols = pos[np.concatenate(short)]
        rows = np.repeat(np.asarray(short_rows, dtype=np.int64), lens)
        keep = cols >= 0
        m[rows[keep], cols[keep]] = 1.0
    return m


def _phrase_overlap(scorer: Scorer, only: np.ndarray, qm: np.ndarray, feat_id: dict[str, int], wq: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per clause and topic: Dice with the closest phrase and name containment, read from the
    phrase -> feature table of the topics ``only``."""
    c, t = len(qm), len(only)
    best_dice = np.zeros((c, t))
    best_name = np.zeros((c, t))
    gids = np.fromiter((scorer._feature_id.get(f, -1) for f in feat_id), dtype=np.int64, count=len(feat_id))
    known = np.flatnonzero(gids >= 0)
    if not len(known):
        return best_dice, best_name
    # Feature id -> column of the clauses' weights (-1: no clause has it), for one gather.
    local = np.full(len(scorer._feature_id), -1, dtype=np.int64)
    local[gids[known]] = np.arange(len(known))
    weights = qm[:, known]
    # The entries of the topics' phrases in the phrase -> feature table are one range per topic.
    starts, ends = scorer._topic_phrase_start[only], scorer._topic_phrase_start[only + 1]
    counts = ends - starts
    e_lo, e_hi = scorer._topic_entry_start[only], scorer._topic_entry_start[only + 1]
    ids = np.concatenate([scorer._pf_ids[a:b] for a, b in zip(e_lo.tolist(), e_hi.tolist(), strict=True)])
    col = local[ids]
    hit = np.flatnonzero(col >= 0)
    # Back from a hit to its entry, phrase, and the phrase's place among the topics' phrases.
    e_first = np.cumsum(e_hi - e_lo) - (e_hi - e_lo)
    topic_pos = np.searchsorted(e_first, hit, side="right") - 1
    phrase = scorer._entry_phrase[e_lo[topic_pos] + hit - e_first[topic_pos]]
    phrase_of = phrase - starts[topic_pos] + (np.cumsum(counts) - counts)[topic_pos]
    phrases = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    n_ph = len(phrases)
    flat = (np.arange(c)[:, None] * n_ph + phrase_of[None, :]).ravel()
    ov = np.bincount(flat, weights[:, col[hit]].ravel(), minlength=c * n_ph).reshape(c, n_ph)
    dice = 2.0 * ov / (wq[:, None] + scorer._phrase_weight[phrases][None, :])
    name = ov * scorer._name_inv_weight[phrases][None, :]
    if counts.all():  # phrases are stored topic by topic: a per-topic maximum is one reduceat
        first = np.cumsum(counts) - counts
        return np.maximum.reduceat(dice, first, axis=1), np.maximum.reduceat(name, first, axis=1)
    topic_of = np.repeat(np.arange(t), counts)
    np.maximum.at(best_dice.T, topic_of, dice.T)  # writes through the transposed view
    np.maximum.at(best_name.T, topic_of, name.T)
    return best_dice, best_name
