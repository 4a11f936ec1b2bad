"""Guided mode: my balance, top-up, linking an account by sharing one's own number, and family help (R15, R16).

Nothing about an account is shown before the proof of ownership: the resident's OWN contact whose phone is on
file (then the matching accounts are offered as big buttons), or the account number and the 6-digit code on the
bill (typed by a family member helping a relative). Someone else's contact is refused and counts as a failed
attempt under core.accounts' lock rules. Top-up sends the same Telegram invoice as the normal top-up router.
"""

from __future__ import annotations

import html
import re

from aiogram.utils.i18n import gettext as _

from bot.guided.engine import PAGES, G, Page, page
from bot.guided.ids import BALANCE, GUIDE_TOPIC, HOME_ID, PERSON
from bot.guided.ui import MAX_TEXT, Option, Screen
from bot.views.accounts import chart_photo
from bot.views.topup import problem_text, send_invoice
from core import account_numbers, accounts, ledger
from core.accounts import LinkResult, LinkStatus
from core.clock import local
from core.tariffs import load_tariffs
from db.enums import LinkMethod
from db.models import AccountLink, UtilityAccount

ACCOUNT, TOPUP, PAY = "balance.account", "balance.topup", "balance.pay"
LINK, PICK, NUMBER, CODE, FAMILY = "balance.link", "balance.pick", "balance.number", "balance.code", "balance.family"
FAMILY_RELATION = "balance.family.relation"  # R16 proxy form: bot/routers/guided/family.py
PROXY_TOPIC = "general.proxy"
_CODE = re.compile(r"^\s*([0-9０-９]{6})\s*$")


# --- words ------------------------------------------------------------------------------------------------------


def account_label(account: UtilityAccount) -> str:
    """A big button: the utility and the street (🔥 燃气 人民路12号); never the holder's name or room."""
    return f"{accounts.UTILITY_ICONS[account.utility]} {_(accounts.UTILITY_LABELS[account.utility])} " \
           f"{accounts.short_address(account)}"


def balance_message(link: AccountLink, summary: accounts.AccountSummary, lang: str) -> str:
    """The balance in plain words, a few short lines (≤ 300 characters)."""
    account = link.account
    lines = [html.escape(account_label(account))]
    if summary.balance_fen < 0:
        lines.append(_("You owe {amount}. Please pay it soon.").format(
            amount=ledger.format_fen(summary.arrears_fen, lang)))
    else:
        lines.append(_("Money left: {amount}.").format(amount=ledger.format_fen(summary.credit_fen, lang)))
        if summary.days_left is not None and 0 < summary.days_left <= 365:
            lines.append(_("That is enough for about {days} days.").format(days=summary.days_left))
    if summary.last_payment_fen is not None and summary.last_payment_at is not None:
        lines.append(_("Last payment: {amount} on {date}.").format(
            amount=ledger.format_fen(summary.last_payment_fen, lang),
            date=accounts.format_day(summary.last_payment_at, lang)))
    if link.relation == "relative":
        lines.append(_("This is a relative's account. You act for them."))
    text = "\n".join(lines)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def locked_message(until) -> str:
    return _("For your safety, linking is paused for a while after several failed tries. "
             "Please try again after {time}, or ask a person.").format(time=local(until).strftime("%H:%M"))


