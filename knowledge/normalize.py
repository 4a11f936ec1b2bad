"""Text normalisation shared by the index and the query path.

The same function is applied to topic phrases and to resident messages, so any rewrite here
(traditional -> simplified, chat-noise removal, stemming) cancels out on both sides.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import opencc
from opencc import OpenCC

# Raw characters looked at per message. Real questions are far shorter; a 20,000-character paste
# must not cost more than a normal question.
MAX_INPUT_CHARS = 160

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
# Anything that is not a CJK ideograph, latin letter or digit separates tokens (punctuation,
# emoji, symbols, whitespace).
_SEP_RE = re.compile(f"[^0-9a-z{_CJK}]+")
_TOKEN_RE = re.compile(f"[{_CJK}]+|[0-9a-z]+")

# Chat noise: greetings, politeness, question scaffolding and particles. Cut out of the Chinese
# text (longest first) and replaced by a separator, so no bigram spans the gap.
ZH_NOISE: tuple[str, ...] = tuple(sorted({
    "请问一下", "请问", "请教", "问一下", "问下", "咨询一下", "咨询", "打扰了", "打扰一下", "麻烦你",
    "麻烦您", "麻烦", "你好", "您好", "哈喽", "嗨", "喂", "谢谢你", "谢谢您", "谢谢", "多谢", "感谢",
    "在吗", "在不在", "有人吗", "小助手",
    "怎么办理", "如何办理", "怎么办", "怎么弄", "怎么搞", "咋办", "咋弄", "咋整", "咋回事", "怎么回事",
    "怎么样", "怎样", "怎么", "如何", "咋", "什么", "啥", "为什么", "为啥", "干嘛",
    "是不是", "是否", "能不能", "可不可以", "可以吗", "可以", "能否", "有没有", "要不要", "会不会",
    "需不需要", "应该", "我想", "我要", "想要", "我们", "你们", "您们", "我家", "我的", "我",
    "你", "您", "他们", "她们", "他", "她", "那个", "这个", "一下", "一些", "请", "帮我", "帮忙",
    "吗", "呢", "啊", "吧", "呀", "哦", "嘛", "哈", "啦", "了", "的", "呗", "哇", "喔", "噢", "哎",
    "唉", "嗯", "额", "呃", "在哪里", "在哪儿", "在哪", "哪里", "哪儿", "哪些", "哪个", "哪", "是",
}, key=len, reverse=True))
_ZH_NOISE_RE = re.compile("|".join(map(re.escape, ZH_NOISE)))

# English stop words plus chat noise (greetings, thanks) and question scaffolding. Negations
# (no, not, won't) are kept: "no power", "won't light" are what fault reports look like.
EN_STOP: frozenset[str] = frozenset("""
a an the and or but if of to in on at by for from with about as into onto over under than then so
is am are was were be been being do does did doing done have has had having can could will would
shall should may might must i me my mine we us our you your yours he him his she her it its they
them their this that these those there here what which who whom whose when where why how
yes ok okay please pls plz thanks thank thx hello hi hey dear sir madam hmm um uh
just also very really too some any all much many more most get got getting want wanna need needs
know tell let lets help question ask asking anyone someone somebody something anything
im ive id its s t d ll m re ve
""".split())  # noqa: SIM905 - a word list reads better as text

# Light English stemming: enough to join "meters/meter", "charged/charge", "leaking/leak".
# (suffix, replacement, shortest stem left); "-ure" joins "closure" to "close".
_EN_SUFFIXES: tuple[tuple[str, str, int], ...] = (
    ("ies", "y", 3), ("ied", "y", 3), ("ing", "", 3), ("ure", "", 4), ("ed", "", 3), ("es", "", 3),
    ("s", "", 3),
)
_EN_KEEP = frozenset({"gas", "bus", "yes", "this", "is", "was", "has", "ies", "address", "less", "access",
                      "process", "business", "glass", "pass", "class", "series", "news"})


# Colloquial synonyms folded into the word the topics use (applied to index and query alike).
ZH_SYNONYMS: dict[str, str] = {
    "煤气": "燃气", "天然气": "燃气", "弄丢": "丢", "丢失": "丢", "遗失": "丢", "购买": "买", "购气": "买气",
}
_ZH_SYNONYM_RE = re.compile("|".join(map(re.escape, sorted(ZH_SYNONYMS, key=len, reverse=True))))
EN_SYNONYMS: dict[str, str] = {"electricity": "electric", "electrical": "electric"}


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    # Built lazily (not at import) and shared: conversion tables load once per process.
    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _t2s_triggers() -> frozenset[str]:
    """Traditional characters (from OpenCC's own table): a text without any is left alone.

    Converting is slow in pure Python and most messages are already simplified. Phrase rules
    are only consulted for texts that contain a traditional character.
    """
    path = Path(opencc.__file__).resolve().parent / "dictionary" / "TSCharacters.txt"
    chars: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        if key and values.split(" ")[0] != key:
            chars.add(key)
    return frozenset(chars)


def to_simplified(text: str) -> str:
    triggers = _t2s_triggers()
    if not triggers.isdisjoint(text):
        return _t2s().convert(text)
    return text


def clean(text: str, limit: int = MAX_INPUT_CHARS) -> str:
    """NFKC (full-width -> half-width), case fold, traditional -> simplified, separators -> space."""
    text = unicodedata.normalize("NFKC", text[: limit * 2])[:limit].casefold()
    if _CJK_RE.search(text):
        text = _ZH_SYNONYM_RE.sub(lambda m: ZH_SYNONYMS[m.group(0)], to_simplified(text))
    return _SEP_RE.sub(" ", text).strip()


def en_stem(word: str) -> str:
    if len(word) <= 3 or word in _EN_KEEP:
        return word
    for suffix, repl, min_stem in _EN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            word = word[: -len(suffix)] + repl
            break
    # "charge/charged/charging", "rate/rates" -> same stem (a final e is dropped whether or not
    # a suffix was, so "rates" -> "rat" meets "rate" -> "rat")
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]
    return word


def tokenize(text: str) -> tuple[list[str], list[str]]:
    """Split cleaned text into Chinese runs (noise removed) and stemmed English content words."""
    zh_runs: list[str] = []
    en_words: list[str] = []
    for tok in _TOKEN_RE.findall(text):
        if _CJK_RE.match(tok):
            zh_runs.extend(run for run in _ZH_NOISE_RE.sub(" ", tok).split() if run)
        elif tok not in EN_STOP:
            tok = EN_SYNONYMS.get(tok, tok)
            en_words.append(tok if tok.isdigit() else en_stem(tok))
    return zh_runs, en_words


def normalize(text: str) -> str:
    """Human-readable normal form: what the matcher actually compares (for tests and logs)."""
    zh_runs, en_words = tokenize(clean(text))
    return " ".join([*zh_runs, *en_words])


# Fuzzy pinyin: merge the initials and finals that input methods and southern accents confuse
# (zh/z, ch/c, sh/s, -ng/-n), so 燃汽/燃气, 过护/过户, 交废/缴费 collapse to the same syllables.
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))


@lru_cache(maxsize=1)
def _syllables() -> dict[str, str]:
    """Toneless fuzzy pinyin of every character pypinyin knows (first reading), built once.

    A table lookup per character is ~100x cheaper than calling pypinyin per query, and reading
    characters one by one keeps index and query consistent.
    """
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[str, str] = {}
    for cp, readings in pinyin_dict.items():
        s = unicodedata.normalize("NFD", readings.split(",", 1)[0])
        s = "".join(c for c in s if not unicodedata.combining(c))
        for a, b in _FUZZY_INITIALS:
            if s.startswith(a):
                s = b + s[len(a):]
                break
        if s.endswith("ng"):
            s = s[:-1]
        table[chr(cp)] = s
    return table


def syllable(char: str) -> str:
    """Toneless, fuzzy pinyin of one CJK character (the character itself if unknown)."""
    return _syllables().get(char, char)


def pinyin(run: str) -> list[str]:
    return [syllable(c) for c in run]
