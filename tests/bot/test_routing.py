"""Issue 13, item 4: the routing index (bot/routing.py) chooses the same handler as plain aiogram.

The equivalence test feeds a broad corpus through the real Dispatcher twice per case — once with the index, once
with it removed — from the same FSM state, and records which handler aiogram would run (handlers are recorded,
not run, so neither run changes what the other sees; every middleware and filter runs as in production). The
corpus: every prefix of the product's CallbackData classes with valid and forged payloads, commands, the menu
texts in both languages, free text, photos, documents, contacts, voice, location, an unsupported message, edited
messages, payments (``successful_payment`` and ``pre_checkout_query``); in no state, in every state of every
form, in simple mode and in a chat with staff. Then one unit test per guard kind, each failing without the index.
"""

from __future__ import annotations

import enum
import itertools
import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.dispatcher.middlewares.manager import MiddlewareManager
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import (
    CallbackQuery,
    Chat,
    Document,
    Location,
    Message,
    PhotoSize,
    PreCheckoutQuery,
    SuccessfulPayment,
    Update,
)
from aiogram.utils.i18n import I18n

import bot.routers  # noqa: F401  (registers every CallbackData class and StatesGroup)
from bot.app import build_dispatcher, build_i18n
from bot.keyboards.callback_int import CallbackInt
from bot.keyboards.menu import ESCAPE_TEXTS, MAIN_MENU
from bot.middlewares.forms import TOUCHED
from bot.routing import install_routing_index, remove_routing_index
from core import handoff
from core.i18n import LOCALES
from db.enums import ConversationStatus
from db.models import Resident
from tests import updates
from tests.support.demo import LINA, WANG, ZHANG

