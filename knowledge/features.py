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

from knowledge.models import LANGS, Text, Topic
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
# A unit explained at this level or better is a word some topic uses (a bigram, a homophone, a
# corrected typo) rather than a lone character or a word of an answer text.
KNOWN_LEVEL = 0.6

Unit = list[tuple[str, float]]  # (feature, coverage level) pairs that explain one unit

# The commonest Chinese function characters (particles, pronouns, auxiliaries, common verbs of
# motion and giving): they form bigrams like any other character, but weigh this much as a unit
# of coverage, so the words that carry the request count for more.
FUNCTION_CHARS = frozenset("的一了是不在有这那个我你他她它们来去到说就也都还要会能想得着把被给让很太更最又再才刚已"
                           "从对跟和与或向往里上下中多少几些么啥什吧呢吗啊呀")
FUNCTION_WEIGHT = 0.35


def unit_weight(unit: Unit) -> float:
    f = unit[0][0]
    return FUNCTION_WEIGHT if f[0] == "c" and f[2:] in FUNCTION_CHARS else 1.0


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
        pairs = [(("b:" + run[j: j + 2], COVER_BIGRAM), (f"p:{syl[j]}|{syl[j + 1]}", COVER_PINYIN))
                 for j in range(len(run) - 1)]
        last = len(run) - 1
        for i, ch in enumerate(run):
            unit = [("c:" + ch, COVER_CHAR)]
            if i:
                unit += pairs[i - 1]
            if i < last:
                unit += pairs[i]
            units.append(unit)
    for word in words:
        units.append([("w:" + word, factors.get(word, 1.0))])
    return units


def body_features(texts: Sequence[str]) -> set[str]:
    """Word-level features (character bigrams, English words) of a topic's answer text."""
    out: set[str] = set()
    for text in texts:
        zh_runs, en_words = tokenize(clean(text, len(text)))
        for run in zh_runs:
            out.update("b:" + run[i: i + 2] for i in range(len(run) - 1))
        out.update("w:" + w for w in en_words)
    return out


def topic_body(topic: Topic) -> list[str]:
    """The answer a topic gives (summary, notice, body, safety), both languages: the words the
    company uses for the business, which residents echo more often than the sample questions."""
    texts: list[Text] = [topic.summary, *topic.body, *topic.safety]
    docs: list[str] = []
    if topic.notice is not None:
        n = topic.notice
        texts += [n.basis, n.time_limit, *n.steps, *n.rectify, *n.not_accepted, n.fees, n.where]
        for d in n.documents:
            docs += [d.zh, d.en] + ([d.when.zh, d.when.en] if d.when else [])
    return [t.get(lang) for t in texts for lang in LANGS] + docs


def topic_phrases(topic: Topic) -> list[tuple[str, bool]]:
    """Texts indexed for a topic, each with True for a name (title/keyword), False for a question."""
    out: list[tuple[str, bool]] = []
    for lang in LANGS:
        out.append((topic.title.get(lang), True))
        out.extend((k, True) for k in topic.keywords.get(lang))
        out.extend((q, False) for q in topic.questions.get(lang))
    return out

