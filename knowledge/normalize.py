"""Text normalisation shared by the index and the query path.

The same function is applied to topic phrases and to resident messages, so any rewrite here
(traditional -> simplified, chat-noise removal, stemming) cancels out on both sides.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import opencc  # type: ignore[import-untyped, unused-ignore]
from opencc import OpenCC  # type: ignore[import-untyped, unused-ignore]
from pypinyin.pinyin_dict import pinyin_dict

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
    # Dialect question words and pronouns (issue 14: 咋个, 啥子, 俺, 咱), and the fillers of a
    # told story (刚才, 听说, 到底...): none is part of a topic's words.
    "咋个", "啷个", "哪点", "咋样", "啥子", "俺们", "俺", "咱们", "咱", "晓得", "撒", "噻", "一下子", "就是", "已经",
    "刚才", "刚刚", "总是", "老是", "到底", "具体", "大概", "好像", "觉得", "不知道", "知道", "听说",
    "然后", "而且", "其实", "反正", "那么", "这样", "那样", "这些", "那些", "有点",
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
asap thnx thnks tks ty u ur r sb sth wat wht pl pls plse plz kindly urgent urgently
because since every through another anyway said say says yesterday again already still yet even
ever ago though although while until till maybe perhaps actually basically literally seriously
probably anyone everyone everything thing things stuff lot lots bit guys
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
    # Dialect words and variant characters (issue 14).
    "屋头": "家", "屋里头": "家", "莫得": "没有", "整丢": "丢", "搞丢": "丢", "帐": "账",
    "坏球": "坏",
    # A head count, as the tiered-water topic says it (not 人头 alone: 人头晕 is someone feeling dizzy).
    "按人头": "按人口", "算人头": "算人口", "点人头": "点人口", "人头数": "人口数", "几个人头": "几个人口",
}
_ZH_SYNONYM_RE = re.compile("|".join(map(re.escape, sorted(ZH_SYNONYMS, key=len, reverse=True))))
EN_SYNONYMS: dict[str, str] = {
    "electricity": "electric", "electrical": "electric",
    # Chat abbreviations residents type (issue 14): folded before stop words and typo correction.
    "wtr": "water", "watr": "water", "h2o": "water", "elec": "electric", "elect": "electric", "pwr": "power",
    "acct": "account", "acc": "account", "accnt": "account", "a/c": "account", "bil": "bill", "mtr": "meter",
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmw": "tomorrow", "appt": "appointment", "connxn": "connection",
    "info": "information", "addr": "address", "hrs": "hours", "hr": "hour", "tel": "phone", "ph": "phone",
    "pymt": "payment", "pmt": "payment", "ppl": "people", "b4": "before", "bak": "back", "bcz": "because",
    "cuz": "because", "bc": "because", "msg": "message", "govt": "government", "recon": "reconnect",
    # Everyday words for what the topics name otherwise (both sides fold, so IDF stays honest).
    "apartment": "flat", "apartments": "flat", "condo": "flat", "faucet": "tap", "faucets": "tap",
    "odour": "smell", "odor": "smell", "stink": "smell", "stinks": "smell", "smelly": "smell",
    "helpline": "hotline", "telephone": "phone", "cellphone": "phone", "landlord": "owner",
    "renter": "tenant", "renters": "tenant", "mum": "parent", "mom": "parent", "mother": "parent",
    "dad": "parent", "father": "parent", "parents": "parent", "grandma": "relative", "granny": "relative",
    "grandmother": "relative", "grandpa": "relative", "grandfather": "relative", "wife": "relative",
    "husband": "relative", "spouse": "relative", "relatives": "relative",
    # A small utility thesaurus: residents' words folded into one word per meaning, and nouns of
    # action into their verb ("inspection/inspector/inspect", "payment/pay").
    "faulty": "broken", "defective": "broken", "busted": "broken", "damaged": "broken", "damage": "broken",
    "fix": "repair", "fixed": "repair", "fixing": "repair", "fixes": "repair", "mend": "repair",
    "repairs": "repair", "repairman": "technician", "engineer": "technician", "serviceman": "technician",
    "installer": "technician", "fitter": "technician", "employee": "staff", "worker": "staff",
    "cooker": "stove", "cookers": "stove", "hob": "stove", "burner": "stove", "furnace": "boiler",
    "geyser": "heater", "gauge": "meter", "fume": "smell", "fumes": "smell",
    "rusty": "brown", "muddy": "brown", "murky": "brown", "discolored": "brown", "discoloured": "brown",
    "misplaced": "lost", "missing": "lost", "relocate": "move", "relocated": "move", "relocation": "move",
    "reroute": "move", "shift": "move", "uninstall": "remove", "statement": "bill", "pricey": "expensive",
    "impolite": "rude", "unprofessional": "rude", "disrespectful": "rude", "senior": "elderly",
    "pensioner": "elderly", "handicapped": "disabled", "wheelchair": "disabled", "docs": "documents",
    "papers": "documents", "hookup": "connect", "hook": "connect",
    "connection": "connect", "connections": "connect", "reconnection": "reconnect",
    "disconnection": "disconnect", "inspection": "inspect", "inspections": "inspect", "inspector": "inspect",
    "inspectors": "inspect", "installation": "install", "suspension": "suspend", "application": "apply",
    "applications": "apply", "applicant": "apply", "request": "apply", "payment": "pay", "payments": "pay",
    "prepayment": "prepay", "prepaid": "prepay", "replacement": "replace", "adjustment": "adjust",
    "complaint": "complain", "complaints": "complain", "modification": "modify", "correction": "correct",
    "registration": "register", "cancellation": "cancel", "restoration": "restore",
    # Water escaping: how residents describe a leak the topics call burst / gushing / in the street.
    "cracked": "burst", "bubbling": "gushing", "spraying": "gushing", "spurting": "gushing",
    "pavement": "street", "sidewalk": "street",
    # Things floating in the water: the quality topic calls them sediment ("bits" is too common a word).
    "particles": "sediment", "specks": "sediment", "flakes": "sediment",
}


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
        converted: str = _t2s().convert(text)
        return converted
    return text


# Numbers with units (issue 14): the amount itself says nothing about the topic, its unit does —
# a volume points at tariffs / meter readings, money at bills and payments, months at arrears.
# The number is dropped and the unit kept in the form the topics use ("一吨水", "立方", "m3").
_UNITS: tuple[tuple[str, str], ...] = (
    (r"立方米|立方|方|吨|m3|cubic met(?:er|re)s?|cbm|tonnes?|tons?", "vol"),
    (r"元|块钱|块|yuan|rmb|cny", "money"),
    (r"个月|月|months?|mths?", "month"),
    (r"口人|个人|人|people|persons?", "people"),
    (r"度电|度|kwh", "kwh"),
)
_UNIT_RE = re.compile(r"(?<![a-z])\d+(?:\.\d+)?\s*(" + "|".join(f"(?P<{k}>{p})" for p, k in _UNITS) + r")(?![a-z])")
_UNIT_WORD = {"vol": ("立方", "m3"), "money": ("钱", "cost"), "month": ("个月", "months"),
              "people": ("口人", "people"), "kwh": ("度电", "kwh")}


def _unit(m: re.Match[str]) -> str:
    kind = next(k for k, v in m.groupdict().items() if v is not None)
    zh, en = _UNIT_WORD[kind]
    # A Chinese unit stays part of its phrase ("存1000块进去" -> 存钱进去: the bigram 存钱 is
    # the evidence); an English one is a word of its own.
    return zh if _CJK_RE.match(m.group(1)) else f" {en} "


_NEGATION_RE = re.compile(r"(?:\b(wo|ca|sha))?n't\b")
_NEGATION_BASE = {"wo": "will", "ca": "can", "sha": "shall"}


def _negation(m: re.Match[str]) -> str:
    base = m.group(1)
    return f"{_NEGATION_BASE[base]} not" if base else " not"


def clean(text: str, limit: int = MAX_INPUT_CHARS) -> str:
    """NFKC (full-width -> half-width), case fold, traditional -> simplified, separators -> space."""
    text = unicodedata.normalize("NFKC", text[: limit * 2])[:limit].casefold()
    if "'" in text or "’" in text:
        # "won't heat", "doesn't work": the negation is kept as "not", not as the word "won".
        text = _NEGATION_RE.sub(_negation, text.replace("’", "'"))
    if any(c.isdigit() for c in text):
        text = _UNIT_RE.sub(_unit, text)
    if _CJK_RE.search(text):
        text = _ZH_SYNONYM_RE.sub(lambda m: ZH_SYNONYMS[m.group(0)], to_simplified(text))
    return _SEP_RE.sub(" ", text).strip()


# Irregular forms residents use in place of the base form the topics use ("paid my bill", "the
# card is broken", "bought a flat") and British / American spellings: folded before stemming.
EN_IRREGULAR: dict[str, str] = {
    "paid": "pay", "bought": "buy", "sold": "sell", "broke": "break", "broken": "break",
    "went": "go", "gone": "go", "came": "come", "took": "take", "taken": "take", "gave": "give",
    "given": "give", "left": "leave", "stole": "steal", "stolen": "steal", "froze": "freeze",
    "frozen": "freeze", "burnt": "burn", "ran": "run", "spent": "spend", "built": "build",
    "told": "tell", "sent": "send", "lit": "light", "fell": "fall", "fallen": "fall", "hung": "hang",
    "colour": "color", "odour": "odor", "neighbour": "neighbor", "favour": "favor", "behaviour": "behavior",
    "labour": "labor", "metre": "meter", "metres": "meter", "centre": "center", "litre": "liter",
    "litres": "liter", "licence": "license", "cheque": "check", "programme": "program",
    "cancelled": "cancel", "cancelling": "cancel", "travelled": "travel", "travelling": "travel",
    "newly": "new", "higher": "high", "highest": "high", "larger": "large", "bigger": "big",
    "lower": "low", "cheaper": "cheap", "longer": "long", "later": "late", "earlier": "early",
}
_DOUBLE_KEEP = frozenset("lsz")  # fill, pass, buzz: a real double letter, not one doubled by -ing/-ed


def en_stem(word: str) -> str:
    word = EN_IRREGULAR.get(word, word)
    if len(word) <= 3 or word in _EN_KEEP:
        return word
    for suffix, repl, min_stem in _EN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            word = word[: -len(suffix)] + repl
            # "running/run", "stopped/stop", "snapped/snap": undo the doubled final consonant.
            if (suffix in ("ing", "ed") and len(word) >= 4 and word[-1] == word[-2]
                    and word[-1] not in _DOUBLE_KEEP and word[-1] not in "aeiou"):
                word = word[:-1]
            break
    else:
        # "-ly" adverbs meet their adjective ("suddenly/sudden", "temporarily/temporary"); short
        # stems are left alone ("apply", "supply", "family" are not adverbs).
        if word.endswith("ily") and len(word) >= 7:
            word = word[:-3] + "y"
        elif word.endswith("ly") and len(word) >= 7 and not word.endswith("ply"):
            word = word[:-2]
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
        elif tok.isdigit():
            continue  # a bare number (house number, reading, amount) names no topic
        else:
            tok = EN_SYNONYMS.get(tok, tok)
            if tok not in EN_STOP:
                en_words.append(en_stem(tok))
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
    table = _syllables()
    return [table.get(c, c) for c in run]
