"""All feature routers, in dispatch order. The fallback router MUST stay last (a test checks it).

Every router module is a leaf: none imports another (what they share is below them, in bot/navigation.py,
bot/callbacks.py, bot/views/, bot/forms/ and bot/keyboards/), so importing them all here makes no cycle.
"""

from __future__ import annotations

from aiogram import Router

from bot.routers import (
    accounts,
    appointment,
    ask,
    checklist,
    complaint,
    escalation,
    fallback,
    fault,
    guided,
    guides,
    handoff,
    my_requests,
    outages,
    payments,
    proxy,
    reconnection,
    settings,
    start,
    survey,
    tariff,
    topup,
)


def _detached(router: Router) -> Router:
    # Routers are module-level (aiogram's convention) and may have one parent; tests and benchmarks
    # build several Dispatchers in one process, so release a router from its previous Dispatcher.
    parent = router.parent_router
    if parent is not None:
        parent.sub_routers.remove(router)
        router._parent_router = None
    return router


def get_routers() -> list[Router]:
    # Order matters (issue 13: precedence is decided here once, and tests/bot/test_every_update_answered.py checks it):
    #   0. payments: pre-checkout and successful_payment, whatever state or chat the resident is in;
    #   1. guided mode (its own screens, commands included), then start (commands, language) and settings;
    #   2. handoff (a resident talking to a person: text goes to the agent);
    #   3. feature routers with their forms: accounts, requests (fault, appointment, complaint, my requests,
    #      survey), outages, guides;
    #   4. ask (free text -> knowledge matcher);
    #   5. fallback, last.
    routers = [
        payments.router,  # a payment is never swallowed by a form or a chat with staff (issue 13)
        guided.router,  # simple mode takes a guided resident's messages first (issue 8)
        start.router,
        settings.router,
        handoff.router,
        accounts.router, topup.router, tariff.router,  # balance, top-up, water calculator (issue 4)
        proxy.router, reconnection.router,  # R16 proxy applications, R11 reconnection queue (issue 15)
        fault.router, appointment.router, complaint.router, my_requests.router, survey.router,  # issue 5
        outages.router,  # outage notices and district subscriptions (issue 7)
        guides.router,  # guides, checklist and escalation after the feature routers
        checklist.router,
        escalation.router,
        ask.router,  # free text -> knowledge matcher, just before the fallback
        fallback.router,
    ]
    return [_detached(r) for r in routers]
