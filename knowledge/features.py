"""Features of a text: what the index stores per phrase and a question is matched on.

* ``c:`` Chinese characters and ``b:`` character bigrams — what was typed;
* ``p:`` fuzzy-pinyin syllable bigrams — what was *meant* when an input method picked a
  homophone (过护 -> 过户, 燃汽 -> 燃气, 交废 -> 缴费);
* ``w:`` stemmed English words and ``v:`` English word bigrams.

A question is also cut into units (a Chinese character, an English word), each with the features
that would explain it and how well (coverage, knowledge/scoring.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.models import LANGS, Topic
from knowledge.normalize import clean, pinyin, tokenize

# Feature type weights. Bigrams carry meaning in Chinese; single characters help colloquial
# variants (发黄/黄色, 存钱/预存) but weigh less.
# Pinyin bigrams are a bit below character bigrams so an exact spelling beats a homophone.
W_CHAR = 0.6
W_BIGRAM = 1.0
W_PINYIN = 0.8
W_WORD = 1.0
W_WORD_BIGRAM = 0.5
# English typo correction: max OSA edits by word length (a transposition is one edit).
TYPO_MAX_EDITS = ((4, 0), (8, 1), (999, 2))  # len < 4 exact, < 8 one edit, else two
TYPO_PENALTY = 0.8
TYPO_ANY_FIRST_LETTER = 8  # shorter words are only corrected to words with the same first letter
# Coverage levels: how well one query character is explained by a topic.
COVER_BIGRAM = 1.0  # part of a character bigram the topic uses
COVER_PINYIN = 0.85  # part of a homophone bigram
COVER_CHAR = 0.5  # the character alone appears in the topic

Unit = list[tuple[str, float]]  # (feature, coverage level) pairs that explain one unit


def max_edits(word: str) -> int:
    for length, edits in TYPO_MAX_EDITS:
        if len(word) < length:
            return edits
    return 0



def features(text: str) -> dict[str, float]:
    """Type-weighted features of one text (before IDF). Raw text in, so index == query path."""
    zh_runs, en_words = tokenize(clean(text))
    return run_features(zh_runs, en_words)


def run_features(zh_runs: Sequence[str], en_words: Sequence[str]) -> dict[str, float]:
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


def query_units(zh_runs: Sequence[str], words: Sequence[str], factors: dict[str, float]) -> list[Unit]:
    """The units of a question (characters / English words), each with the features that would
    explain it and how well (``factors``: weight of typo-corrected words)."""
    units: list[Unit] = []
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
    for word in words:
        units.append([("w:" + word, factors.get(word, 1.0))])
    return units


def topic_phrases(topic: Topic) -> list[tuple[str, bool]]:
    """Texts indexed for a topic, each with True for a name (title/keyword), False for a question."""
    out: list[tuple[str, bool]] = []
    for lang in LANGS:
        out.append((topic.title.get(lang), True))
        out.extend((k, True) for k in topic.keywords.get(lang))
        out.extend((q, False) for q in topic.questions.get(lang))
    return out