def split_sentences(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Short messages from a longer text: whole sentences, each message within ``limit`` characters."""
    parts = [p for p in re.split(r"(?<=[。！？.!?])\s*", text.strip()) if p]
    out: list[str] = []
    for part in parts:
        while len(part) > limit:  # one very long sentence: cut it
            out.append(part[:limit])
            part = part[limit:]
        if out and len(out[-1]) + 1 + len(part) <= limit // 2:
            out[-1] = f"{out[-1]} {part}" if part.isascii() else out[-1] + part
        else:
            out.append(part)
    return out


# --- shared steps -----------------------------------------------------------------------------------------------


async def send_chart(g: G, link: AccountLink) -> None:
    """The 12-month usage chart, as the normal balance view sends it (when there are readings)."""
    summary = await accounts.account_summary(g.session, link.account, now=g.ctx.clock.now())
    photo = await chart_photo(summary, g.locale)
    if photo is not None:
        await g.message.answer_photo(photo, caption=_("Your use in the last 12 months."))


def open_account(g: G, account_id: int) -> None:
    """Show an account's balance; Back from it goes to the list of accounts, never into a finished form."""
    g.data["acc"] = account_id
    g.stack = [{"id": HOME_ID}, {"id": BALANCE}, {"id": ACCOUNT}]


async def after_link(g: G, result: LinkResult) -> bool:
    """Tell the outcome of a linking attempt; True when the account is now linked (and shown)."""
    if result.status is LinkStatus.locked:
        await g.say(locked_message(result.locked_until))
        g.forget("link_phone", "link_number")
        g.stack = [{"id": HOME_ID}, {"id": BALANCE}]
        return False
    if result.status is LinkStatus.not_verified:
        await g.say(_("Sorry, that did not match. Please check and try again. Tries left: {left}.").format(
            left=result.attempts_left))
        return False
    link = result.link
    assert link is not None  # set for a linked (or already linked) account
    if result.status is LinkStatus.linked:
        await g.say(_("✅ Done. The account is now linked: {account}.").format(
            account=html.escape(account_label(link.account))))
    else:
        await g.say(_("This account is already linked to you."))
    g.forget("link_phone", "link_number", "link_for")
    open_account(g, link.account_id)
    return True


async def link_by_contact(g: G, phone: str, own: bool) -> None:
    """The resident shared a contact to prove an account is theirs (or, on file, their relative's)."""
    now = g.ctx.clock.now()
    if not own:
        # Someone else's card proves nothing about the sender: refused, and it counts as a failed try.
        result = await accounts.record_failed_link(g.session, resident=g.resident, now=now)
        await g.say(_("Please tap the button to share your own number. A contact from your address book "
                      "cannot be used."))
        if result.status is LinkStatus.locked:
            await after_link(g, result)
        return
    until = accounts.locked_until(g.resident, now)
    if until is not None:
        await g.say(locked_message(until))
        return
    found = await accounts.accounts_with_phone(g.session, resident_id=g.resident.id, phone=phone)
    if not found:
        await g.say(_("We found no other account with your number on file. You can use the code on the bill, "
                      "or ask a person."))
        return
    g.data["link_phone"] = phone
    g.go(PICK)


def relation(g: G) -> str:
    return "relative" if g.data.get("link_for") == "relative" else "self"


# --- pages ------------------------------------------------------------------------------------------------------


@page
class Balance(Page):
    id = BALANCE

    async def render(self, g: G) -> Screen:
        links = await accounts.links_of(g.session, g.resident.id)
        if not links:
            return Screen(_("You have not linked an account yet. Link it once, then you can see your balance here."),
                          [Option("link", _("🔗 Link my account")), Option("family", _("👪 For a relative"))])
        options = [Option(f"a{link.account_id}", account_label(link.account)) for link in links]
        options += [Option("link", _("🔗 Link another")), Option("family", _("👪 For a relative"))]
        return Screen(_("Your accounts. Tap one to see its balance."), options)

    async def choose(self, g: G, key: str) -> None:
        if key == "link":
            g.data["link_for"] = "self"
            g.go(LINK)
        elif key == "family":
            await start_family(g)
        elif key.startswith("a") and key[1:].isdigit():
            link = await accounts.get_link(g.session, g.resident.id, int(key[1:]))
            if link is None:
                await g.say(_("This account is not linked to you any more."))
                return
            open_account(g, link.account_id)


@page
class Account(Page):
    id = ACCOUNT

    async def render(self, g: G) -> Screen:
        link = await accounts.get_link(g.session, g.resident.id, g.data.get("acc") or 0)
        if link is None:
            return Screen(_("This account is not linked to you any more."), [Option("link", _("🔗 Link my account"))])
        if not g.top.get("chart"):  # the chart once, not again when coming Back to this screen
            g.top["chart"] = True
            await send_chart(g, link)
        summary = await accounts.account_summary(g.session, link.account, now=g.ctx.clock.now())
        options = []
        if link.account.state not in accounts.TOPUP_BLOCKED_STATES:
            options.append(Option("topup", _("💰 Top up")))
        options.append(Option("alerts_off", _("🔕 Stop alerts")) if link.alerts_enabled
                       else Option("alerts_on", _("🔔 Alert me when low")))
        options += [Option("link", _("🔗 Link another")), Option("family", _("👪 For a relative"))]
        return Screen(balance_message(link, summary, g.locale), options)

    async def choose(self, g: G, key: str) -> None:
        if key in ("alerts_on", "alerts_off"):
            on = key == "alerts_on"
            if await accounts.set_alerts(g.session, resident_id=g.resident.id, account_id=g.data.get("acc") or 0,
                                         enabled=on) is not None:
                await g.say(_("🔔 Done. We will tell you when the money runs low or a bill is unpaid.") if on
                            else _("🔕 Done. No more low-credit alerts. Notices of unpaid bills still come."))
        elif key == "topup":
            g.go(TOPUP)
        elif key == "link":
            g.data["link_for"] = "self"
            g.go(LINK)
        elif key == "family":
            await start_family(g)


@page
class Topup(Page):
    id = TOPUP

    async def render(self, g: G) -> Screen:
        link = await accounts.get_link(g.session, g.resident.id, g.data.get("acc") or 0)
        if link is None or link.account.state in accounts.TOPUP_BLOCKED_STATES:
            return Screen(_("This account cannot be topped up here. Please ask a person."),
                          [Option("person", _("👩‍💼 Talk to a person"))])
        summary = await accounts.account_summary(g.session, link.account, now=g.ctx.clock.now())
        low, high = accounts.topup_limits(summary.balance_fen)
        options = []
        if summary.arrears_fen:
            options.append(Option(f"f{summary.arrears_fen}", _("💰 Pay all {amount}").format(
                amount=ledger.format_fen(summary.arrears_fen, g.locale))))
        for fen in load_tariffs().topup.presets_fen:
            if low <= fen <= high and fen != summary.arrears_fen:
                options.append(Option(f"f{fen}", f"💴 {ledger.format_fen(fen, g.locale)}"))
        # An IC-card meter's honesty note (the money must then be loaded onto the card) follows the invoice.
        return Screen(_("How much do you want to pay?"), options)

    async def choose(self, g: G, key: str) -> None:
        if key == "person":
            g.go(PERSON)
            return
        if not (key.startswith("f") and key[1:].isdigit()):
            return
        account_id, amount = g.data.get("acc") or 0, int(key[1:])
        check = await accounts.check_topup(g.session, resident_id=g.resident.id, account_id=account_id,
                                           amount_fen=amount)
        if check.problem is not None:
            await g.say(problem_text(check.problem, check.min_fen, check.max_fen, g.locale))
            return
        await send_invoice(g.message, g.session, g.ctx, g.resident, account_id, amount, g.locale)
        g.data["paying"] = amount
        g.go(PAY)


@page
class Pay(Page):
    id = PAY

    async def render(self, g: G) -> Screen:
        return Screen(_("Tap “Pay” on the bill above. Your receipt will come here."),
                      [Option("balance", _("💳 See my balance"))])

    async def choose(self, g: G, key: str) -> None:
        if key == "balance":
            open_account(g, g.data.get("acc") or 0)


@page
class Link(Page):
    id = LINK

    async def render(self, g: G) -> Screen:
        until = accounts.locked_until(g.resident, g.ctx.clock.now())
        if until is not None:
            return Screen(locked_message(until), [Option("person", _("👩‍💼 Talk to a person"))])
        if relation(g) == "relative":
            text = _("If your own number is on file for your relative's account, share it with the button. "
                     "Or use the code on their bill.")
        else:
            text = _("Tap the button to share your number. It must be the number we have for your account.")
        return Screen(text, [Option("share", _("📱 Share my number"), contact=True),
                             Option("code", _("🔢 Code on the bill")), Option("person", _("👩‍💼 Talk to a person"))])

    async def choose(self, g: G, key: str) -> None:
        if key == "code":
            g.go(NUMBER)
        elif key == "person":
            g.go(PERSON)

    async def contact(self, g: G, key: str, phone: str, own: bool) -> None:
        await link_by_contact(g, phone, own)


@page
class Pick(Page):
    id = PICK

    async def _found(self, g: G) -> list[UtilityAccount]:
        phone = g.data.get("link_phone")
        if not phone:
            return []
        return await accounts.accounts_with_phone(g.session, resident_id=g.resident.id, phone=phone)

    async def render(self, g: G) -> Screen:
        found = await self._found(g)
        if not found:
            return Screen(_("There is no other account to link with your number."),
                          [Option("person", _("👩‍💼 Talk to a person"))])
        text = _("We found these accounts with your number. Which one do you want to link?")
        if relation(g) == "relative":
            text = _("We found these accounts with your number. Which is your relative's?")
        return Screen(text, [Option(f"a{a.id}", account_label(a)) for a in found])

    async def choose(self, g: G, key: str) -> None:
        if key == "person":
            g.go(PERSON)
            return
        chosen = next((a for a in await self._found(g) if f"a{a.id}" == key), None)
        if chosen is None:
            return
        result = await accounts.verify_and_link(g.session, resident=g.resident, number=chosen.number,
                                                method=LinkMethod.contact, proof=g.data["link_phone"],
                                                now=g.ctx.clock.now(), relation=relation(g))
        await after_link(g, result)


@page
class Number(Page):
    id = NUMBER

    async def render(self, g: G) -> Screen:
        number = g.data.get("link_number")
        if number:
            return Screen(_("Account number: {number}. Tap Next, or type another number.").format(number=number),
                          [Option("next", _("➡️ Next"))])
        return Screen(_("Please type the 10-digit account number. It is at the top of the bill."))

    async def choose(self, g: G, key: str) -> None:
        if key == "next" and g.data.get("link_number"):
            g.go(CODE)

    async def text(self, g: G, text: str) -> bool:
        number = account_numbers.clean(text[:64])
        if not account_numbers.is_valid(number):
            await g.say(_("That is not an account number. It has 10 digits and is at the top of the bill. "
                          "Please type it again."))
            return True
        existing = await accounts.own_link_by_number(g.session, g.resident.id, number)
        if existing is not None:
            await g.say(_("This account is already linked to you."))
            g.forget("link_number")
            open_account(g, existing.account_id)
            return True
        g.data["link_number"] = number
        g.go(CODE)
        return True


@page
class Code(Page):
    id = CODE

    async def render(self, g: G) -> Screen:
        return Screen(_("Now type the 6-digit code printed on the same bill."))

    async def choose(self, g: G, key: str) -> None:  # only Back and Home here
        return

    async def text(self, g: G, text: str) -> bool:
        number = g.data.get("link_number")
        if not number:
            g.replace(NUMBER)
            return True
        m = _CODE.match(text)
        if m is None:
            await g.say(_("Please type only the 6 digits of the code."))
            return True
        code = m.group(1).translate(str.maketrans("０１２３４５６７８９", "0123456789"))
        result = await accounts.verify_and_link(g.session, resident=g.resident, number=number,
                                                method=LinkMethod.bill_code, proof=code, now=g.ctx.clock.now(),
                                                relation=relation(g))
        await after_link(g, result)
        return True


async def start_family(g: G) -> None:
    """R16: explain the proxy rules from the general.proxy topic in short messages, then ask the relation and the
    four documents (guided/family.py) before offering the ways to link."""
    topic = g.ctx.catalogue.get(PROXY_TOPIC)
    if topic is not None:
        for part in split_sentences(topic.summary.get(g.lang))[:3]:
            await g.say(html.escape(part, quote=False))
    g.data["link_for"] = "relative"
    g.forget("proxy_rel", "proxy_docs")
    g.go(FAMILY_RELATION)


@page
class Family(Page):
    id = FAMILY

    async def render(self, g: G) -> Screen:
        options = [Option("code", _("🔢 Code on their bill")), Option("share", _("📱 Share my number"), contact=True)]
        if GUIDE_TOPIC in PAGES and g.ctx.catalogue.get(PROXY_TOPIC) is not None:
            options.append(Option("rules", _("📚 Full rules")))
        return Screen(_("To link your relative's account, type the account number and the code from their bill. "
                        "Or share your number if it is on file for their account."), options)

    async def choose(self, g: G, key: str) -> None:
        g.data["link_for"] = "relative"
        if key == "code":
            g.go(NUMBER)
        elif key == "rules":
            g.data["topic"] = PROXY_TOPIC
            g.go(GUIDE_TOPIC)

    async def contact(self, g: G, key: str, phone: str, own: bool) -> None:
        g.data["link_for"] = "relative"
        await link_by_contact(g, phone, own)
