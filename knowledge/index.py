"""The matcher's index over a catalogue, built once, and the query side of it.

Every title, question and keyword of every topic, in both languages, is turned into features
(knowledge/features.py). A feature weighs its type weight x IDF over topics, so words that name
one business (过户, transfer) count far more than words every topic shares (燃气, gas). Stored:
topic and phrase postings per feature, each phrase's weight, a phrase -> feature table, the
utility cues learnt from the topics, and the English vocabulary for typo correction.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from knowledge.catalogue import Catalogue
from knowledge.features import (
    TYPO_ANY_FIRST_LETTER,
    TYPO_PENALTY,
    Unit,
    body_features,
    features,
    max_edits,
    query_units,
    run_features,
    topic_body,
    topic_phrases,
)
from knowledge.models import Topic, Utility
from knowledge.normalize import EN_SYNONYMS, MAX_INPUT_CHARS, clean, en_stem, tokenize

# A feature never seen in any topic weighs like one seen in this share of topics: unknown words
# must pull coverage down (off-topic), but not so hard that one chatty word sinks a question.
UNKNOWN_DF_SHARE = 0.02
# A feature is a utility cue (gas / water / power) when at least UTILITY_CUE_SHARE of the
# non-general topics using it belong to one utility and it appears in at least
# UTILITY_CUE_SPREAD of that utility's topics (knowledge/scoring.py scales the other utilities).
UTILITY_CUE_SHARE = 0.7
UTILITY_CUE_SPREAD = 0.4
# An unknown English word sharing its first PREFIX_MIN letters, and PREFIX_SHARE of the shorter
# word, with an index word is read as another form of it.
PREFIX_MIN = 5
PREFIX_SHARE = 0.75


class TopicIndex:
    """Postings, IDF and cues of a catalogue; read-only once built (thread-safe)."""

    def __init__(self, catalogue: Catalogue | Iterable[Topic], *,
                 max_input_chars: int = MAX_INPUT_CHARS, extra: Iterable[tuple[str, str]] = ()) -> None:
        """``extra``: (slug, question) paraphrases learnt from residents (console), indexed like the
        topic's own sample questions; unknown slugs are ignored."""
        topics = list(catalogue)
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
        for topic_set in topic_feats:
            for f in topic_set:
                df[f] += 1
        self._idf: dict[str, float] = {f: self._idf_of(d) for f, d in df.items()}
        self._unknown_idf = self._idf_of(max(1.0, UNKNOWN_DF_SHARE * n))

        t_post: dict[str, list[int]] = defaultdict(list)
        for ti, topic_set in enumerate(topic_feats):
            for f in topic_set:
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
        # Topic t's entries of that table are [entry_start[t], entry_start[t+1]); entry -> phrase.
        self._topic_entry_start = self._pf_indptr[self._topic_phrase_start]
        self._entry_phrase = np.repeat(np.arange(len(phrase_feats), dtype=np.int32), np.diff(self._pf_indptr))
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
        # One-character names of a utility (水, 气, 电): the character of at least half of one
        # utility's cue words (水表, 水费, 用水…) and of no other utility's. In a question it cues
        # the utility unless it is part of a word only other utilities' topics use (热水器 is gas):
        # "水能先停掉吗", "电老是跳" name theirs.
        self._char_cue: dict[str, str] = {}
        cue_words: dict[str, list[str]] = defaultdict(list)
        for f, u in self._cue.items():
            if f[0] == "b":
                cue_words[u].append(f[2:])
        for u, own in cue_words.items():
            for ch in set("".join(own)):
                others = any(ch in w for v, ws in cue_words.items() if v != u for w in ws)
                if not others and 2 * sum(ch in w for w in own) >= len(own):
                    self._char_cue["c:" + ch] = u
        # Utilities with a cue in this catalogue: only their topics can miss being named.
        self._cued_utilities = sorted(set(self._cue.values()))

        # The topics' answer texts: words residents echo from them give the `body` signal
        # (scoring.py). Kept apart from the names and questions: they are not coverage.
        b_post: dict[str, list[int]] = defaultdict(list)
        for ti, topic in enumerate(topics):
            for f in body_features(topic_body(topic)):
                b_post[f].append(ti)
        self._body_idf = {f: self._idf_of(len(v)) for f, v in b_post.items()}
        self._topic_post.update({"B:" + f: np.asarray(v, dtype=np.int32) for f, v in b_post.items()})

        words = {f[2:] for f in df if f.startswith("w:")}
        # A misspelt synonym ("electrcity") is corrected to the synonym, then folded ("electric").
        self._fold = {en_stem(k): en_stem(v) for k, v in EN_SYNONYMS.items()
                      if en_stem(v) in words and en_stem(k) not in words}
        self._vocab = sorted(words | set(self._fold))
        self._vocab_set = frozenset(words)
        self._correct = lru_cache(maxsize=4096)(self._correct_uncached)

    def _idf_of(self, df: float) -> float:
        return math.log(1.0 + (self._n_topics - df + 0.5) / (df + 0.5))

    # --- query path ------------------------------------------------------------------------------

    def _correct_uncached(self, word: str) -> tuple[str, float] | None:
        """Closest index word to an unknown English word, with a weight factor, or None."""
        if not self._vocab or word.isdigit():
            return None
        edits = max_edits(word)
        if not edits:
            return self._correct_short(word)
        hit = process.extractOne(word, self._vocab, scorer=OSA.distance, score_cutoff=edits)
        if hit is None:
            return self._correct_prefix(word)
        # A short word with another first letter is more often a different real word than a
        # typo ("hold" is not "cold", "see" is not "fee"): people rarely mistype the first letter.
        if hit[0][0] != word[0] and len(word) < TYPO_ANY_FIRST_LETTER:
            return None
        return self._fold.get(hit[0], hit[0]), TYPO_PENALTY ** hit[1]

    def _correct_prefix(self, word: str) -> tuple[str, float] | None:
        """Another form of an index word, by a long shared beginning that the light stemmer did
        not join ("accurat"/"accuracy", "interruption"/"interrupt", "electrician"/"electric")."""
        best: tuple[int, str] | None = None
        tie = False
        for w in self._vocab:
            n = min(len(w), len(word))
            if n < PREFIX_MIN or w[:PREFIX_MIN] != word[:PREFIX_MIN]:
                continue
            k = PREFIX_MIN
            while k < n and w[k] == word[k]:
                k += 1
            if k < PREFIX_SHARE * n:
                continue
            if best is None or k > best[0]:
                best, tie = (k, w), False
            elif k == best[0] and w != best[1]:
                tie = True
        if best is None or tie:
            return None
        return self._fold.get(best[1], best[1]), TYPO_PENALTY

    def _correct_short(self, word: str) -> tuple[str, float] | None:
        """A three-letter word missing one inner letter of a four-letter index word ("lek" ->
        "leak", "opn" -> "open"). First and last letters must agree: "car" is not "card"."""
        if len(word) != 3:
            return None
        hits = {w for w in self._vocab if len(w) == 4 and w[0] == word[0] and w[3] == word[2]
                and word[1] in w[1:3]}
        if len(hits) != 1:  # ambiguous ("pt" -> pit / pot?) or nothing: leave it unknown
            return None
        (hit,) = hits
        return self._fold.get(hit, hit), TYPO_PENALTY

    def _words(self, en_words: list[str]) -> list[str]:
        """Join two words the index knows as one ("pre pay" -> prepay) and split one it does not
        know into two it does ("waterbill" -> water bill)."""
        out: list[str] = []
        i = 0
        known = self._vocab_set
        while i < len(en_words):
            word = en_words[i]
            if i + 1 < len(en_words) and (word not in known or en_words[i + 1] not in known):
                joined = en_stem(word + en_words[i + 1])
                if joined in known:
                    out.append(joined)
                    i += 2
                    continue
            if word not in known and len(word) >= 6:
                for cut in range(3, len(word) - 2):
                    head, tail = word[:cut], en_stem(word[cut:])
                    if head in known and tail in known:
                        out += [head, tail]
                        break
                else:
                    out.append(word)
            else:
                out.append(word)
            i += 1
        return out

    def _query(self, text: str) -> tuple[dict[str, float], list[Unit]]:
        """IDF-weighted features of a question, and its units (characters / English words),
        each with the features that would explain it and how well."""
        zh_runs, en_words = tokenize(clean(text, self._max_input))
        factors: dict[str, float] = {}
        fixed: list[str] = []
        for word in self._words(en_words) if en_words else en_words:
            hit = None if word in self._vocab_set else self._correct(word)
            fixed.append(word if hit is None else hit[0])
            if hit is not None:
                factors[hit[0]] = min(factors.get(hit[0], 1.0), hit[1])
        feats: dict[str, float] = {}
        for f, w in run_features(zh_runs, fixed).items():
            if f.startswith("w:"):
                w *= factors.get(f[2:], 1.0)
            feats[f] = w * self._idf.get(f, self._unknown_idf)
        return feats, query_units(zh_runs, fixed, factors)

    def query_cues(self, q: dict[str, float], units: list[Unit]) -> set[str]:
        """The utilities a question (features ``q``, ``units`` from `_query`) names: a cue word
        of one utility (燃气, 水费, water), or a one-character name standing alone."""
        cues = {u for f in q if (u := self._cue.get(f)) is not None and not self._in_other_utility_phrase(f, u, q)}
        for unit in units:
            cue = self._char_cue.get(unit[0][0]) if self._char_cue else None
            # Only the written words count against it, not their pinyin: 有气 (gas, 莫得气) sounds
            # like the 有气 of 有气味 (a water-quality smell), but 气 still names gas.
            if cue is not None and not any(f[0] == "b" and self._other_utility_word(f, cue) for f, _ in unit[1:]):
                cues.add(cue)
        return cues

    def _in_other_utility_phrase(self, f: str, utility: str, q: dict[str, float]) -> bool:
        """English cue word ``f`` sits in a two-word term of the question that several topics of
        other utilities use, and none of its own: the "water" of "water heater" (a gas appliance)
        names no utility, as the 水 of 热水器 does not. (Several topics: a chance adjacency in one
        sample question — "…water heater keeps…" gives "water keep" — is not a term.)"""
        if f[0] != "w":
            return False
        word = f[2:]
        return any(g[0] == "v" and word in g[2:].split(" ") and len(self._topic_post.get(g, ())) > 1
                   and self._other_utility_word(g, utility) for g in q)

    def _other_utility_word(self, f: str, utility: str) -> bool:
        """Feature ``f`` is used by topics of some utility, never by ``utility``'s."""
        tp = self._topic_post.get(f)
        if tp is None:
            return False
        utils = self._utility[tp]
        utils = utils[utils != Utility.general.value]
        return bool(len(utils)) and not bool((utils == utility).any())

    def query_features(self, text: str) -> dict[str, float]:
        """IDF-weighted features of a question (English typos mapped onto known words)."""
        return self._query(text)[0]
