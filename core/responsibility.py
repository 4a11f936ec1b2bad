"""R8: faults that are not the utility's responsibility are explained, with where to turn.

From the regulations (003 §5.3 "分析故障不属于我企业处理范围的，应向客户说明，并引导客户处理办法"; 001: the gas
company repairs the appliances it sold itself and does paid repairs; 004: the building's secondary water
supply is the property manager's): one case per utility, offered in the fault flows beside the ordinary
categories. The resident can still report it to us (nothing is refused outright).
"""

from __future__ import annotations

from enum import StrEnum

from db.enums import Utility


def N_(message: str) -> str:
    return message


class Boundary(StrEnum):
    appliance = "appliance"  # gas: inside a stove / water heater bought elsewhere
    shared_pipes = "shared_pipes"  # water: the building's shared pipes, pumps and roof tanks
    beyond_meter = "beyond_meter"  # power: the home's wiring after the meter


BOUNDARY_OF: dict[Utility, Boundary] = {
    Utility.gas: Boundary.appliance,
    Utility.water: Boundary.shared_pipes,
    Utility.power: Boundary.beyond_meter,
}

# Button labels, short enough for simple mode (2–12 Chinese characters).
BUTTONS: dict[Boundary, str] = {
    Boundary.appliance: N_("🍳 Appliance bought elsewhere"),
    Boundary.shared_pipes: N_("🏢 Building's shared pipes"),
    Boundary.beyond_meter: N_("🔌 Wiring inside my home"),
}

EXPLANATIONS: dict[Boundary, str] = {
    Boundary.appliance: N_(
        "🍳 A fault inside a gas stove or water heater that was bought elsewhere is repaired by its maker: please "
        "call the after-sales number on its warranty card or label. We answer for the gas pipes and the meter up to "
        "the stove valve, and we can also repair an appliance as a paid visit (📅 Book a visit → Gas appliance "
        "repair).\n⚠️ If you smell gas, close the stove valve, open the windows and report a gas leak at once."),
    Boundary.shared_pipes: N_(
        "🏢 The pipes, pumps and roof tanks your building shares (the secondary water supply) are looked after by "
        "your property management company, not by the water company: please call its office. If the whole street "
        "has no water, or a main in the road leaks, that is ours: report it here."),
    Boundary.beyond_meter: N_(
        "🔌 The wiring after your electricity meter (sockets, switches, lamps and the breaker box in your home) "
        "belongs to the home owner: reset a tripped breaker, or call a licensed electrician or your property "
        "management. If the whole building or street is dark, or the meter itself is faulty, that is ours: "
        "report it here."),
}

REPORT_ANYWAY = N_("📝 Report it anyway")


def boundary_for(utility: Utility | str) -> Boundary:
    return BOUNDARY_OF[Utility(utility)]
