"""Canned replies for the chat console, and any topic's R1 checklist as plain text to insert.

Replies are in the conversation's language (zh / en) and use only polite forms (R14: 您好, 请, 谢谢,
对不起, 再见). The checklist comes from the knowledge base, so it is always the same complete list the
bot gives (R1: tell everything at once, never make a resident come back twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Canned:
    key: str
    title: str  # shown on the button (bilingual, for staff)
    zh: str
    en: str

    def text(self, lang: str | None) -> str:
        return self.en if (lang or "").startswith("en") else self.zh


REPLIES: tuple[Canned, ...] = (
    Canned("greet", "Greeting 问候",
           "您好！我是客服人员，很高兴为您服务，请问有什么可以帮您？",
           "Hello! I am from customer service and glad to help. What can I do for you?"),
    Canned("wait", "Please wait 请稍候",
           "请您稍等，我马上为您查询。",
           "Please wait a moment while I look into this for you."),
    Canned("account", "Ask account no. 询问户号",
           "请您提供一下户号（缴费单上的10位数字）或户主姓名和地址，方便我为您查询。",
           "Could you please give me your account number (10 digits on your bill) or the holder's name "
           "and address, so I can look it up?"),
    Canned("photo", "Ask for photo 请发照片",
           "方便的话，请拍一张照片发给我（例如表计读数或故障部位），谢谢！",
           "If possible, please send me a photo (for example the meter reading or the faulty part). Thank you!"),
    Canned("sorry", "Apology 致歉",
           "对不起，给您带来不便，我们非常抱歉。我会跟进到底，直到问题解决。",
           "We are sorry for the inconvenience. I will follow this up until it is resolved."),
    Canned("outage", "Outage apology 停供致歉 (R9)",
           "对不起，您所在区域目前正在停供。原因和预计恢复时间请见停供公告，恢复后我们会第一时间通知您。",
           "We are sorry: there is an outage in your area. The reason and the estimated restoration time "
           "are in the outage notice, and we will tell you as soon as supply is back."),
    Canned("ticket", "Ticket opened 已登记工单",
           "已为您登记工单，编号见随后的通知。我们会在承诺时限内处理并告知您结果。",
           "I have registered this as a ticket; you will receive its number in a moment. "
           "We will handle it within the promised time and tell you the result."),
    Canned("callback", "Call back 回电 (R10)",
           "这个问题需要相关部门核实，我们会在24小时内给您回电答复，请您保持电话畅通，谢谢！",
           "This needs to be checked by another department. We will call you back within 24 hours. Thank you!"),
    Canned("anything", "Anything else? 还有其他问题吗",
           "请问还有其他可以帮您的吗？",
           "Is there anything else I can help you with?"),
    Canned("bye", "Goodbye 结束语",
           "感谢您的咨询，祝您生活愉快，再见！稍后您会收到一份服务评价，评价完全自愿。",
           "Thank you for contacting us, and have a nice day. Goodbye! You will receive a short, optional "
           "rating request."),
)

BY_KEY = {c.key: c for c in REPLIES}

_LABELS: dict[str, dict[str, str]] = {
    "zh": {"documents": "所需材料", "time_limit": "办理时限", "where": "办理地点", "fees": "收费",
           "steps": "办理流程"},
    "en": {"documents": "Documents", "time_limit": "Time limit", "where": "Where to apply", "fees": "Fees",
           "steps": "Steps"},
}


def _lang(lang: str | None) -> str:
    return "en" if (lang or "").startswith("en") else "zh"


def checklist_text(catalogue: Any, slug: str, lang: str | None) -> str | None:
    """A topic's complete checklist (documents, steps, time limit, fees, where) as plain chat text.

    For topics without a formal notice (info / emergency) the summary and body are used instead.
    Returns None for an unknown slug.
    """
    topic = catalogue.get(slug)
    if topic is None:
        return None
    lg = _lang(lang)
    labels = _LABELS[lg]
    lines = [f"【{topic.title.get(lg)}】", topic.summary.get(lg)]
    notice = topic.notice
    if notice is None:
        lines += [t.get(lg) for t in topic.safety] + [t.get(lg) for t in topic.body]
        return "\n".join(lines)
    lines += ["", labels["documents"] + ":"]
    lines += [f"• {text}" for _doc_id, text in catalogue.checklist_items(topic, lg)]
    lines += ["", labels["steps"] + ":"]
    lines += [f"{i}. {s.get(lg)}" for i, s in enumerate(notice.steps, 1)]
    lines += ["", f"{labels['time_limit']}: {notice.time_limit.get(lg)}",
              f"{labels['fees']}: {notice.fees.get(lg)}",
              f"{labels['where']}: {notice.where.get(lg)}"]
    return "\n".join(lines)


def topic_choices(catalogue: Any, lang: str | None) -> list[tuple[str, str]]:
    """(slug, title) of every topic, for the "insert checklist" picker."""
    lg = _lang(lang)
    return [(t.slug, t.title.get(lg)) for t in catalogue]
