"""Chinese PII, as Presidio recognizers for the language ``zh``.

- mainland mobile numbers (1[3-9]x, with or without +86 / 0086 and space or dash groups) and
  landlines with an area code (010-12345678);
- resident identity card numbers (GB 11643-1999: 17 digits and a check character, a birth date
  inside): checksum and date valid score 1.0; a well-shaped number whose checksum fails (a typo)
  counts only next to a word such as 身份证 (context), a bad date never;
- bank cards: Luhn-valid 16-19 digit numbers, and UnionPay (62...) numbers that fail Luhn next to
  a word such as 银行卡 (some UnionPay debit cards carry no Luhn digit);
- personal names: jieba's part-of-speech tag ``nr`` on a word that starts with a surname of the
  Hundred Family Surnames list (Faker's zh_CN list: 399 single and compound surnames), and 2-3
  characters after a cue such as 我叫 / 收货人 / 联系人;
- addresses: province / city / district / road / number patterns (北京市朝阳区建国路88号);
- e-mail addresses and IP addresses with ASCII boundaries (``\\w`` and ``\\b`` treat Chinese
  characters as word characters, so the English patterns glue 联系 to an address).

jieba ships its dictionary in the wheel: nothing is downloaded. It builds a prefix cache on first
use (under the system temp folder), a second or two per process.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import threading
from typing import Any, ClassVar

import regex as re
from presidio_analyzer import AnalysisExplanation, EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from governance.privacy.recognizers.cards import luhn_valid
from governance.privacy.recognizers.email import OfflineEmailRecognizer

LANGUAGE = "zh"
HAN = r"\p{Han}"
_HAN = re.compile(HAN)
_LATIN = re.compile(r"[A-Za-z]")

# A text is Chinese when Han characters are at least this share of its letters (Han + Latin).
ZH_MIN_SHARE = 0.3


def han_share(text: str) -> float:
    han = len(_HAN.findall(text))
    if not han:
        return 0.0
    return han / (han + len(_LATIN.findall(text)))


def detect_language(text: str) -> str:
    """``zh`` for text that is mostly Chinese, else ``en``."""
    return LANGUAGE if han_share(text) >= ZH_MIN_SHARE else "en"


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


# ---------------------------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------------------------


class ZhMobileRecognizer(PatternRecognizer):
    CONTEXT: ClassVar[list[str]] = ["手机", "电话", "联系", "号码", "致电", "来电", "微信", "tel", "mobile", "phone"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="ZhMobileRecognizer",
            supported_language=LANGUAGE,
            patterns=[
                Pattern(
                    "mobile",
                    r"(?<![\d+])(?:(?:\+|00)86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}(?!\d)",
                    0.7,
                ),
                Pattern("landline", r"(?<![\d\-])(?:\(0\d{2,3}\)|0\d{2,3}-)\d{7,8}(?![\d\-])", 0.5),
            ],
            context=self.CONTEXT,
        )


# ---------------------------------------------------------------------------------------------
# Resident identity card
# ---------------------------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def resident_id_birth_date(number: str) -> dt.date | None:
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    return born if dt.date(1900, 1, 1) <= born <= dt.date.today() else None


def resident_id_valid(number: str) -> bool:
    """GB 11643: 18 characters, a real birth date inside, and the check character."""
    number = number.upper()
    if not re.fullmatch(r"[1-9]\d{16}[\dX]", number):
        return False
    return resident_id_birth_date(number) is not None and resident_id_check_char(number[:17]) == number[17]


class ZhResidentIdRecognizer(PatternRecognizer):
    CONTEXT: ClassVar[list[str]] = ["身份证", "身份证号", "证件", "公民身份", "id"]

    def __init__(self, supported_language: str = LANGUAGE) -> None:
        super().__init__(
            supported_entity="CN_RESIDENT_ID",
            name="ZhResidentIdRecognizer",
            supported_language=supported_language,
            patterns=[
                Pattern(
                    "resident id",
                    r"(?<![\dA-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
                    r"(?![\dA-Za-z])",
                    0.3,
                )
            ],
            context=self.CONTEXT,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        if resident_id_birth_date(pattern_text) is None:
            return False
        # A wrong check character: a typo or a made-up number, kept only next to a context word.
        return True if resident_id_valid(pattern_text) else None


# ---------------------------------------------------------------------------------------------
# Bank cards
# ---------------------------------------------------------------------------------------------


class ZhBankCardRecognizer(PatternRecognizer):
    CONTEXT: ClassVar[list[str]] = ["银行卡", "卡号", "信用卡", "借记卡", "储蓄卡", "银联", "账号", "账户", "card"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="CREDIT_CARD",
            name="ZhBankCardRecognizer",
            supported_language=LANGUAGE,
            patterns=[
                Pattern("digits", r"(?<![\dA-Za-z])[3-6]\d{15,18}(?![\dA-Za-z])", 0.3),
                Pattern("grouped", r"(?<![\d\-])[3-6]\d{3}(?:[ \-]\d{4}){3}(?:[ \-]?\d{1,3})?(?![\d\-])", 0.3),
            ],
            context=self.CONTEXT,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = "".join(c for c in pattern_text if c.isdigit())
        if not 16 <= len(digits) <= 19:
            return False
        if luhn_valid(digits):
            return True
        # UnionPay debit cards without a Luhn digit: kept next to a card word only.
        return None if digits.startswith("62") else False


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def surnames() -> tuple[frozenset[str], frozenset[str]]:
    """(single-character surnames, compound surnames) from Faker's zh_CN list."""
    from faker.providers.person.zh_CN import Provider

    names = set(Provider.last_names) | {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐"}
    return frozenset(n for n in names if len(n) == 1), frozenset(n for n in names if len(n) > 1)


def surname_of(word: str) -> str | None:
    single, compound = surnames()
    if word[:2] in compound:
        return word[:2]
    if word[:1] in single:
        return word[:1]
    return None


# Characters common in given names (beside Faker's zh_CN given names): a jieba "nr" word whose
# given-name part uses other characters is a word that merely starts with a surname (谢谢, 华为, 金卡).
GIVEN_NAME_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉建文斌宇浩凯健俊帆帅旭宁龙林欣玲慧婷雪琳晶妍"
    "茜倩颖莉梅兰凤云燕丹蕾薇佳嘉琪瑶怡雯璐露悦彤晨阳昊然轩泽睿博子梓涵宸诺依可心思雨语馨婉若安乐天志国海波"
    "飞峰鑫成东亮春雷冬兵宏晓新立家正永光金德福贵荣生祥义仁忠信爱民振兴学庆江山秋月美香珍珠翠芬琴菊莲荷"
    "洁清淑惠贤良勤俭丰富利双宝喜顺达凡彬彪斌承诚达栋锋刚冠翰豪恒弘厚虎吉坚剑锦进京钧康乐力亮琦麟铭楠"
    "鹏奇谦乾青全荣锐瑞森胜世树硕泰腾伟威巍文武熙翔祥潇啸鑫星雄旭轩炎彦耀毅逸勇宇雨昱远跃展哲振政智忠洲"
    "柱卓子紫宗爽硕蓓蓉蕊菲芸芮萱蔓婕媛嫣娇娴姗妮婧婵婷姝妤嫦瑾瑜璇琼琬瑛瑶璟璞珊珍玥钰铃锐霏霖雅静秀"
    "彩翠芝芹芷苗茵荔莎莺蓝薇兰桃柳杨枫松柏梓桐楠榕樱梦晴晗晖晟景智暄曦月朗朦柔欢歆毓永沁泉洋润涵淇源"
    "溪滢澜瀚灵炜烨焕煜熙燕琛璐琦瑞璋瑗皓盈真睿瞳知石磊祺禄福秀程童笑筱粲素紫红纯纹绮维美群羽翎翔聪"
    "育舒航艺芊苒若英茹荷莹菁萌萍蒙蓉蕴薰虹融西言诗诚语贝贤赫超轩辰迪逸遥邦郁鑫锋长雁雯霄露青静韵顺颖"
    "飞馨骏鸣鸿鹤黎默龙冰腾修婉儿淑贞宝丽珺琰媛蕙昕旻晔烁铮峥嵘岚巧倩钧骞骁骥驰鹏鹭鸥凌霆霜雪"
)


