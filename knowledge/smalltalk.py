"""Small talk: a message that is only a greeting, thanks, a goodbye, an "ok" or a question about the bot.

It asks about no topic, so the matcher offers none ("good morning" was once offered gas account closure), and
it is not "not understood" either: the bot answers it in kind and counts no miss towards offering a person.
Only a message made of nothing else is small talk — "你好，燃气怎么过户" is a question that starts politely.
"""

from __future__ import annotations

import re
from typing import Literal

from knowledge.normalize import clean

SmallTalk = Literal["bot", "goodbye", "thanks", "greeting", "ack"]

# Phrases in their cleaned form (lower case, simplified, separators as spaces). When a message holds several
# kinds, the first kind in this order is the one answered ("好的谢谢" is thanks, "thanks bye" a goodbye).
# "有人吗" asks for a person as much as it greets: it is answered as a question about the bot, with the way to one.
PHRASES: dict[SmallTalk, tuple[str, ...]] = {
    "bot": ("你是机器人吗", "你是不是机器人", "是机器人吗", "你是真人吗", "是真人吗", "你是人吗",
            "你是谁", "你叫什么名字", "你叫什么", "机器人", "真人", "人工智能", "有人吗", "有人在吗",
            "are you a bot", "are you a robot", "are you human", "are you a human", "are you a real person",
            "are you real", "is this a bot", "is this a real person", "am i talking to a bot",
            "am i talking to a real person", "am i talking to a human", "who are you", "what is your name",
            "what s your name", "whats your name", "are you ai", "are you an ai", "bot", "robot", "real person",
            "human", "anyone there", "is anyone there", "anybody there", "is anybody there"),
    "goodbye": ("再见", "拜拜", "88", "回头见", "下次见", "晚安",
                "bye", "bye bye", "goodbye", "good night", "see you", "see you later", "cya"),
    "thanks": ("谢谢", "谢谢你", "谢谢您", "谢了", "多谢", "感谢", "非常感谢", "太感谢了", "辛苦了",
               "麻烦了", "麻烦你了",
               "thanks", "thank you", "thank u", "thx", "ty", "tks", "cheers", "many thanks", "thanks a lot",
               "much appreciated", "appreciate it"),
    "greeting": ("你好", "您好", "你们好", "大家好", "早上好", "上午好", "中午好", "下午好", "晚上好",
                 "早安", "早", "哈喽", "嗨", "在吗", "在不在", "喂",
                 "hi", "hello", "hey", "hiya", "hallo", "good morning", "good afternoon", "good evening", "morning",
                 "are you there", "hello there", "hi there"),
    "ack": ("好的", "好", "好吧", "嗯", "嗯嗯", "哦", "噢", "知道了", "明白了", "明白", "收到", "了解",
            "行", "可以", "没问题", "哈哈", "哈哈哈", "呵呵",
            "ok", "okay", "k", "kk", "got it", "i see", "alright", "sure", "fine", "great", "cool", "understood",
            "noted", "lol", "nice", "perfect"),
}
# What may surround the phrases without making the message about anything: particles, "you", "very much".
_FILLER_ZH = "啊呀呢吧哈嘛哦啦了的哟嗯哇呐你您们我"  # not 吗: "好了吗", "可以吗" are questions
_FILLER_EN = frozenset(("a", "an", "the", "or", "and", "so", "very", "much", "oh", "ah", "um", "hmm", "again",
                        "guys", "mate", "there", "all", "everyone", "you", "to", "for", "your", "it", "that", "this"))
# Longest first, so "thank you" is taken before "you" is left as filler, and 谢谢你 before 谢谢.
_PHRASE_RE = re.compile("|".join(
    rf"(?<![a-z0-9]){re.escape(p)}(?![a-z0-9])" if p.isascii() else re.escape(p)
    for p in sorted({p for ps in PHRASES.values() for p in ps}, key=len, reverse=True)))
_KIND = {p: kind for kind, ps in reversed(PHRASES.items()) for p in ps}  # a phrase in two lists: the first
MAX_CHARS = 60  # longer messages always go to the matcher


def small_talk(text: str) -> SmallTalk | None:
    """The kind of small talk ``text`` is, or None when it says anything else."""
    if len(text) > MAX_CHARS:
        return None
    cleaned = clean(text)
    kinds = {_KIND[m.group(0)] for m in _PHRASE_RE.finditer(cleaned)}
    if not kinds:
        return None
    rest = _PHRASE_RE.sub(" ", cleaned)
    for word in rest.split():
        if word not in _FILLER_EN and word.strip(_FILLER_ZH):
            return None
    return next(kind for kind in PHRASES if kind in kinds)
