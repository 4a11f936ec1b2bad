"""Other public services a resident may ask the utility's bot about (issue 14: off-topic questions).

"社保卡丢了怎么补办" shares every word but one with "燃气卡丢了怎么补办", and the one that differs names a
service no topic covers: the matcher ranks the card topic first and may be confident. A question that names
such a service and no utility is never answered outright; it gets the choice instead (so an in-domain
question the list catches by mistake still reaches its topic, one tap away).

The words are general knowledge of the services residents confuse with a utility (health, pensions, papers,
telecoms, transport, post, property management, money and leisure), written for the product, not taken from
any benchmark set. A word that a topic of the catalogue is *about* (its title, keywords, sample questions or
summary) is not foreign for that catalogue: a utility whose catalogue covers broadband or EV chargers keeps
its answers. A word an answer merely mentions does not count: "请及时就医，并告诉医生" (water quality) and
"给手机、充电宝充好电" (outage notice) do not make doctors or power banks the utility's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from knowledge.models import LANGS, Topic
from knowledge.normalize import clean

FOREIGN_ZH = (
    # health
    "医院", "看病", "挂号", "医生", "门诊", "急诊", "体检", "疫苗", "药店", "买药", "牙医", "看牙", "核酸",
    # pensions, insurance, benefits, taxes
    "社保", "医保", "公积金", "养老金", "退休金", "养老保险", "失业金", "失业保险", "个税", "个人所得税", "车险",
    # papers (not 身份证/户口本/房产证, nor a police station or court: a utility asks for their papers)
    "驾照", "驾驶证", "护照", "签证", "通行证", "结婚证", "离婚", "出生证", "落户", "户籍迁",
    # telecoms and devices ("电话费", "电脑", "电信": the 电 in them names no power supply)
    "话费", "电话费", "手机费", "流量", "宽带", "网速", "手机卡", "电话卡", "手机信号", "充电宝", "手机坏",
    "电脑", "电视", "电信", "联通", "移动公司", "路由器", "机顶盒", "光纤",
    # transport, post, property (not 邮局: some post offices take utility bills)
    "火车票", "机票", "高铁", "地铁", "公交卡", "出租车", "打车", "违章", "罚单", "停车费", "加油站", "车管所",
    "年检", "驾校", "快递", "外卖", "包裹", "物业费", "门禁", "电梯坏", "垃圾分类", "路灯",
    # bottled water is not the tap's
    "矿泉水", "桶装水",
    # money, work and leisure (not 信用卡/工资: residents pay by card or from their salary account)
    "股票", "彩票", "基金", "贷款", "房贷", "理财", "招聘", "找工作", "电影", "餐厅", "饭店", "酒店", "旅游",
    "景点", "门票", "演唱会", "健身", "天气", "游戏", "学校", "上学", "入学", "幼儿园", "考试", "高考",
)
FOREIGN_EN = frozenset((
    "doctor", "doctors", "hospital", "clinic", "dentist", "gp", "vaccine", "vaccination", "pharmacy", "prescription",
    "pension", "tax", "taxes", "passport", "visa", "broadband", "internet", "wifi", "sim", "mobile", "phone",
    "router", "parcel", "courier", "pizza", "takeaway", "restaurant", "recipe", "taxi", "train", "flight",
    "flights", "bus", "metro", "subway", "uber", "airport", "parking", "weather", "school", "university",
    "teacher", "exam", "homework", "mortgage", "loan", "stocks", "lottery", "movie", "cinema", "concert", "gym",
    "hotel", "football", "netflix", "joke", "tv", "television", "laptop", "computer",
    # phrases: "phone" alone may be how a resident pays their gas bill; "insurance" alone may be the gas policy's
    "phone bill", "mobile bill", "phone credit", "phone contract", "phone top up", "top up my phone", "cable tv",
    "street light", "streetlight", "access card", "key fob", "car insurance", "health insurance", "driving licence",
    "driving license", "drivers license", "driver s license",
))
# A question that names its utility is about the utility whatever else it names ("用手机交水费"), and so is
# one that names a part of a supply without 气/水/电 ("一开电视就跳闸", "抄表员进不了门禁").
UTILITY_ZH = re.compile(r"[气水电燃煤]|跳闸|插座|保险丝|空开|灯|抄表|阀门|管道|管子|表前|表后")
# Everyday words whose 电/气/水 names no supply ("医院电话多少", "彩票运气"): dropped before looking for one.
NOT_A_SUPPLY_ZH = re.compile(r"电话|电梯|电影|电子|电池|客气|生气|空气|运气|气温|水果|薪水|水平")
UTILITY_EN = frozenset((
    "gas", "water", "electric", "electricity", "power", "meter", "boiler", "stove", "pipe", "pipes", "outage",
    "blackout", "utility", "utilities", "light", "lights", "heating", "heater", "radiator", "tap", "taps", "fuse",
    "socket", "sockets",
))
_WORD = re.compile(r"[a-z]+")


def _alternation(terms: Iterable[str], boundary: bool) -> re.Pattern[str] | None:
    # Longest first, so "电话费" is taken whole before "话费" (and its 电 is not read as a supply).
    ordered = sorted(terms, key=len, reverse=True)
    if not ordered:
        return None
    body = "|".join(map(re.escape, ordered))
    return re.compile(rf"(?<![a-z])(?:{body})(?![a-z])" if boundary else body)


class ForeignTerms:
    """The foreign words of one catalogue: the lists above minus what its topics say themselves."""

    def __init__(self, topics: Iterable[Topic]) -> None:
        # Topics are written in simplified Chinese: case folding is all their text needs.
        corpus = " ".join(text for topic in topics for text in _texts(topic)).casefold()
        words = set(_WORD.findall(corpus))

        def used(term: str) -> bool:  # a word by lookup; a phrase ("phone bill") by a search of the text
            if " " not in term:
                return term in words
            return re.search(rf"(?<![a-z]){re.escape(term)}s?(?![a-z])", corpus) is not None  # "street lights"

        self._zh = _alternation((w for w in FOREIGN_ZH if w not in corpus), boundary=False)
        self._en = _alternation((w for w in FOREIGN_EN if not used(w)), boundary=True)

    def named(self, text: str) -> bool:
        """The question names another service and no utility (outside the service's own name)."""
        rest, hits = clean(text), 0
        for pattern in (self._zh, self._en):
            if pattern is not None:
                rest, n = pattern.subn(" ", rest)
                hits += n
        if not hits:
            return False
        return not UTILITY_ZH.search(NOT_A_SUPPLY_ZH.sub(" ", rest)) and UTILITY_EN.isdisjoint(_WORD.findall(rest))


def _texts(topic: Topic) -> Iterable[str]:
    """What a topic is about: its names, sample questions and summary, not its answer's body."""
    for lang in LANGS:
        yield topic.title.get(lang)
        yield topic.summary.get(lang)
        yield from topic.keywords.get(lang)
        yield from topic.questions.get(lang)