@functools.lru_cache(maxsize=1)
def given_name_chars() -> frozenset[str]:
    from faker.providers.person.zh_CN import Provider

    return frozenset(GIVEN_NAME_CHARS) | frozenset("".join(Provider.first_names))


# jieba's dictionary counts words in a large corpus; an "nr" word this frequent is an ordinary word.
COMMON_WORD_FREQ = 1000


def plausible_name(word: str) -> bool:
    """A surname and a given name: a name of three or more characters that jieba's dictionary lists as a
    person's (马化腾, 诸葛亮), or a given name of common given-name characters in a word that is not
    a frequent ordinary word (李娜 yes; 谢谢, 华为 no)."""
    surname = surname_of(word)
    if surname is None or word in NOT_NAMES:
        return False
    given = word[len(surname) :]
    if not 1 <= len(given) <= 2:
        return False
    posseg = _posseg()
    if len(word) >= 3 and posseg.dt.word_tag_tab.get(word) in ("nr", "nrfg"):
        return True
    if not all(c in given_name_chars() for c in given):
        return False
    return (posseg.dt.tokenizer.FREQ.get(word) or 0) < COMMON_WORD_FREQ


_jieba_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _posseg() -> Any:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)  # its start-up chatter goes to stderr otherwise
    with _jieba_lock:
        jieba.initialize()
    return jieba.posseg