_ids = itertools.count(7_000_000)


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def _field_values(annotation: Any) -> list[str]:
    """Strings a field may carry on a button: every enum value, ints in and out of range, words."""
    args = typing.get_args(annotation)
    base = args[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    if typing.get_origin(base) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        base = next((a for a in typing.get_args(base) if a is not type(None)), str)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return [str(m.value) for m in base]
    if base is bool:
        return ["1", "0"]
    if base is int:
        return ["1", "0", "-1", str(2**63)]  # 2**63: forged, out of range
    return ["water", "water.water_leak", "", "x"]


def callback_corpus() -> list[str]:
    datas = {"zz:stale", "x", "flt", "flt:", "FLT:u:water", "top:start:1", "acc:view:1:2:3", ":"}
    for cls in _subclasses(CallbackData):
        prefix, sep = cls.__prefix__, cls.__separator__
        values = [_field_values(f.annotation) for f in cls.model_fields.values()]
        # every value of each field once, the others at their first value (and the full product when small)
        combos = list(itertools.islice(itertools.product(*values), 12))
        for i, vals in enumerate(values):
            for v in vals:
                combos.append(tuple(v if j == i else values[j][0] for j in range(len(values))))
        for combo in combos:
            datas.add(sep.join((prefix, *combo)))
        datas.add(prefix)  # forged: too few parts
        datas.add(sep.join((prefix, *(v[0] for v in values), "extra")))  # forged: too many
    return sorted(datas)


def _translated(i18n: I18n, item: Any) -> set[str]:
    msgid = item._args[0]
    return {msgid, *(i18n.gettext(msgid, locale=loc) for loc in LOCALES)}


def text_corpus(i18n: I18n) -> list[str]:
    from bot.routers.escalation import IN_CHAT

    texts = {"/start", "/start ref_abc", "/menu", "/MENU", "/menu@onestop_bot", "/menu@other_bot", " /menu",
             "/help", "/cancel", "/tariff", "/deleteaccount", "/", "取消", "cancel", "Cancel", "hello",
             "城东区人民路12号3单元502", "厨房水管接头漏水", "123456", " 654321 ", "13812345678", "250", "3",
             "水费多少钱", "how much is water", "2026-12-01", "明天", "yes", "1"}
    for item in (*MAIN_MENU, *ESCAPE_TEXTS, IN_CHAT):
        texts |= _translated(i18n, item)
    return sorted(texts)


def _message(user_id: int, **kw: Any) -> Message:
    return Message(message_id=next(_ids), date=datetime.now(UTC), chat=Chat(id=user_id, type="private"),
                   from_user=updates.user(user_id), **kw)


# In a form's state: one text of each kind (the full text corpus is played in no state).
SAMPLE_TEXTS = {"/menu", "/start", "/cancel", "/tariff", "/deleteaccount", " /menu", "取消", "Cancel", "hello",
                "城东区人民路12号3单元502", "123456", "13812345678", "250", "2026-12-01", "🛠 故障报修",
                "🛠 Report a fault", "👩‍💼 Talk to a person", "💬 Answer me here in the chat", "💬 直接在聊天中回复我"}


def message_corpus(user_id: int, i18n: I18n, sample: bool = False) -> list[tuple[str, Update]]:
    photo = [PhotoSize(file_id="p", file_unique_id="pu", width=10, height=10)]
    doc = Document(file_id="d", file_unique_id="du", file_name="a.pdf")
    paid = SuccessfulPayment(currency="CNY", total_amount=100, invoice_payload="not-ours",
                             telegram_payment_charge_id="c", provider_payment_charge_id="p")
    cases: list[tuple[str, Update]] = [
        (f"text {t!r}", updates.text(t, user_id=user_id)) for t in text_corpus(i18n)
        if not sample or t in SAMPLE_TEXTS]
    cases += [
        ("photo", Update(update_id=next(_ids), message=_message(user_id, photo=photo))),
        ("photo with caption /menu", Update(update_id=next(_ids),
                                             message=_message(user_id, photo=photo, caption="/menu"))),
        ("document", Update(update_id=next(_ids), message=_message(user_id, document=doc))),
        ("location", Update(update_id=next(_ids),
                            message=_message(user_id, location=Location(latitude=30.0, longitude=120.0)))),
        ("own contact", updates.contact("13812345678", user_id=user_id)),
        ("someone's contact", updates.contact("13812345678", user_id=user_id, contact_user_id=1)),
        ("voice", updates.voice(user_id=user_id)),
        ("dice", updates.sticker_like(user_id=user_id)),
        ("successful_payment", Update(update_id=next(_ids), message=_message(user_id, successful_payment=paid))),
        ("pre_checkout_query", Update(update_id=next(_ids), pre_checkout_query=PreCheckoutQuery(
            id=str(next(_ids)), from_user=updates.user(user_id), currency="CNY", total_amount=100,
            invoice_payload="not-ours"))),
        ("edited text", Update(update_id=next(_ids), edited_message=_message(user_id, text="hello",
                                                                            edit_date=1))),
    ]
    return cases


def all_states() -> list[str | None]:
    names: set[str] = set()
    for group in _subclasses(StatesGroup):
        names |= set(group.__all_states_names__)
    return [None, *sorted(names)]


class Recorder:
    """Records the handler aiogram chose instead of running it (the Dispatcher's own update handler runs)."""

    def __init__(self, dp: Dispatcher) -> None:
        self.dp = dp
        self.chosen: list[str] = []
        self.real_call = HandlerObject.call

    def name(self, handler: HandlerObject) -> str:
        callback = handler.callback
        return f"{getattr(callback, '__module__', '?')}.{getattr(callback, '__qualname__', repr(callback))}" \
               f"#{id(handler)}"

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        recorder = self

        async def call(self: HandlerObject, /, *args: Any, **kwargs: Any) -> Any:  # kwargs hold "handler"
            if any(self is h for h in recorder.dp.update.handlers):
                return await recorder.real_call(self, *args, **kwargs)
            recorder.chosen.append(recorder.name(self))
            return None

        monkeypatch.setattr(HandlerObject, "call", call)


async def _set_state(dp: Dispatcher, bot: Any, user_id: int, raw: str | None, data: dict[str, Any]) -> None:
    state = dp.fsm.get_context(bot, chat_id=user_id, user_id=user_id)
    await state.set_state(raw)
    await state.set_data(data)


async def _choose(dp: Dispatcher, bot: Any, recorder: Recorder, user_id: int, raw: str | None,
                  update: Update) -> str:
    stale = raw is not None and raw.startswith("stale ")  # a form left for days: StaleFormMiddleware closes it
    raw = raw.removeprefix("stale ") if raw is not None else None
    await _set_state(dp, bot, user_id, raw, {TOUCHED: 0.0} if stale else {})
    recorder.chosen.clear()
    bot.clear()
    await dp.feed_update(bot, update)
    # What the middlewares did must not differ either: what they sent, and the state they left.
    sent = [f"{type(r).__name__}({getattr(r, 'text', None)})" for r in bot.requests
            if type(r).__name__ != "GetMe"]  # asked once, then cached by the Bot
    after = await dp.fsm.get_context(bot, chat_id=user_id, user_id=user_id).get_state()
    return f"{','.join(recorder.chosen) or '(no handler)'} sent {sent} state {after}"


def _fresh(update: Update) -> Update:
    """The same update with new ids (the double-tap guard must not see the second run as a repeat)."""
    q = update.callback_query
    if q is not None:
        q = q.model_copy(update={"id": str(next(_ids)),
                                 "message": q.message.model_copy(update={"message_id": next(_ids)})})
        return update.model_copy(update={"update_id": next(_ids), "callback_query": q})
    return update.model_copy(update={"update_id": next(_ids)})


@pytest.fixture
async def residents(demo_town, ctx):
    """WANG as he is; ZHANG in simple mode; LINA in an active chat with staff, WANG's neighbour... queued."""
    async with ctx.sessionmaker() as session:
        (await session.get(Resident, ZHANG)).guided_mode = True
        lina = await session.get(Resident, LINA)
        conv = await handoff.request_handoff(session, ctx=ctx, resident=lina, reason=handoff.Reason.button)
        conv.status = ConversationStatus.active
        await session.commit()
    return {"plain": WANG, "simple mode": ZHANG, "chat with staff": LINA}


async def test_the_index_chooses_the_same_handler_as_aiogram(ctx, residents, bot, monkeypatch) -> None:
    ctx.settings.flood_burst = 1_000_000
    dp = build_dispatcher(ctx, storage=MemoryStorage())
    index = dp.routing_index  # type: ignore[attr-defined]
    recorder = Recorder(dp)
    recorder.install(monkeypatch)
    i18n = build_i18n(ctx)
    states = all_states()
    assert len(states) > 30  # every form's states

    # Per callback prefix, the states its handlers ask for (plus none and one that no handler asks for).
    def relevant(data: str) -> list[str | None]:
        wanted: set[str | None] = {None, "Guided:active", "FaultForm:confirm"}
        prefix = data.split(":", 1)[0]
        for hg in index.handlers.values():
            if hg.callback_prefix == prefix:
                for f in hg.handler.filters or []:
                    cb = getattr(f.callback, "__wrapped__", f.callback)
                    if isinstance(cb, State):
                        wanted.add(cb.state)
                    elif isinstance(cb, StateFilter):
                        for s in cb.states:
                            if isinstance(s, State):
                                wanted.add(s.state)
                            elif isinstance(s, type) and issubclass(s, StatesGroup):
                                wanted |= set(s.__all_states_names__)
        return sorted(wanted, key=str)

    prefixes = {cls.__prefix__ for cls in _subclasses(CallbackData)}
    cases: list[tuple[str, int, str | None, Update]] = []
    for who, uid in residents.items():
        for raw in states if who == "plain" else [None, *states[1::7]]:
            for label, update in message_corpus(uid, i18n, sample=raw is not None):
                cases.append((f"{who}: {label} in {raw}", uid, raw, update))
        for data in callback_corpus():
            well_formed = data.split(":", 1)[0] in prefixes and data.count(":") >= 1
            for raw in relevant(data) if who == "plain" and well_formed else [None]:
                cases.append((f"{who}: tap {data!r} in {raw}", uid, raw,
                              updates.callback(data, user_id=uid, message_id=next(_ids))))
    for raw in ("FaultForm:location", "VisitForm:phone", "ComplaintForm:text", "SurveyForm:comment"):
        for label, update in [*message_corpus(WANG, i18n, sample=True)[::3],
                              ("tap flt:ok:1", updates.callback("flt:ok:1", user_id=WANG)),
                              ("stale tap", updates.callback("zz:stale", user_id=WANG))]:
            cases.append((f"plain: {label} in a stale {raw}", WANG, f"stale {raw}", update))
    assert len(cases) > 2000

    differences = []
    chosen_handlers: set[str] = set()
    for label, uid, raw, update in cases:
        with_index = await _choose(dp, bot, recorder, uid, raw, update)
        remove_routing_index(dp)
        plain = await _choose(dp, bot, recorder, uid, raw, _fresh(update))
        install_routing_index(dp, index)
        if with_index != plain:
            differences.append(f"{label}: index {with_index} != aiogram {plain}")
        chosen_handlers.add(plain)
    print(f"{len(cases)} cases, {len(chosen_handlers)} distinct handlers chosen, skipped: {index.skipped_routers} "
          f"routers, {index.skipped_handlers} handlers")
    assert differences == []
    # The corpus reaches most of the product's handlers, not just the fallback.
    assert len(chosen_handlers) > 100, len(chosen_handlers)
    assert index.skipped_handlers > 0 and index.skipped_routers > 0


# --- one unit test per guard kind: each fails without the index --------------------------------------------


class Picked(CallbackData, prefix="pk"):
    n: CallbackInt  # every CallbackData int is bounded (tests/bot/test_every_update_answered.py)


class Form(StatesGroup):
    step = State()
    other = State()


def _counting(router: Router, calls: list[str]) -> Router:
    """Wraps every filter so the test sees which filters aiogram evaluated."""
    for observer in router.observers.values():
        for handler in observer.handlers:
            for f in handler.filters or []:
                real = f.call

                async def call(*args: Any, _real: Any = real, _name: str = handler.callback.__name__,
                               **kwargs: Any) -> Any:
                    calls.append(_name)
                    return await _real(*args, **kwargs)

                f.call = call  # type: ignore[method-assign]
    return router


async def _feed(router: Router, bot: Any, *events: Update, index: bool = True) -> list[str]:
    calls: list[str] = []
    dp = Dispatcher(storage=MemoryStorage())
    dp.include_router(_counting(router, calls))
    if index:
        install_routing_index(dp)
    for event in events:
        await dp.feed_update(bot, event)
    return calls


def _router_with(*filters: Any, event: str = "message", catch_all: bool = True) -> tuple[Router, list[str]]:
    router = Router()
    ran: list[str] = []

    async def guarded(*args: Any, **kwargs: Any) -> None:
        ran.append("guarded")

    async def rest(*args: Any, **kwargs: Any) -> None:
        ran.append("rest")

    getattr(router, event).register(guarded, *filters)
    if catch_all:
        getattr(router, event).register(rest)
    return router, ran


@pytest.mark.parametrize("index", [True, False])
async def test_callback_data_guard_skips_other_prefixes(bot, index) -> None:
    router, ran = _router_with(Picked.filter(F.n == 1), event="callback_query")
    calls = await _feed(router, bot, updates.callback("zz:stale"), updates.callback("pk:1:2"),
                        updates.callback("pk:1"), index=index)
    assert ran == ["rest", "rest", "guarded"]  # same answers either way
    assert calls.count("guarded") == (1 if index else 3)  # only the well-formed "pk" data is unpacked


@pytest.mark.parametrize("index", [True, False])
async def test_command_guard(bot, index) -> None:
    router, ran = _router_with(Command("menu", "start"))
    calls = await _feed(router, bot, updates.text("hello"), updates.text("/help"), updates.text("/menu"),
                        updates.text(" /start now"), index=index)
    assert ran == ["rest", "rest", "guarded", "guarded"]
    assert calls.count("guarded") == (2 if index else 4)


@pytest.mark.parametrize("index", [True, False])
async def test_text_guard_with_a_lazy_menu_text(bot, ctx, index) -> None:
    from bot.keyboards.menu import MENU_FAULT

    i18n = build_i18n(ctx)
    router, ran = _router_with(F.text == MENU_FAULT)
    with i18n.context(), i18n.use_locale("en"):
        calls = await _feed(router, bot, updates.text("hello"), updates.text("🛠 Report a fault"),
                            updates.text("🛠 故障报修"), index=index)
    # In English only the English text matches (the filter still decides); the guard lets both languages by.
    assert ran == ["rest", "guarded", "rest"]
    assert calls.count("guarded") == (2 if index else 3)


@pytest.mark.parametrize("index", [True, False])
async def test_field_guards(bot, index) -> None:
    router, ran = _router_with(F.photo | F.document)
    router2, ran2 = _router_with(F.text.casefold().in_({"cancel"}))
    photo = Update(update_id=next(_ids), message=_message(updates.RESIDENT, photo=[
        PhotoSize(file_id="p", file_unique_id="pu", width=1, height=1)]))
    calls = await _feed(router, bot, updates.text("hi"), photo, index=index)
    calls2 = await _feed(router2, bot, updates.voice(), updates.text("Cancel"), index=index)
    assert ran == ["rest", "guarded"] and ran2 == ["rest", "guarded"]
    assert calls.count("guarded") == (1 if index else 2)
    assert calls2.count("guarded") == (1 if index else 2)


@pytest.mark.parametrize("index", [True, False])
async def test_state_guard(bot, index) -> None:
    router, ran = _router_with(Form.step)
    router2, ran2 = _router_with(StateFilter(Form))
    calls = await _feed(router, bot, updates.text("a"), index=index)
    calls2 = await _feed(router2, bot, updates.text("a"), index=index)
    assert ran == ["rest"] and ran2 == ["rest"]
    assert calls.count("guarded") == (0 if index else 1)
    assert calls2.count("guarded") == (0 if index else 1)


async def test_a_router_that_cannot_match_is_skipped_but_outer_middlewares_still_run(bot) -> None:
    seen: list[str] = []
    guarded, _ = _router_with(Picked.filter(), event="callback_query", catch_all=False)
    with_middleware, _ = _router_with(Picked.filter(), event="callback_query")

    async def outer(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        seen.append("outer")
        return await handler(event, data)

    async def inner(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        seen.append("inner")
        return await handler(event, data)

    with_middleware.callback_query.outer_middleware(outer)
    with_middleware.callback_query.middleware(inner)
    dp = Dispatcher(storage=MemoryStorage())
    dp.include_routers(guarded, with_middleware)
    index = install_routing_index(dp)
    await dp.feed_update(bot, updates.callback("zz:stale"))
    assert index.skipped_routers == 1  # the first router; the second has an outer middleware: entered
    assert seen == ["outer", "inner"]  # its outer middleware ran, and its inner one around "rest"


async def test_a_handler_registered_after_the_index_is_still_reached(bot) -> None:
    router, ran = _router_with(Picked.filter(), event="callback_query", catch_all=False)
    dp = Dispatcher(storage=MemoryStorage())
    dp.include_router(router)
    install_routing_index(dp)

    async def late(query: CallbackQuery) -> None:
        ran.append("late")

    router.callback_query.handlers.insert(0, HandlerObject(callback=late, filters=[]))
    await dp.feed_update(bot, updates.callback("zz:stale"))
    assert ran == ["late"]


async def test_a_router_whose_outer_middleware_only_passes_through_is_skipped(bot) -> None:
    seen: list[str] = []

    class Transparent:
        def passes_through(self, event: Any, data: dict[str, Any]) -> bool:
            return data.get("raw_state") is None

        async def __call__(self, handler: Any, event: Any, data: dict[str, Any]) -> Any:
            seen.append(f"middleware in {data.get('raw_state')}")
            return await handler(event, data)

    router, ran = _router_with(Picked.filter(), event="callback_query", catch_all=False)
    router.callback_query.outer_middleware(Transparent())
    dp = Dispatcher(storage=MemoryStorage())
    dp.include_router(router)
    index = install_routing_index(dp)
    await dp.feed_update(bot, updates.callback("zz:stale"))  # passes through, cannot match: skipped
    assert seen == [] and index.skipped_routers == 1
    await dp.fsm.get_context(bot, updates.RESIDENT, updates.RESIDENT).set_state("Form:step")
    await dp.feed_update(bot, updates.callback("zz:stale"))  # the middleware would act: entered
    await dp.feed_update(bot, updates.callback("pk:1"))
    assert seen == ["middleware in Form:step", "middleware in Form:step"] and ran == ["guarded"]


async def test_routers_without_middlewares_are_entered_without_aiograms_wrappers(bot, monkeypatch) -> None:
    """aiogram wraps every router an event enters, and every handler call, in a middleware chain even when
    there is no middleware (functools.wraps per update); the index calls them directly, with the same data."""
    got: dict[str, Any] = {}
    inner_router = Router(name="inner")

    @inner_router.callback_query(Picked.filter())
    async def picked(query: CallbackQuery, callback_data: Picked, event_router: Router, **data: Any) -> None:
        got.update(number=callback_data.n, router=event_router, extra=data.get("extra"))

    outer_router = Router(name="outer")
    outer_router.include_router(inner_router)
    dp = Dispatcher(storage=MemoryStorage(), extra="workflow")
    dp.include_router(outer_router)
    install_routing_index(dp)
    wraps: list[int] = []
    original = MiddlewareManager.wrap_middlewares

    def counting(middlewares: Any, handler: Any) -> Any:
        wraps.append(len(middlewares))
        return original(middlewares, handler)

    monkeypatch.setattr(MiddlewareManager, "wrap_middlewares", staticmethod(counting))
    await dp.feed_update(bot, updates.callback(Picked(n=7).pack()))
    assert got == {"number": 7, "router": inner_router, "extra": "workflow"}
    # Only the Dispatcher's own update chain (errors, user context, FSM) and its update handler remain; plain
    # aiogram also wraps the Dispatcher, both routers and the handler call.
    assert wraps == [3, 0]
