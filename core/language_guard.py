"""R14 service language: catch forbidden phrases (服务忌语) in an agent's message before it is sent.

Each rule is a regular expression over a normalised copy of the text (NFKC: full-width letters and
punctuation become half-width, case folded) plus a polite alternative in the same language. Spans
are reported on the ORIGINAL text so the console can highlight them. Matching is deliberately
forgiving about punctuation and spaces inside a phrase ("你问我,我问谁" / "你问我 我问谁"), and a
few polite uses are excluded ("不知道您什么时候方便" is a courteous question, not 不知道).
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


def _zh(parts: str, suggestion: str, *, phrase: str | None = None, after: str = "") -> Rule:
    """A Chinese rule; ``parts`` separated by '|' may have punctuation/space between them."""
    chunks = [re.escape(p) for p in parts.split("|")]
    return Rule(phrase or "".join(parts.split("|")), re.compile(_GAP.join(chunks) + after), suggestion, "zh")


def _en(phrase: str, regex: str, suggestion: str) -> Rule:
    return Rule(phrase, re.compile(r"\b" + regex + r"\b", re.IGNORECASE), suggestion, "en")


# R14 list (SERVICE_RULES.md) with English equivalents. Longer phrases come first so that
# "这不是我的事情" is reported once, not again as a shorter overlapping phrase.
RULES: tuple[Rule, ...] = (
    _zh("你问我|我问谁", "这个问题我马上帮您核实，稍后给您准确答复。", phrase="你问我，我问谁"),
    _zh("该下班了|你快点", "您别着急，慢慢说，我一定帮您办完。", phrase="该下班了，你快点"),
    _zh("没上班|等会儿再说", "现在是非工作时间，我先为您登记，同事上班后第一时间联系您。", phrase="没上班，等会儿再说"),
    _zh("这不是我的事情", "这件事由我负责跟进，我来帮您联系相关同事处理（首问负责）。"),
    _zh("不是我的事", "这件事由我负责跟进，我来帮您联系相关同事处理（首问负责）。", after="(?!情)"),
    _zh("不归我管", "这件事由我负责跟进，我来帮您联系相关同事处理（首问负责）。"),
    _zh("这是领导定的", "这是公司的规定，我向您解释一下原因和依据。"),
    _zh("你去找领导吧", "如果您对处理结果不满意，我可以为您登记并向上反映，由我跟进到底。",
        phrase="你去找领导吧 / 你去投诉吧"),
    _zh("你去投诉吧", "如果您对处理结果不满意，我可以为您登记并向上反映，由我跟进到底。",
        phrase="你去找领导吧 / 你去投诉吧"),
    _zh("我们也没有办法", "我们一起想办法，我先为您……"),
    _zh("这事解决不了", "这件事需要进一步协调，我会在约定时间内给您答复。"),
    _zh("我就这个态度", "非常抱歉给您带来不好的感受，我会认真为您处理。"),
    _zh("你懂不懂", "我再为您详细解释一遍。"),
    _zh("喂|喂", "您好，请问有什么可以帮您？", phrase="喂喂"),
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


def normalise(text: str) -> str:
    """NFKC + casefold, one character in, one character out (so spans map back to the original)."""
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch).casefold()
        out.append(n if len(n) == 1 else ch)
    return "".join(out)


def check(text: str) -> list[Hit]:
    """Every forbidden phrase in ``text``, in order of appearance; overlapping shorter hits are dropped."""
    if not text:
        return []
    norm = normalise(text)
    hits: list[Hit] = []
    for rule in RULES:
        for m in rule.pattern.finditer(norm):
            if any(h.start <= m.start() < h.end or m.start() <= h.start < m.end() for h in hits):
                continue
            hits.append(Hit(rule.phrase, m.start(), m.end(), text[m.start():m.end()], rule.suggestion, rule.lang))
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