def pos_words(text: str) -> list[tuple[str, str, int]]:
    """(word, jieba POS flag, start offset) for each word of ``text``."""
    out, pos = [], 0
    for pair in _posseg().cut(text):
        out.append((pair.word, pair.flag, pos))
        pos += len(pair.word)
    return out


# Words that jieba tags nr although they are no one's name in shop text.
NOT_NAMES = frozenset(
    {
        "王牌",
        "高达",
        "黄金",
        "白金",
        "金牌",
        "马达",
        "马克杯",
        "温馨",
        "何必",
        "高端",
        "雷达",
        "石墨",
        "银行卡",
        "银联",
        "华为",
        "海尔",
        "格力",
        "美的",
        "李宁",
        "安踏",
        "万达",
        "周大福",
        "周黑鸭",
        "马应龙",
        "方太",
        "苏泊尔",
        "九阳",
        "罗技",
        "戴森",
        "宝洁",
        "雷蛇",
        "施华蔻",
        "花王",
        "乐高",
        "孔雀",
        "凤凰",
        "江小白",
        "钟薛高",
    }
)
_NAME_CUE = re.compile(
    r"(?:我叫|我是|名叫|叫做|姓名|收货人|收件人|联系人|寄件人|签收人|客户|买家|先生|女士)[:：]?\s*"
    rf"(?P<name>{HAN}{{2,3}})"
)


class ZhPersonRecognizer(EntityRecognizer):
    """Chinese personal names: jieba ``nr`` words starting with a surname, or 2-3 characters after a cue."""

    CONTEXT: ClassVar[list[str]] = ["姓名", "名字", "收货人", "联系人", "收件人", "我叫"]

    def __init__(self) -> None:
        super().__init__(
            supported_entities=["PERSON"],
            name="ZhPersonRecognizer",
            supported_language=LANGUAGE,
            context=self.CONTEXT,
        )

    def load(self) -> None:
        return None

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        if "PERSON" not in entities or not has_han(text):
            return []
        found: dict[tuple[int, int], float] = {}
        words = pos_words(text)
        single, compound = surnames()
        for i, (word, flag, start) in enumerate(words):
            if flag in ("nr", "nrfg") and plausible_name(word):
                found[(start, start + len(word))] = 0.85
            elif (word in compound or word in single) and i + 1 < len(words):
                # jieba splits some names after the surname: 欧阳 + 娜娜 (nrt).
                given, given_flag, _ = words[i + 1]
                if given_flag in ("nr", "nrt", "nrfg") and plausible_name(word + given):
                    found[(start, start + len(word) + len(given))] = 0.75
        for match in _NAME_CUE.finditer(text):
            # Two or three characters after the cue: the longest that reads as a name.
            name = next((n for n in (match.group("name")[:3], match.group("name")[:2]) if plausible_name(n)), None)
            if name is None:
                continue
            start = match.start("name")
            found[(start, start + len(name))] = max(found.get((start, start + len(name)), 0.0), 0.85)
        return [self._result(s, e, score) for (s, e), score in sorted(found.items())]

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            "PERSON",
            start,
            end,
            score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.name, original_score=score, textual_explanation="jieba nr tag or a name cue"
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )


# ---------------------------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------------------------

PROVINCES = (
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
    "广西壮族",
    "宁夏回族",
    "新疆维吾尔",
)
# Characters that end a clause rather than start a place name ("寄到", "住在", "我的").
_NOT_PLACE_START = "在住于到从往去是的和与及寄送发至我你他她请把给为被让了"
_UNIT = rf"(?![{_NOT_PLACE_START}]){HAN}"
_PROVINCE = "(?:" + "|".join(sorted(PROVINCES, key=len, reverse=True)) + ")(?:省|市|自治区|特别行政区)?"
_CITY = rf"{_UNIT}{HAN}{{1,3}}?(?:市|州|盟|地区)"
_COUNTY = rf"{_UNIT}{HAN}{{0,4}}?(?:区|县|旗)"
_TOWN = rf"(?:{HAN}{{1,5}}?(?:镇|乡|街道))"
_ROAD = rf"(?:{HAN}|[A-Za-z0-9]){{1,8}}?(?:路|街|大道|大街|巷|胡同|弄|道|里)"
_NUMBER = (
    r"(?:[0-9０-９]+(?:号|號)(?:院)?)?"
    r"(?:[ ]?[0-9A-Za-z０-９一二三四五六七八九十]+(?:座|栋|幢|号楼|楼|单元|室|层)){0,4}"
)
_ADMIN = rf"(?:{_PROVINCE}(?:{_CITY})?(?:{_COUNTY})?|{_CITY}(?:{_COUNTY})?|{_COUNTY})"


class ZhAddressRecognizer(PatternRecognizer):
    CONTEXT: ClassVar[list[str]] = ["地址", "住址", "收货", "寄到", "送到", "住在", "配送"]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="STREET_ADDRESS",
            name="ZhAddressRecognizer",
            supported_language=LANGUAGE,
            patterns=[
                # An administrative unit, then a road (and a number): 北京市朝阳区建国路88号.
                Pattern("admin and road", rf"{_ADMIN}{_TOWN}?{HAN}{{0,4}}?{_ROAD}{_NUMBER}", 0.85),
                # A road with a house number alone: 建国路88号.
                Pattern("road and number", rf"{_ROAD}[0-9０-９]+(?:号|號){_NUMBER}", 0.6),
                # Province and city or district, without a road: 浙江省杭州市西湖区.
                Pattern("admin", rf"{_PROVINCE}(?:{_CITY}|{_COUNTY})(?:{_COUNTY})?", 0.5),
            ],
            context=self.CONTEXT,
        )


# ---------------------------------------------------------------------------------------------
# E-mail and IP with ASCII boundaries
# ---------------------------------------------------------------------------------------------


class ZhEmailRecognizer(OfflineEmailRecognizer):
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "email (ascii)",
            r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,63}"
            r"(?![A-Za-z0-9\-])",
            0.5,
        )
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_language=LANGUAGE,
            patterns=self.PATTERNS,
            context=["邮箱", "电子邮件", "邮件", "email", "mail"],
        )


class ZhIpRecognizer(PatternRecognizer):
    def __init__(self) -> None:
        super().__init__(
            supported_entity="IP_ADDRESS",
            name="ZhIpRecognizer",
            supported_language=LANGUAGE,
            patterns=[
                Pattern("ipv4", r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])", 0.6),
                Pattern("ipv6", r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f:]{1,4}(?![0-9A-Fa-f:])", 0.6),
            ],
            context=["ip", "地址", "登录"],
        )

    def validate_result(self, pattern_text: str) -> bool:
        try:
            ipaddress.ip_address(pattern_text)
        except ValueError:
            return False
        return True


def zh_recognizers() -> list[EntityRecognizer]:
    return [
        ZhMobileRecognizer(),
        ZhResidentIdRecognizer(),
        ZhBankCardRecognizer(),
        ZhPersonRecognizer(),
        ZhAddressRecognizer(),
        ZhEmailRecognizer(),
        ZhIpRecognizer(),
    ]
