"""A believable past for the demo utility (issue 15): three months of work so that a newcomer's first look at the
console shows a utility at work — the home page, the queue, the ticket desk, the reports and their charts, and
the R18 targets all have real-looking figures.

What it adds, after ``core.demo.load_demo``: residents linked to demo accounts; tickets of every kind (repairs
with arrival, outcome and first-visit fix, some late, some reopened, R7 call-backs, complaints, R10 call-backs,
enquiries), satisfaction follow-ups, chats with agents, questions asked of the bot, visits, a finished and an
upcoming outage, and an R12 re-read task. A few things are open now (two residents waiting in the queue, open
and overdue tickets) so there is work to pick up.

Deterministic (one seeded random generator, times relative to "now"), idempotent (an audit row marks that it
ran; running it again adds nothing) and clearly marked: every demo ticket number carries a "D" sequence
(BX-20260905-D007), demo staff are called "demo-…", and descriptions say 演示数据 Demo data. Rows are written
directly, never through the outbox: the demo's residents are not real Telegram users.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, staff, tickets
from core.clock import LOCAL_TZ, local
from core.context import AppContext
from core.reports import Period
from db.enums import (
    AppointmentStatus,
    ApprovalRole,
    ConversationStatus,
    CorrectionStatus,
    LedgerKind,
    MessageDirection,
    OutageKind,
    OutageStatus,
    Priority,
    QuestionOutcome,
    ServiceType,
    StaffRole,
    TicketKind,
    TicketStatus,
    Utility,
)
from db.models import (
    Appointment,
    AppointmentEvent,
    AuditLog,
    BillCorrection,
    Conversation,
    ConversationMessage,
    LedgerEntry,
    MeterReading,
    OutageEvent,
    OutageNotice,
    QuestionLog,
    Resident,
    StaffUser,
    Survey,
    Ticket,
    TicketEvent,
    UtilityAccount,
)

MARK = "demo.past"
DEMO_NOTE = "演示数据 Demo data"
DAYS = 91
FIRST_RESIDENT = 20001
SEED = 20260901
EXTRA_STAFF = [  # username, display name, console role, R12 approval role
    ("demo-wangfang", "王芳 (demo)", StaffRole.agent, ApprovalRole.team_lead),
    ("demo-chenjie", "陈杰 (demo)", StaffRole.agent, None),
    ("demo-manager", "刘经理 (demo)", StaffRole.supervisor, ApprovalRole.dept_manager),
    ("demo-finance", "财务 赵敏 (demo)", StaffRole.operator, ApprovalRole.finance),
    ("demo-deputy", "孙副总 (demo)", StaffRole.supervisor, ApprovalRole.deputy_gm),
]
NAMES = ["陈秀兰", "刘志强", "杨丽", "赵海燕", "黄伟", "周静", "吴军", "徐桂英", "孙磊", "胡洋", "朱艳", "高明",
         "林芳", "何建华", "郭强", "马丽娟", "罗斌", "梁红", "宋涛", "郑敏"]
COMPLAINTS = ["维修师傅迟到一个多小时 The repair man was over an hour late",
              "账单金额比上月高很多 The bill is much higher than last month",
              "客服电话一直打不通 Could not get through on the phone",
              "停水没有提前通知 No notice before the water cut",
              "工作人员态度不好 Staff were rude"]
INQUIRIES = ["燃气过户需要什么材料 Documents for a gas transfer", "阶梯水价怎么算 How tiered water prices work",
             "IC卡在哪里充值 Where to top up the IC card", "电表申请增容 Raising the power capacity"]
QUESTIONS = [("燃气怎么过户", QuestionOutcome.answered, "gas.transfer"),
             ("水费怎么交", QuestionOutcome.answered, "general.payment-methods"),
             ("闻到煤气味怎么办", QuestionOutcome.answered, "gas.leak"),
             ("how do I pay my water bill", QuestionOutcome.answered, "general.payment-methods"),
             ("IC卡丢了", QuestionOutcome.chose, "gas.ic-card-replace"),
             ("开通燃气", QuestionOutcome.chose, "gas.open-account"),
             ("停水了", QuestionOutcome.outage, None),
             ("电费", QuestionOutcome.ambiguous, None),
             ("电动车充电桩怎么装", QuestionOutcome.no_match, None),
             ("能不能开发票", QuestionOutcome.no_match, None),
             ("物业费在哪交", QuestionOutcome.no_match, None),
             ("我要找人工", QuestionOutcome.handed_off, None)]
QUESTION_WEIGHTS = [14, 12, 4, 5, 5, 4, 3, 4, 3, 2, 2, 3]
CHAT_LINES = [("我家燃气灶打不着火",
               "您好，请先检查灶前阀门是否打开，电池是否有电。如仍无法点火，我们为您预约上门检修。"),
              ("How do I change the name on my water account?", "Hello! Bring the property certificate and both IDs to "
               "any service hall; I have sent you the full checklist."),
              ("这个月水费怎么这么高", "您好，我们核对了您的读数，本月用水量较上月增加，已为您安排复核。"),
              ("预约的师傅什么时候到", "您好，师傅已在路上，预计30分钟内到达，请保持电话畅通。")]
SERVICES = [ServiceType.safety_inspection, ServiceType.meter_check, ServiceType.appliance_repair,
            ServiceType.ignition, ServiceType.home_visit]


@dataclass
class PastResult:
    created: bool
    staff_passwords: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _at(day_offset: int, now: datetime, hour: float) -> datetime:
    day = local(now).date() - timedelta(days=day_offset)
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ) + timedelta(hours=hour)


class _Builder:
    def __init__(self, session: AsyncSession, ctx: AppContext, rng: random.Random) -> None:
        self.session, self.ctx, self.rng = session, ctx, rng
        self.now = ctx.clock.now()
        self.seq: dict[tuple[str, str], int] = {}
        self.counts: dict[str, int] = {}
        self.pending_outages: tuple[OutageNotice, ...] = ()
        # Categories with an answered survey sent in the reports' default period (the last 30 days).
        self.window = Period.last_days(self.now).since
        self.answered_in_window: set[str] = set()

    def number(self, prefix: str, at: datetime) -> str:
        key = (prefix, local(at).strftime("%Y%m%d"))
        self.seq[key] = self.seq.get(key, 0) + 1
        return f"{prefix}-{key[1]}-D{self.seq[key]:03d}"

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def event(self, ticket: Ticket, at: datetime, kind: str, staff_id: int | None, frm: str | None = None,
              to: str | None = None, note: str | None = None) -> None:
        self.session.add(TicketEvent(ticket_id=ticket.id, at=at, kind=kind, staff_id=staff_id, from_status=frm,
                                     to_status=to, note=note, data={}))


async def _staff(session: AsyncSession, now: datetime) -> tuple[dict[str, StaffUser], dict[str, str]]:
    users = {u.username: u for u in (await session.execute(
        select(StaffUser).where(StaffUser.username.like("demo-%")))).scalars()}
    passwords = {}
    for username, name, role, approval in EXTRA_STAFF:
        if username not in users:
            pw = staff.new_password()
            users[username] = await staff.create_staff(session, username=username, display_name=name, role=role,
                                                       password=pw, now=now)
            passwords[username] = pw
        users[username].approval_role = approval
    return users, passwords


async def load_past(session: AsyncSession, *, ctx: AppContext) -> PastResult:
    """Add three months of believable history to the demo utility once; commits."""
    now = ctx.clock.now()
    done = (await session.execute(select(func.count()).select_from(AuditLog)
                                  .where(AuditLog.action == MARK))).scalar_one()
    accounts = list((await session.execute(select(UtilityAccount).where(UtilityAccount.external_id.like("DEMO-%"))
                                           .order_by(UtilityAccount.id))).scalars())
    if done or not accounts:
        return PastResult(False)
    rng = random.Random(SEED)
    b = _Builder(session, ctx, rng)
    # The demo accounts have been customers for years (R18 reading rate counts accounts connected before a month).
    await session.execute(update(UtilityAccount).where(UtilityAccount.external_id.like("DEMO-%"))
                          .values(created_at=now - timedelta(days=3 * 365)))
    users, passwords = await _staff(session, now)
    agents = [users[u] for u in ("demo-agent", "demo-wangfang", "demo-chenjie") if u in users]
    sup = users.get("demo-supervisor") or agents[0]
    residents = await _residents(b, accounts)
    await _tickets(b, residents, agents, sup)
    await _chats(b, residents, agents)
    _questions(b, residents)
    await _visits(b, residents, agents)
    _outages(b, users.get("demo-operator") or sup)
    await _corrections(b, accounts)
    audit.record(session, at=now, staff_id=None, action=MARK, target_type="demo", target_id="past", **b.counts)
    await session.commit()
    return PastResult(True, passwords, b.counts)


async def _residents(b: _Builder, accounts: list[UtilityAccount]) -> list[tuple[Resident, UtilityAccount]]:
    out = []
    joined = b.now - timedelta(days=DAYS + 30)
    for i, name in enumerate(NAMES):
        acc = accounts[(i * 5 + 1) % len(accounts)]  # gas, water and power customers alike
        r = Resident(id=FIRST_RESIDENT + i, first_name=name, language="en" if i % 5 == 4 else "zh_Hans",
                     guided_mode=i % 6 == 0, blocked=False, link_failures=0, misses=0, created_at=joined,
                     last_seen_at=b.now - timedelta(days=i))
        b.session.add(r)
        out.append((r, acc))
    # No account links or district subscriptions: these residents are not real Telegram users, so no outage
    # broadcast or alert ever picks them; their tickets carry the account and address themselves.
    await b.session.flush()
    return out


def _pick_kind(rng: random.Random) -> TicketKind:
    return rng.choices([TicketKind.fault, TicketKind.complaint, TicketKind.callback, TicketKind.inquiry],
                       [62, 10, 13, 15])[0]


async def _tickets(b: _Builder, residents: list[tuple[Resident, UtilityAccount]], agents: list[StaffUser],
                   sup: StaffUser) -> None:
    rng, now = b.rng, b.now
    gas = [(r, a) for r, a in residents if a.utility is Utility.gas]
    for offset in range(DAYS, -1, -1):
        weekday = (local(now).date() - timedelta(days=offset)).weekday()
        for n in range(rng.randint(1, 3) if weekday >= 5 else rng.randint(3, 6)):
            created = _at(offset, now, rng.uniform(7.5, 21))
            if created >= now:
                continue
            # A gas leak every week, whatever the draws: R7's emergency target is measured in any
            # 30-day report period, whichever day the demo is loaded on.
            leak = n == 0 and offset % 7 == 3 and bool(gas)
            resident, acc = rng.choice(gas if leak else residents)
            kind = TicketKind.fault if leak else _pick_kind(rng)
            utility = acc.utility
            category = None
            priority = Priority.normal
            if kind is TicketKind.fault:
                category = (tickets.FaultCategory.gas_leak if leak
                            else rng.choice(tickets.UTILITY_CATEGORIES[utility]))
                if category is tickets.FaultCategory.gas_leak:
                    priority = Priority.emergency
                subject = tickets.CATEGORY_SUBJECTS[category]
            elif kind is TicketKind.complaint:
                subject = rng.choice(COMPLAINTS)
            elif kind is TicketKind.callback:
                subject = "回电 Call back: " + rng.choice(INQUIRIES)
            else:
                subject = rng.choice(INQUIRIES)
            t = Ticket(number=b.number(tickets.PREFIXES[kind], created), kind=kind, status=TicketStatus.new,
                       priority=priority, resident_id=resident.id, account_id=acc.id, utility=utility,
                       category=category.value if category else None, subject=subject[:255], description=DEMO_NOTE,
                       address=tickets.account_address(acc), district=acc.district, street=acc.street,
                       building=acc.building, contact_name=resident.first_name,
                       contact_phone=f"139{rng.randint(10_000_000, 99_999_999)}", attachments=[],
                       language=resident.language or "zh_Hans",
                       deadline_at=tickets.deadline_for(b.ctx, kind, priority, created), created_at=created,
                       updated_at=created)
            if kind is TicketKind.complaint:
                t.complaint_level = 2 if rng.random() < 0.1 else 1
                t.complaint_class = rng.choice(["B", "C", None, None])
            b.session.add(t)
            await b.session.flush()
            b.event(t, created, "created", None, to="new")
            b.count(kind.value)
            owner = rng.choice(agents)
            await _work(b, t, owner, sup, age_days=offset)


async def _work(b: _Builder, t: Ticket, owner: StaffUser, sup: StaffUser, *, age_days: int) -> None:
    """Take the ticket from new to where three months of real work would leave it."""
    rng, now = b.rng, b.now
    taken = t.created_at + timedelta(minutes=rng.randint(5, 90))
    if taken >= now:
        return  # just arrived: still new in the desk
    t.owner_id, t.status = owner.id, TicketStatus.in_progress
    b.event(t, taken, "assigned", owner.id, note=owner.display_name)
    b.event(t, taken, "status", owner.id, "new", "in_progress")
    span = t.deadline_at - t.created_at
    late = rng.random() < 0.08
    if t.priority is Priority.emergency:
        minutes = rng.randint(9, 28) if rng.random() < 0.97 else rng.randint(33, 55)
        t.arrived_at = t.created_at + timedelta(minutes=minutes)
    elif t.kind is TicketKind.fault:
        t.arrived_at = t.created_at + span * rng.uniform(0.1, 0.4)
    done = t.created_at + span * (rng.uniform(1.05, 1.6) if late else rng.uniform(0.2, 0.9))
    if (age_days <= 2 and rng.random() < 0.6) or done >= now:
        if t.arrived_at and t.arrived_at >= now:
            t.arrived_at = None
        return  # still being worked on (some of them past their deadline: the overdue list)
    if t.kind is TicketKind.fault:
        t.repair_outcome = "fixed" if rng.random() < 0.95 else rng.choice(["not_ours", "no_access"])
        t.first_visit_fix = t.repair_outcome == "fixed" and rng.random() < 0.97
        b.event(t, t.arrived_at or done, "arrived", owner.id)
    t.status, t.resolved_at, t.updated_at = TicketStatus.resolved, done, done
    resolved = done
    b.event(t, done, "status", owner.id, "in_progress", "resolved", note="已处理完毕 Done. " + DEMO_NOTE)
    if rng.random() < 0.05 and done + timedelta(days=2) < now:  # reopened by the resident, then done again
        again = done + timedelta(days=1)
        b.event(t, again, "status", owner.id, "resolved", "in_progress", note="居民反映问题仍存在 Reopened")
        resolved = t.resolved_at = again + timedelta(hours=rng.randint(3, 20))
        b.event(t, resolved, "status", owner.id, "in_progress", "resolved", note="再次处理 Fixed again")
        b.count("reopened")
    if late:
        b.count("late")
    if resolved + timedelta(days=4) < now:
        t.status, t.closed_at = TicketStatus.closed, resolved + timedelta(days=4)
        b.event(t, resolved + timedelta(days=4), "status", owner.id, "resolved", "closed")
    if t.kind is TicketKind.fault:
        await _callback(b, t, owner, resolved)
    if rng.random() < 0.7:
        _survey(b, t, owner, resolved)


async def _callback(b: _Builder, repair: Ticket, owner: StaffUser, at: datetime) -> None:
    """R7: the resident is called back within the first working day after the repair (resolved ``at``)."""
    cb = Ticket(number=b.number("HD", at), kind=TicketKind.callback, status=TicketStatus.new,
                priority=Priority.normal, resident_id=repair.resident_id, account_id=repair.account_id,
                utility=repair.utility, subject=f"回访电话 Call back after repair {repair.number}",
                description=DEMO_NOTE, district=repair.district, contact_name=repair.contact_name,
                contact_phone=repair.contact_phone, attachments=[], language=repair.language, owner_id=owner.id,
                deadline_at=b.ctx.calendar.deadline(at, 1), created_at=at, updated_at=at, repair_of_id=repair.id)
    b.session.add(cb)
    await b.session.flush()
    b.event(cb, at, "created", None, to="new")
    done = at + timedelta(hours=b.rng.uniform(1, 20) if b.rng.random() < 0.97 else b.rng.uniform(40, 80))
    if done < b.now:
        cb.status, cb.resolved_at = TicketStatus.closed, done
        cb.closed_at = done
        b.event(cb, done, "status", owner.id, "new", "closed", note="已回访，居民满意 Called back")
    b.count("r7_callback")


def _survey(b: _Builder, t: Ticket, owner: StaffUser, resolved: datetime) -> None:
    sent = resolved + timedelta(days=b.rng.randint(3, 5))
    if sent >= b.now:
        return
    s = Survey(resident_id=t.resident_id, ticket_id=t.id, staff_id=owner.id,
               category=t.category or t.kind.value, sent_at=sent)
    # Four in five are answered; and in the default reports period every category has an answer, so
    # "satisfaction by category" has a score for each row whichever day the demo is loaded.
    first_here = sent >= b.window and s.category not in b.answered_in_window
    if b.rng.random() < 0.8 or first_here:
        if sent >= b.window:
            b.answered_in_window.add(s.category)
        low = b.rng.random() < 0.03
        s.attitude = b.rng.randint(3, 6) if low else b.rng.choice([8, 9, 9, 10, 10, 10])
        s.ability = b.rng.randint(4, 6) if low else b.rng.choice([8, 9, 10, 10])
        s.answered_at = sent + timedelta(hours=b.rng.randint(1, 30))
    b.session.add(s)
    b.count("survey")


async def _chats(b: _Builder, residents: list[tuple[Resident, UtilityAccount]], agents: list[StaffUser]) -> None:
    rng, now = b.rng, b.now
    for offset in range(DAYS, 0, -1):
        for _ in range(rng.randint(0, 2)):
            resident, _acc = rng.choice(residents)
            start = _at(offset, now, rng.uniform(8, 20))
            agent = rng.choice(agents)
            question, answer = rng.choice(CHAT_LINES)
            closed = start + timedelta(minutes=12)
            conv = Conversation(resident_id=resident.id, status=ConversationStatus.closed, reason="button",
                                language=resident.language or "zh_Hans", owner_id=agent.id,
                                context={"demo": True}, created_at=start, claimed_at=start + timedelta(minutes=2),
                                closed_at=closed, last_message_at=start + timedelta(minutes=9))
            b.session.add(conv)
            await b.session.flush()
            for i, (direction, text, staff_id) in enumerate([(MessageDirection.inbound, question, None),
                                                             (MessageDirection.outbound, answer, agent.id),
                                                             (MessageDirection.inbound, "好的，谢谢 Thanks", None)]):
                b.session.add(ConversationMessage(conversation_id=conv.id, direction=direction, staff_id=staff_id,
                                                  text=text, created_at=start + timedelta(minutes=3 * i + 1)))
            if rng.random() < 0.5:
                b.session.add(Survey(resident_id=resident.id, conversation_id=conv.id, staff_id=agent.id,
                                     category="chat", attitude=rng.choice([9, 10, 10]), ability=rng.choice([8, 9, 10]),
                                     sent_at=closed, answered_at=closed + timedelta(minutes=5)))
            b.count("chat")
    for resident, _acc in residents[:2]:  # waiting in the queue right now
        waiting = now - timedelta(minutes=4 + resident.id % 7)
        conv = Conversation(resident_id=resident.id, status=ConversationStatus.queued, reason="button",
                            language=resident.language or "zh_Hans", context={"demo": True}, created_at=waiting,
                            last_message_at=waiting)
        b.session.add(conv)
        await b.session.flush()
        b.session.add(ConversationMessage(conversation_id=conv.id, direction=MessageDirection.inbound,
                                          text="你好，我想咨询一下燃气表换表的事", created_at=waiting))


def _questions(b: _Builder, residents: list[tuple[Resident, UtilityAccount]]) -> None:
    for offset in range(DAYS, -1, -1):
        for _ in range(b.rng.randint(4, 10)):
            at = _at(offset, b.now, b.rng.uniform(7, 23))
            if at >= b.now:
                continue
            text, outcome, topic = b.rng.choices(QUESTIONS, QUESTION_WEIGHTS)[0]
            resident, _acc = b.rng.choice(residents)
            b.session.add(QuestionLog(resident_id=resident.id, text=text, language="zh_Hans", topic=topic,
                                      score=0.9 if topic else 0.3, outcome=outcome, alternatives=[], created_at=at))
            b.count("question")


async def _visits(b: _Builder, residents: list[tuple[Resident, UtilityAccount]], agents: list[StaffUser]) -> None:
    rng, now, cal = b.rng, b.now, b.ctx.calendar
    for offset in [*range(DAYS, 0, -2), -2, -3, -5]:
        asked = _at(offset, now, rng.uniform(8, 18)) if offset > 0 else now - timedelta(hours=-offset)
        resident, acc = rng.choice(residents)
        day = cal.add_working_days(local(asked).date(), rng.randint(2, 5))
        respond_by = cal.deadline(asked, 1)
        future = offset <= 0
        status = AppointmentStatus.requested if offset == -5 else AppointmentStatus.confirmed if future else (
            AppointmentStatus.no_show if rng.random() < 0.03 else AppointmentStatus.completed)
        a = Appointment(number=b.number("YY", asked), resident_id=resident.id, account_id=acc.id,
                        service=rng.choice(SERVICES), status=status, district=acc.district,
                        address=tickets.account_address(acc), day=day, window=rng.choice(["09-12", "14-17"]),
                        contact_phone=f"139{rng.randint(10_000_000, 99_999_999)}", note=DEMO_NOTE,
                        language=resident.language or "zh_Hans", owner_id=rng.choice(agents).id,
                        respond_by=respond_by, created_at=asked, updated_at=asked)
        b.session.add(a)
        await b.session.flush()
        if status is not AppointmentStatus.requested:
            answered = asked + timedelta(hours=rng.uniform(0.5, 6))
            b.session.add(AppointmentEvent(appointment_id=a.id, at=answered, kind="status", staff_id=a.owner_id,
                                           from_status="requested", to_status="confirmed"))
        b.count("visit")


def _outages(b: _Builder, operator: StaffUser) -> None:
    now, cal = b.now, b.ctx.calendar
    past_start = _at(20, now, 8)
    finished = OutageNotice(number=b.number("TG", past_start - timedelta(days=12)), utility=Utility.water,
                            kind=OutageKind.planned, status=OutageStatus.restored, reason_zh="主管道阀门更换（演示）",
                            reason_en="Replacing a valve on the main (demo)",
                            area={"districts": [], "streets": [{"district": "城东区", "street": "人民路"}],
                                  "buildings": []},
                            starts_at=past_start, restore_at=past_start + timedelta(hours=10),
                            restored_at=past_start + timedelta(hours=9), created_by_id=operator.id,
                            created_at=past_start - timedelta(days=12), announced_at=past_start - timedelta(days=12),
                            reminder_sent_at=past_start - timedelta(hours=20), external_id="DEMO-OUTAGE-1")
    start_day = cal.add_working_days(local(now).date(), 9)
    upcoming_start = datetime.combine(start_day, time(9), tzinfo=LOCAL_TZ)
    upcoming = OutageNotice(number=b.number("TG", now), utility=Utility.gas, kind=OutageKind.planned,
                            status=OutageStatus.announced, reason_zh="中压管网碰口施工（演示）",
                            reason_en="Tie-in work on the medium-pressure main (demo)",
                            area={"districts": ["城南区"], "streets": [], "buildings": []}, starts_at=upcoming_start,
                            restore_at=upcoming_start + timedelta(hours=8), created_by_id=operator.id,
                            created_at=now - timedelta(days=1), announced_at=now - timedelta(days=1),
                            external_id="DEMO-OUTAGE-2")
    b.session.add_all([finished, upcoming])
    b.pending_outages = (finished, upcoming)


async def _corrections(b: _Builder, accounts: list[UtilityAccount]) -> None:
    """R12: one reading held for a re-read now (its charge waits), one corrected last month."""
    finished, upcoming = b.pending_outages
    await b.session.flush()
    for o, kinds in ((finished, ("announced", "reminder", "restored")), (upcoming, ("announced",))):
        for kind in kinds:
            at = {"announced": o.announced_at, "reminder": o.reminder_sent_at, "restored": o.restored_at}[kind]
            b.session.add(OutageEvent(outage_id=o.id, kind=kind, staff_id=o.created_by_id, at=at or b.now))
    gas = [a for a in accounts if a.utility is Utility.gas]
    held_acc, fixed_acc = gas[3], gas[5]
    today = local(b.now).date()
    read_on = today.replace(day=min(max(today.day - 1, 6), 26))
    last = (await b.session.execute(select(MeterReading).where(MeterReading.account_id == held_acc.id)
                                    .order_by(MeterReading.read_on.desc()).limit(1))).scalar_one_or_none()
    base = last.value_milli if last else 1_000_000
    reading = MeterReading(account_id=held_acc.id, read_on=read_on, value_milli=base + 168_400, usage_milli=168_400,
                           source="billing", external_id=f"DEMO-R12-{held_acc.number}")
    b.session.add(reading)
    await b.session.flush()
    charge = {"account_id": held_acc.id, "kind": LedgerKind.charge.value, "amount_fen": -47152,
              "posted_at": datetime.combine(read_on, time(10), tzinfo=LOCAL_TZ).isoformat(),
              "period": read_on.strftime("%Y-%m"), "quantity_milli": 168_400, "description": "月度费用 Monthly charge",
              "external_id": f"DEMO-C12-{held_acc.number}", "source": "billing", "telegram_charge_id": None}
    b.session.add(BillCorrection(account_id=held_acc.id, reading_id=reading.id, period=charge["period"],
                                 status=CorrectionStatus.reread, suspicious_usage_milli=168_400, held=[charge],
                                 required=[], created_at=b.now - timedelta(hours=5)))
    prev = (await b.session.execute(select(MeterReading).where(MeterReading.account_id == fixed_acc.id)
                                    .order_by(MeterReading.read_on.desc()).limit(1))).scalar_one_or_none()
    if prev is not None:
        b.session.add(BillCorrection(
            account_id=fixed_acc.id, reading_id=prev.id, period=prev.read_on.strftime("%Y-%m"),
            status=CorrectionStatus.posted, suspicious_usage_milli=prev.usage_milli + 120_000,
            corrected_usage_milli=prev.usage_milli, volume_milli=120_000, amount_fen=33_600, held=[], required=[],
            note=DEMO_NOTE, created_at=b.now - timedelta(days=15), reread_at=b.now - timedelta(days=14),
            posted_at=b.now - timedelta(days=14)))
        b.session.add(LedgerEntry(account_id=fixed_acc.id, kind=LedgerKind.adjustment, amount_fen=33_600,
                                  posted_at=b.now - timedelta(days=14), period=prev.read_on.strftime("%Y-%m"),
                                  quantity_milli=120_000, description="R12 复抄退补 re-read correction (demo)",
                                  source="staff"))
    b.count("correction")
