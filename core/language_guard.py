"""R14 service language: catch forbidden phrases (服务忌语) in an agent's message before it is sent.

Each rule is a regular expression over a normalised copy of the text (NFKC: full-width letters and
punctuation become half-width, case folded, traditional characters simplified; for Chinese, spaces taken
out) plus a polite alternative in the same language. Spans are reported on the ORIGINAL text so the console
can highlight them. Matching is deliberately forgiving about punctuation, spaces and small insertions inside
a phrase ("你问我,我问谁" / "你问我 那我问谁" / "这事我解决不了"), and a few polite uses are excluded
("不知道您什么时候方便" is a courteous question, not 不知道). ``require_polite`` is the gate every
staff → resident text passes through in core/ (R14 on every surface).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Punctuation/space allowed between the parts of a phrase.
_GAP = r"[\s,.;:!?~、。，；：！？…—\-]*"


@dataclass(frozen=True)
class Rule:
    phrase: str  # the forbidden phrase as listed (shown to the agent)
    pattern: re.Pattern[str]
    suggestion: str  # polite alternative, same language as the phrase
    lang: str  # "zh" | "en"


@dataclass(frozen=True)
class Hit:
    phrase: str
    start: int  # span in the original text
    end: int
    matched: str  # the original text that matched
    suggestion: str
    lang: str


def _zh(parts: str, suggestion: str, *, phrase: str | None = None, after: str = "", slack: int = 0) -> Rule:
    """A Chinese rule; ``parts`` separated by '|' may have punctuation/space between them, and up to ``slack``
    other characters (the small insertions of everyday speech: 你去找领导 → 你自己去找领导)."""
    chunks = [re.escape(p) for p in parts.split("|")]
    joint = _GAP if not slack else f"{_GAP}[^\\n]{{0,{slack}}}?{_GAP}"
    return Rule(phrase or "".join(parts.split("|")), re.compile(joint.join(chunks) + after), suggestion, "zh")


def _zx(phrase: str, regex: str, suggestion: str) -> Rule:
    """A Chinese rule written as a regular expression over the normalised (simplified) text."""
    return Rule(phrase, re.compile(regex), suggestion, "zh")


def _en(phrase: str, regex: str, suggestion: str) -> Rule:
    return Rule(phrase, re.compile(r"\b" + regex + r"\b", re.IGNORECASE), suggestion, "en")


_NOT_MINE = "这件事由我负责跟进，我来帮您联系相关同事处理（首问负责）。"
_ESCALATE = "如果您对处理结果不满意，我可以为您登记并向上反映，由我跟进到底。"
_PUNCT = r"\s,.;:!?~、。，；：！？…—\-"

# R14 list (SERVICE_RULES.md) with English equivalents. Longer phrases come first so that
# "这不是我的事情" is reported once, not again as a shorter overlapping phrase. Each rule also catches the
# common spoken variants (extra 也/真/自己, dropped 有/吧, 这事 → 这个问题); tests/core/test_language_guard.py
# lists them.
RULES: tuple[Rule, ...] = (
    _zh("你问我|我问谁", "这个问题我马上帮您核实，稍后给您准确答复。", phrase="你问我，我问谁", slack=2),
    _zh("该下班了|快点", "您别着急，慢慢说，我一定帮您办完。", phrase="该下班了，你快点", slack=4),
    _zh("没上班|等|再说", "现在是非工作时间，我先为您登记，同事上班后第一时间联系您。", phrase="没上班，等会儿再说",
        slack=3),
    _zh("这不是我的事情", _NOT_MINE),
    _zh("不是我的事", _NOT_MINE, after="(?!情)"),
    _zh("不关我|事", _NOT_MINE, phrase="这不是我的事情", slack=2),
    _zh("不归我管", _NOT_MINE),
    _zh("这|是|领导|定的", "这是公司的规定，我向您解释一下原因和依据。", phrase="这是领导定的", slack=2),
    _zh("你|找|领导", _ESCALATE, phrase="你去找领导吧 / 你去投诉吧", slack=3),
    _zh("你|投诉", _ESCALATE, phrase="你去找领导吧 / 你去投诉吧", slack=3),
    # The polite pronoun does not make buck-passing polite (R14): 您去找领导吧, 您自己去投诉吧. "您的投诉…"
    # (accepting a complaint) stays allowed, so 投诉 needs the 去 of sending the resident away.
    _zx("你去找领导吧 / 你去投诉吧", r"您[^\n。！？]{0,3}?找[^\n。！？]{0,3}?领导|您[^\n。！？]{0,3}?去投诉",
        _ESCALATE),
    _zx("我们也没有办法", r"(?:我们|我)(?:也|都|真的?|实在|确实){0,2}没(?:有)?(?:什么|任何)?(?:办法|法子)",
        "我们一起想办法，我先为您……"),
    _zx("这事解决不了", rf"(?:这[^{_PUNCT}]{{0,5}}?[{_PUNCT}]*|(?:我们|我)(?:也|都|真的?|实在)?)解决不了",
        "这件事需要进一步协调，我会在约定时间内给您答复。"),
    _zx("我就这个态度", r"我就(?:是)?(?:这|这个|这种|这样的)态度", "非常抱歉给您带来不好的感受，我会认真为您处理。"),
    _zx("你懂不懂", r"你(?:到底|究竟|还)?懂不懂", "我再为您详细解释一遍。"),
    _zh("喂|喂", "您好，请问有什么可以帮您？", phrase="喂喂"),
    # "我不知道您说的是什么" is an answer, not a polite question, although 您 follows 不知道.
    _zx("不知道", r"(?:我也|我们也|我|我们)?(?:都|根本|真)?不知道(?:你|您)(?:在)?(?:说|讲)(?:的)?(?:是|些)?(?:什么|啥)",
        "不好意思，我没有完全理解，请您再说一下好吗？"),
    # 不知道 is forbidden as an answer; "不知道您/是否/能否…" opens a polite question and is fine.
    Rule("不知道", re.compile(r"(?:我也|我们也|我|我们)?不知道(?!您|是否|能否|可否|方便)"),
         "请您稍等，我马上为您查询核实。", "zh"),
    Rule("随便", re.compile(r"随便(?:你|您)?(?:吧|啦)?"), "您可以根据自己的情况选择，我为您介绍一下各个选项。", "zh"),
    _en("I don't know", r"(?:i|we)\s+(?:don'?t|do\s+not)\s+know",
        "Let me check that for you right away."),
    _en("whatever", r"whatever", "Let me explain the options so you can choose what suits you best."),
    _en("not my job", r"(?:not|isn'?t)\s+my\s+(?:job|problem|business|department|responsibility)",
        "I will take care of this and follow it up for you."),
    _en("ask someone else", r"ask\s+(?:someone|somebody)\s+else",
        "I will find the right colleague and follow it up for you."),
    _en("go and complain", r"go\s+(?:and\s+)?(?:complain|see\s+(?:my|the)\s+(?:boss|manager))",
        "If you are not satisfied, I can register it and pass it on, and I will follow it up."),
    _en("nothing we can do", r"nothing\s+(?:we|i)\s+can\s+do",
        "Let us see what we can do; first I will ..."),
    _en("can't be solved", r"(?:can'?t|cannot)\s+be\s+(?:solved|fixed|done)",
        "This needs more coordination; I will get back to you by the agreed time."),
    _en("hurry up", r"hurry\s+up", "Take your time; I will make sure this gets done."),
    _en("the boss decided", r"(?:the\s+)?(?:boss|leadership|management)\s+decided",
        "This is the company's rule; let me explain why."),
    _en("don't you understand", r"(?:don'?t|do)\s+you\s+(?:not\s+)?understand",
        "Let me explain that again in more detail."),
    _en("call back later", r"(?:call|come)\s+back\s+later",
        "We are closed now; I will register this and a colleague will contact you first thing."),
)


# Traditional → simplified for the characters of the phrases above (one character each, so spans still map
# back to the original): a message typed with a traditional input method is held to the same list.
_TRADITIONAL = str.maketrans(
    "說們領導決問誰這沒辦會態訴該點隨麼歸個兒關種樣實確與裡對講啥懂嗎給幫謝請為當",
    "说们领导决问谁这没办会态诉该点随么归个儿关种样实确与里对讲啥懂吗给帮谢请为当",
)


def normalise(text: str) -> str:
    """NFKC + casefold + traditional→simplified, one character in, one character out (so spans map back)."""
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch).casefold()
        out.append(n if len(n) == 1 else ch)
    return "".join(out).translate(_TRADITIONAL)


def check(text: str) -> list[Hit]:
    """Every forbidden phrase in ``text``, in order of appearance; overlapping shorter hits are dropped."""
    if not text:
        return []
    norm = normalise(text)
    # Chinese has no spaces between words, so "你 去 投 诉 吧" is matched with its spaces taken out;
    # ``where`` maps each kept character back to its index in the original.
    where = [i for i, ch in enumerate(norm) if not ch.isspace()]
    packed = "".join(norm[i] for i in where)
    hits: list[Hit] = []
    for rule in RULES:
        zh = rule.lang == "zh"
        for m in rule.pattern.finditer(packed if zh else norm):
            if m.end() == m.start():
                continue
            start, end = (where[m.start()], where[m.end() - 1] + 1) if zh else (m.start(), m.end())
            if any(h.start <= start < h.end or start <= h.start < end for h in hits):
                continue
            hits.append(Hit(rule.phrase, start, end, text[start:end], rule.suggestion, rule.lang))
    return sorted(hits, key=lambda h: h.start)


def polite_version(text: str) -> str:
    """``text`` with every forbidden phrase replaced by its polite alternative (a starting point to edit)."""
    hits = check(text)
    out, pos = [], 0
    for h in hits:
        out.append(text[pos:h.start])
        out.append(h.suggestion)
        pos = h.end
    out.append(text[pos:])
    return "".join(out)


class ForbiddenPhrase(ValueError):
    """R14: a text bound for a resident contains a forbidden phrase; says which and offers a polite version."""

    def __init__(self, hits: list[Hit], text: str, what: str) -> None:
        self.hits = hits
        self.suggestion = polite_version(text)
        phrases = "、".join(dict.fromkeys(f"「{h.matched}」" for h in hits))
        super().__init__(f"R14: the {what} contains a forbidden phrase (服务忌语) {phrases}; please reword it, "
                         f"e.g.: {self.suggestion}")


def require_polite(text: str | None, *, what: str = "message") -> None:
    """R14: raise ForbiddenPhrase when ``text`` (staff → resident) contains a forbidden phrase."""
    if text and (hits := check(text)):
        raise ForbiddenPhrase(hits, text, what)
