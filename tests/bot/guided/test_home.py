"""Guided mode: home, navigation, settings, talking to a person and calling back, by buttons only."""

from sqlalchemy import select

from db.enums import QuestionOutcome, TicketKind
from db.models import Conversation, QuestionLog, Resident, Ticket
from tests import updates
from tests.support.demo import GRANNY


async def test_start_shows_big_buttons_and_numbers_work(granny) -> None:
    home = await granny.start()
    assert len(home.flat) == 6 and all(b[0].isdigit() for b in home.flat)
    more = await granny.tap("➕")
    assert any("⚡" in b for b in more.flat)
    assert (await granny.home()).flat == home.flat
    # Typing the number is the same as tapping the button.
    assert (await granny.type_number(6)).flat == more.flat
    assert (await granny.back()).flat == home.flat


async def test_typed_text_is_answered_or_after_two_misses_a_person_is_offered(granny, demo_town_guided) -> None:
    await granny.start()
    # (Issue 14: "今天天气怎么样" now gets a choice of the closest topics; a joke request is plainly off-topic.)
    screen = await granny._feed(updates.text("讲个笑话", user_id=GRANNY))
    assert "没听懂" in screen.texts[0] or "did not understand" in screen.texts[0]
    screen = await granny._feed(updates.text("买菜去哪里", user_id=GRANNY))
    assert any("📞" in b for b in screen.flat)  # the person screen: chat or call back


async def test_call_me_back_opens_a_24_hour_ticket_with_the_shared_number(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("👩‍💼")
    await granny.share_contact("13800000003", own=False)  # somebody else's card is refused
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.execute(select(Ticket).where(Ticket.kind == TicketKind.callback))).first() is None
    screen = await granny.share_contact("13800000003")
    async with demo_town_guided.sessionmaker() as s:
        [ticket] = (await s.execute(select(Ticket).where(Ticket.kind == TicketKind.callback))).scalars()
    assert ticket.resident_id == GRANNY and ticket.number in " ".join(screen.texts)
    assert (ticket.deadline_at - ticket.created_at).total_seconds() <= 24 * 3600
    assert any("➕" in b for b in screen.flat)  # back home


async def test_chat_with_a_person_then_typed_text_goes_to_the_agent(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("👩‍💼")
    await granny.tap("💬")
    async with demo_town_guided.sessionmaker() as s:
        [conv] = (await s.execute(select(Conversation).where(Conversation.resident_id == GRANNY))).scalars()
    assert conv.priority >= 1  # simple-mode residents come first
    granny.bot.clear()
    await granny.dp.feed_update(granny.bot, updates.text("我家燃气表不走了", user_id=GRANNY))
    async with demo_town_guided.sessionmaker() as s:
        from db.models import ConversationMessage

        texts = [m.text for m in (await s.execute(select(ConversationMessage))).scalars()]
    assert "我家燃气表不走了" in texts


async def test_settings_language_and_leaving_simple_mode(granny, demo_town_guided) -> None:
    await granny.start()
    await granny.tap("➕")
    await granny.tap("⚙️")
    await granny.tap("🌐")
    screen = await granny.tap("English")
    assert "What do you need" in screen.text
    await granny.tap("➕")
    await granny.tap("⚙️")
    granny.bot.clear()
    await granny.dp.feed_update(granny.bot, updates.text(granny.screen.find("off"), user_id=GRANNY))
    assert "Simple mode is off" in granny.bot.texts()[-1]
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.get(Resident, GRANNY)).guided_mode is False


async def test_voice_note_goes_to_a_person_with_priority(granny, demo_town_guided) -> None:
    await granny.start()
    granny.bot.clear()
    await granny.dp.feed_update(granny.bot, updates.voice(user_id=GRANNY))
    async with demo_town_guided.sessionmaker() as s:
        [conv] = (await s.execute(select(Conversation).where(Conversation.resident_id == GRANNY))).scalars()
    assert conv.priority >= 2 and granny.bot.texts()


