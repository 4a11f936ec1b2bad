"""Choosing a visit's day (R2), shared by booking a visit and moving one (from 📋 My requests or a proposal)."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.keyboards.calendar import calendar_keyboard
from bot.middlewares.forms import TOUCHED
from bot.navigation import show_menu
from core import appointments, slots
from core.context import AppContext
from db.models import Appointment, Resident


class RescheduleForm(StatesGroup):
    day = State()
    window = State()


def too_late_text() -> str:
    return _("This visit can no longer be changed here (changes are possible until 18:00 the day before). "
             "Please talk to a person.")


async def ask_day(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext, resident: Resident,
                  *, day_state: State = RescheduleForm.day, intro: str | None = None) -> None:
    """The next 14 working days with a free place in the form's district; none: the form ends with the menu."""
    district = (await state.get_data())["district"]
    days = await slots.available_days(session, ctx=ctx, district=district, now=ctx.clock.now())
    if not days:
        await state.clear()
        await show_menu(message, resident, _("Sorry, there is no free visit time in {district} in the next 14 working "
                                             "days. Please try again tomorrow or talk to a person.").format(
            district=district))
        return
    await state.set_state(day_state)
    text = _("📆 Choose a day. Only days with a free place are shown.")
    await message.answer(f"{intro}\n{text}" if intro else text,
                         reply_markup=calendar_keyboard(days, resident.language, big=resident.guided_mode))


async def start_reschedule(message: Message, state: FSMContext, session: AsyncSession, ctx: AppContext,
                           resident: Resident, appt: Appointment) -> None:
    """Choose another day and window for an open visit (from 📋 My requests or a proposal)."""
    if not appointments.resident_can_change(appt, ctx.clock.now()):
        await message.answer(too_late_text())
        return
    await state.clear()
    await state.set_data({"appt_id": appt.id, "district": appt.district, TOUCHED: ctx.clock.now().timestamp()})
    await ask_day(message, state, session, ctx, resident,
                  intro=_("Changing visit {number}.").format(number=appt.number))
