"""Bulk-load a year of back-office history into a fresh PostgreSQL database with COPY.

100,000 tickets (with ~3 history events each), 20,000 handed-off conversations (~6 messages each, a survey
after most closed ones), 20,000 residents, 50 agents and a supervisor. Most of it is closed history; what an
agent works on today is realistic in size: a few dozen residents waiting, two active chats per agent, a few
thousand open tickets (some overdue, already escalated as the scheduler would have done).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from core.clock import local
from core.staff import hash_password
from core.tickets import PREFIXES
from db.base import Base
from db.enums import (
    ConversationStatus,
    MessageDirection,
    Priority,
    StaffRole,
    TicketKind,
    TicketStatus,
    Utility,
)

AGENTS = 50
RESIDENT_BASE = 5_000_000_000  # Telegram-like user ids
RELAY_BASE = 9_000_000_000  # residents that the relay measurement drives through the sandbox
PASSWORD = "bench-console-password"
DISTRICTS = ("城东区", "城西区", "城南区", "城北区")
STREETS = ("人民路", "东风街", "解放大道", "建设路", "和平里", "幸福巷")
SUBJECTS = {
    TicketKind.fault: ("燃气表不走字", "水管漏水", "停电了，整栋楼没电", "水压很低", "燃气灶点不着火", "电表跳闸"),
    TicketKind.complaint: ("维修人员迟到", "收费有疑问", "客服态度不好", "多次报修未处理"),
    TicketKind.callback: ("Chat request outside working hours: call back (R10)", "请回电咨询过户手续"),
    TicketKind.inquiry: ("阶梯水价怎么算", "开户需要什么材料", "IC卡充值失败", "如何办理过户"),
    TicketKind.followup: ("回访：满意度低于6分", "回访：维修质量"),
}
KIND_WEIGHTS = {TicketKind.fault: 40, TicketKind.complaint: 10, TicketKind.callback: 25, TicketKind.inquiry: 20,
                TicketKind.followup: 5}
CHAT_LINES = ("您好，我家燃气表显示E3", "请问怎么充值", "水费为什么这么高", "好的，谢谢", "我的户号是多少？",
              "明天上午有人在家", "已经拍照发给您了", "师傅什么时候来？")
AGENT_LINES = ("您好，请问有什么可以帮您？", "请您稍等，我马上为您查询核实。", "已为您登记，工单号稍后发送。",
               "感谢您的耐心等待。", "请问还有其他问题吗？", "再见，祝您生活愉快！")


def _naive(dt: datetime) -> datetime:
    """Timestamps are stored as naive UTC (db.base.UTCDateTime)."""
    return dt.astimezone(UTC).replace(tzinfo=None)


class Table:
    """Rows for one table in column order, with every column not given set to NULL."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.columns = [c.name for c in Base.metadata.tables[name].columns]
        self.rows: list[tuple[Any, ...]] = []

    def add(self, **values: Any) -> None:
        unknown = set(values) - set(self.columns)
        if unknown:
            raise KeyError(f"{self.name}: no columns {sorted(unknown)}")
        self.rows.append(tuple(_naive(v) if isinstance(v, datetime) else v
                               for v in (values.get(c) for c in self.columns)))

    async def copy(self, conn: asyncpg.Connection) -> int:
        await conn.copy_records_to_table(self.name, records=self.rows, columns=self.columns)
        return len(self.rows)