async def test_offered_at_first_contact_and_after_two_misses(demo_town_guided, dp, bot) -> None:
    from bot.callbacks import GuidedOffer, GuidedOfferCallback, Lang, LanguageCallback

    new = 777001
    await dp.feed_update(bot, updates.text("/start", user_id=new))
    await dp.feed_update(bot, updates.callback(LanguageCallback(code=Lang.zh).pack(), user_id=new))
    offer = bot.sent()[-1]
    assert "简易" in offer.text and offer.reply_markup.inline_keyboard
    bot.clear()
    await dp.feed_update(bot, updates.callback(GuidedOfferCallback(choice=GuidedOffer.on).pack(), user_id=new))
    home = bot.sent()[-1]
    assert len([b for row in home.reply_markup.keyboard for b in row]) == 6
    async with demo_town_guided.sessionmaker() as s:
        assert (await s.get(Resident, new)).guided_mode is True

    # A resident in the normal mode who is not understood twice is offered simple mode again.
    other = 777002
    await dp.feed_update(bot, updates.text("/start", user_id=other))
    await dp.feed_update(bot, updates.callback(LanguageCallback(code=Lang.zh).pack(), user_id=other))
    bot.clear()
    for text in ("讲个笑话", "股票会涨吗"):  # (issue 14: a weather question now gets a choice)
        await dp.feed_update(bot, updates.text(text, user_id=other))
    buttons = [b.text for row in bot.sent()[-1].reply_markup.inline_keyboard for b in row]
    assert any("简易" in b for b in buttons)


async def test_a_button_of_the_normal_menu_opens_the_same_task_in_simple_mode(granny) -> None:
    await granny.start()
    screen = await granny._feed(updates.text("⚙️ 设置", user_id=GRANNY))  # an old keyboard still on screen
    assert any("🌐" in b for b in screen.flat)


async def test_typed_question_gets_the_same_choice_on_big_buttons(granny, demo_town_guided) -> None:
    """Issue 14: simple mode uses the bot's outcome function; a choice is big reply-keyboard buttons."""
    await granny.start()
    screen = await granny._feed(updates.text("过户", user_id=GRANNY))
    assert any("燃气过户" in b for b in screen.flat) and any("水表过户" in b for b in screen.flat)
    assert any("都不是" in b for b in screen.flat)
    await granny.tap("水表过户")
    async with demo_town_guided.sessionmaker() as s:
        log = (await s.execute(select(QuestionLog).order_by(QuestionLog.id.desc()))).scalars().first()
    assert (log.outcome, log.topic) == (QuestionOutcome.chose, "water.transfer")

    await granny.home()
    await granny._feed(updates.text("过户", user_id=GRANNY))
    screen = await granny.tap("都不是")
    assert any("换个说法" in t for t in screen.texts) and any("👩‍💼" in b for b in screen.flat)
    async with demo_town_guided.sessionmaker() as s:
        log = (await s.execute(select(QuestionLog).order_by(QuestionLog.id.desc()))).scalars().first()
    assert log.outcome is QuestionOutcome.none_of_these


async def test_not_what_i_asked_on_big_buttons_offers_the_runner_ups(granny, demo_town_guided) -> None:
    """Issue 14: the matcher's answer to a typed question has a "not what I asked" button in simple
    mode too; it offers the other topics the matcher ranked, then records the pick."""
    await granny.start()
    screen = await granny._feed(updates.text("燃气怎么过户", user_id=GRANNY))
    assert any("不是我要问的" in b for b in screen.flat)
    screen = await granny.tap("不是我要问的")
    async with demo_town_guided.sessionmaker() as s:
        log = (await s.execute(select(QuestionLog).order_by(QuestionLog.id.desc()))).scalars().first()
    assert (log.outcome, log.topic) == (QuestionOutcome.not_this, "gas.transfer")
    assert not any("燃气过户" in b for b in screen.flat) and any("都不是" in b for b in screen.flat)
    runner_up = next(a["topic"] for a in log.alternatives if a["topic"] != "gas.transfer")
    title = demo_town_guided.catalogue[runner_up].title.zh
    await granny.tap(title[:4])
    async with demo_town_guided.sessionmaker() as s:
        log = (await s.execute(select(QuestionLog).order_by(QuestionLog.id.desc()))).scalars().first()
    assert (log.outcome, log.topic) == (QuestionOutcome.chose, runner_up)
    # A guide opened from the list is the resident's own choice: no such button.
    await granny.home()
    await granny.tap("📚")
    await granny.tap("🔥")
    screen = await granny.tap("欠费停气")
    assert any("欠费停气" in t for t in screen.texts) and not any("不是我要问的" in b for b in screen.flat)