async def seed(dsn: str, *, now: datetime, tickets: int, conversations: int, residents: int,
               relay: int = 10, queued: int = 40, active_per_agent: int = 2, seed_value: int = 6) -> dict[str, Any]:
    """Fill the (empty, migrated) database; returns what the load generator needs to know."""
    rnd = random.Random(seed_value)
    pw = hash_password(PASSWORD)
    staff, res_t = Table("staff_user"), Table("resident")
    for i in range(1, AGENTS + 1):
        staff.add(id=i, username=f"agent{i:02d}", display_name=f"坐席{i:02d}", password_hash=pw,
                  role=StaffRole.agent.value, active=True, failed_logins=0, created_at=now - timedelta(days=400))
    staff.add(id=AGENTS + 1, username="sup01", display_name="班长", password_hash=pw, role=StaffRole.supervisor.value,
              active=True, failed_logins=0, created_at=now - timedelta(days=400))
    agent_ids = list(range(1, AGENTS + 1))
    res_ids = [RESIDENT_BASE + i for i in range(residents)]
    for i, rid in enumerate(res_ids):
        res_t.add(id=rid, first_name=rnd.choice("王李张刘陈杨赵黄周吴") + rnd.choice(("建国", "娜", "伟", "芳", "静")),
                  language="en" if i % 7 == 0 else "zh_Hans", guided_mode=i % 11 == 0, blocked=False,
                  link_failures=0, misses=0, created_at=now - timedelta(days=rnd.randint(1, 700)),
                  last_seen_at=now - timedelta(days=rnd.randint(0, 60)))
    relay_ids = [RELAY_BASE + i for i in range(relay)]
    for rid in relay_ids:  # they talk to the bot through the sandbox during the run
        res_t.add(id=rid, first_name="测试", language="zh_Hans", guided_mode=False, blocked=False, link_failures=0,
                  misses=0, created_at=now - timedelta(days=30))

    # -- tickets and their history -------------------------------------------------------------------------------
    ticket_t, event_t, counter_t = Table("ticket"), Table("ticket_event"), Table("counter")
    kinds = list(KIND_WEIGHTS)
    weights = [KIND_WEIGHTS[k] for k in kinds]
    seq: dict[str, int] = defaultdict(int)
    ticket_numbers: list[str] = []
    open_numbers: list[str] = []
    event_id = 0
    year = 365 * 24 * 3600
    stamps = sorted(now - timedelta(seconds=rnd.random() ** 0.7 * year) for _ in range(tickets))
    for tid, created in enumerate(stamps, 1):
        kind = rnd.choices(kinds, weights)[0]
        name = f"{PREFIXES[kind]}-{local(created):%Y%m%d}"
        seq[name] += 1
        number = f"{name}-{seq[name]:04d}"
        priority = Priority.emergency if kind is TicketKind.fault and rnd.random() < 0.05 else Priority.normal
        deadline = created + (timedelta(hours=24) if kind is TicketKind.callback or priority is Priority.emergency
                              else timedelta(days=rnd.choice((1, 3, 3, 5))))
        age = now - created
        if age > timedelta(days=10):
            status = rnd.choices((TicketStatus.closed, TicketStatus.resolved, TicketStatus.cancelled,
                                  TicketStatus.duplicate, TicketStatus.in_progress), (80, 12, 4, 3, 1))[0]
        else:
            status = rnd.choice(list(TicketStatus))
        is_open = status in (TicketStatus.new, TicketStatus.accepted, TicketStatus.in_progress)
        owner = None if status is TicketStatus.new else rnd.choice(agent_ids)
        done = min(now, created + age * rnd.uniform(0.05, 0.9)) if not is_open else None
        district = rnd.choice(DISTRICTS)
        ticket_t.add(
            id=tid, number=number, kind=kind.value, status=status.value, priority=priority.value,
            resident_id=rnd.choice(res_ids), utility=rnd.choice(list(Utility)).value,
            category=rnd.choice(("leak", "no_supply", "meter", "billing", "chat", "other")),
            subject=rnd.choice(SUBJECTS[kind]), description="住户反映：" + rnd.choice(SUBJECTS[kind]) * 3,
            address=f"{district}{rnd.choice(STREETS)}{rnd.randint(1, 300)}号{rnd.randint(1, 30)}栋",
            district=district, street=rnd.choice(STREETS), building=str(rnd.randint(1, 30)),
            contact_name="住户", contact_phone=f"138{rnd.randint(0, 99_999_999):08d}", attachments="[]",
            language="zh_Hans", owner_id=owner, deadline_at=deadline,
            escalated_at=deadline + timedelta(minutes=10) if is_open and deadline < now else None,
            resolved_at=done if status in (TicketStatus.resolved, TicketStatus.closed) else None,
            closed_at=done if status is TicketStatus.closed else None,
            created_at=created, updated_at=done or created,
        )
        ticket_numbers.append(number)
        if is_open:
            open_numbers.append(number)
        event_id += 1
        event_t.add(id=event_id, ticket_id=tid, at=created, kind="created", resident_id=None, to_status="new",
                    data="{}")
        if owner is not None:
            event_id += 1
            event_t.add(id=event_id, ticket_id=tid, at=created + timedelta(minutes=20), kind="assigned",
                        staff_id=owner, data=json.dumps({"owner_id": owner}))
        if status is not TicketStatus.new:
            event_id += 1
            event_t.add(id=event_id, ticket_id=tid, at=done or created + timedelta(hours=1), kind="status",
                        staff_id=owner, from_status="new", to_status=status.value,
                        note="已联系住户，安排上门。" if rnd.random() < 0.5 else None, data="{}")
    for name, value in seq.items():
        counter_t.add(name=name, value=value)

    # -- conversations, messages, surveys --------------------------------------------------------------------------
    conv_t, msg_t, survey_t = Table("conversation"), Table("conversation_message"), Table("survey")
    msg_id = 0
    survey_id = 0
    n_active = AGENTS * active_per_agent
    busy = set()  # a resident has at most one open conversation
    for cid in range(1, conversations + 1):
        if cid > conversations - queued:
            status, created = ConversationStatus.queued, now - timedelta(minutes=rnd.randint(0, 40))
        elif cid > conversations - queued - n_active:
            status, created = ConversationStatus.active, now - timedelta(minutes=rnd.randint(1, 30))
        else:
            status, created = ConversationStatus.closed, now - timedelta(seconds=rnd.random() * year + 3600)
        rid = rnd.choice(res_ids)
        while status is not ConversationStatus.closed and rid in busy:
            rid = rnd.choice(res_ids)
        if status is not ConversationStatus.closed:
            busy.add(rid)
        owner = None
        if status is ConversationStatus.active:
            owner = agent_ids[(cid - 1) % AGENTS]
        elif status is ConversationStatus.closed:
            owner = rnd.choice(agent_ids)
        reason = rnd.choices(("button", "voice", "not_understood", "guided"), (70, 10, 15, 5))[0]
        context = {"language": "zh_Hans", "guided": reason == "guided", "accounts": [], "open_tickets": [],
                   "notices": [], "questions": [{"text": rnd.choice(CHAT_LINES), "topic": None,
                                                 "outcome": "no_match", "at": created.isoformat()}]}
        n_msgs = rnd.randint(2, 10)
        last = created + timedelta(seconds=30 * n_msgs)
        conv_t.add(id=cid, resident_id=rid, status=status.value, reason=reason, priority=2 if reason == "voice" else 0,
                   language="zh_Hans", owner_id=owner, context=json.dumps(context, ensure_ascii=False),
                   created_at=created, claimed_at=created + timedelta(minutes=2) if owner else None,
                   closed_at=last if status is ConversationStatus.closed else None,
                   last_message_at=last if status is not ConversationStatus.queued else created)
        msg_id += 1
        msg_t.add(id=msg_id, conversation_id=cid, direction=MessageDirection.system.value, content_type="text",
                  text=f"handoff:{reason}", guard_override=False, created_at=created)
        for k in range(n_msgs):
            inbound = k % 2 == 0 or owner is None
            msg_id += 1
            msg_t.add(id=msg_id, conversation_id=cid,
                      direction=(MessageDirection.inbound if inbound else MessageDirection.outbound).value,
                      staff_id=None if inbound else owner, content_type="text",
                      text=rnd.choice(CHAT_LINES if inbound else AGENT_LINES), guard_override=False,
                      created_at=created + timedelta(seconds=30 * (k + 1)))
        if status is ConversationStatus.closed:
            survey_id += 1
            answered = rnd.random() < 0.6
            survey_t.add(id=survey_id, resident_id=rid, conversation_id=cid, staff_id=owner, category="chat",
                         attitude=rnd.randint(6, 10) if answered else None,
                         ability=rnd.randint(5, 10) if answered else None, sent_at=last,
                         answered_at=last + timedelta(minutes=3) if answered else None)

    conn = await asyncpg.connect(dsn)
    counts = {}
    try:
        for table in (staff, res_t, ticket_t, event_t, counter_t, conv_t, msg_t, survey_t):
            counts[table.name] = await table.copy(conn)
        for table in ("staff_user", "ticket", "ticket_event", "conversation", "conversation_message", "survey"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT coalesce(max(id), 1) FROM {table}))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return {"counts": counts, "agents": [f"agent{i:02d}" for i in agent_ids], "password": PASSWORD,
            "ticket_numbers": ticket_numbers, "open_numbers": open_numbers, "relay_residents": relay_ids}
