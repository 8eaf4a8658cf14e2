"""Claim words: how grounding reads a draft before it looks its claims up.

A model (or a marketer) can smuggle a claim past a checker that knows one spelling of it: "２０％"
in full-width digits, "Frее shipping" with a Cyrillic "е", "f r e e", "🎁 with every order",
"ten percent", "15 euros", "ends Fri". So every text is first *folded* (:func:`fold`) into the
one spelling the patterns know, sources and drafts alike, and the vocabulary of claims that no
pattern can parse into a value (urgency, offer mechanics, widened conditions, words in other
languages) is listed here as :data:`NOVEL_WORDS`: a draft may use such a word only when the
voucher or the original already does. The check itself is :func:`grounding.check`; this module
has no opinion on whether a claim is backed, only on how it is written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from workbench.studio.datefold import MONTHS, foreign_dates, foreign_days

# letters from other scripts that look Latin, typographic quotes and spaces
_LOOKALIKES = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "А": "A", "В": "B", "Е": "E", "К": "K",
    "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "ο": "o", "α": "a",
    "ε": "e", "ν": "v", "ρ": "p", "Ο": "O", "Α": "A", "Ε": "E", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Τ": "T", "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ",
    "\u200b": "", "\u200c": "", "\u200d": "", "\ufe0f": "", "\u2013": "-", "\u2014": " - ",
    "\u00ad": "", "\u2060": "", "\ufeff": "", "\u0406": "I", "\u04c0": "I", "\u0131": "i",
    # small capitals
    **dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ", "ABCDEFGHIJKLMNOPRSTUVWYZ"))})
# pictures that say a claim
_EMOJI = {"\U0001f381": " gift ", "\U0001f193": " free ", "\U0001f69a": " delivery ",
          "\U0001f4e6": " delivery ", "\u23f3": " hurry ", "\u231b": " hurry "}
_EMOJI_RE = re.compile("|".join(map(re.escape, _EMOJI)))
# f r e e, F r e e, V I P (capitals apart, so "as a V I P" stays "as a VIP")
_SPACED = re.compile(r"(?<![\w'])(?:(?:[A-Z] ){2,}[A-Z]|(?![aA] )[A-Za-z](?: [a-z]){2,})(?![\w'])")
_HYPHENED = re.compile(r"(?<![\w-])(?:[A-Za-z][-_*]){2,}[A-Za-z](?![\w-])")   # f-r-e-e, V-I-P
_DOTTED = re.compile(r"(?<![\w.])(?:[A-Za-z]\.){2,}(?:[A-Za-z](?![\w]))?")  # V.I.P.
_FULL_DAYS = {"mon": "Monday", "tue": "Tuesday", "tues": "Tuesday", "wed": "Wednesday",
              "thu": "Thursday", "thur": "Thursday", "thurs": "Thursday", "fri": "Friday",
              "sat": "Saturday", "sun": "Sunday"}
_DAY_ABBR = re.compile(r"\b(ends?|until|till|til|by|before|from|on|this|next|through|valid (?:to|till|"
                       r"until|through))\s+(mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b\.?", re.IGNORECASE)
_MONTH_ABBR = {m[:3]: m for m in MONTHS} | {"sept": "september"}
_MON = r"(january|february|march|april|may|june|july|august|september|october|november|" \
       r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
_RANGE_MONTH = re.compile(rf"\b(\d{{1,2}})\s*(?:[-–]|\bto\b|\btill\b|\buntil\b)\s*(\d{{1,2}})\s+{_MON}\b\.?",
                          re.IGNORECASE)
_MONTH_RANGE = re.compile(rf"\b{_MON}\.?\s+(\d{{1,2}})\s?[-–]\s?(\d{{1,2}})\b(?!\s*(?:%|am|pm|\d))",
                          re.IGNORECASE)
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|\.)?(?:\s+of)?\s+{_MON}\b\.?",
                        re.IGNORECASE)
_MONTH_DAY = re.compile(rf"\b{_MON}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+((?:19|20)\d{{2}})\b)?"
                        rf"(?!\s*(?:%|am|pm|h\b|hrs?\b|hours?\b|days?\b|\d))", re.IGNORECASE)
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(?:(0[1-9]|1[0-2])|(?:(0?[1-9]|1[0-2])/((?:19|20)\d{2})))"
                         r"\b(?!/\d)")  # 30/09, 31/12/2026 (not 24/7)
_DAY_RANGE = re.compile(r"\b(mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\s?-\s?(mon|tues?|wed|thu(?:rs?)?"
                        r"|fri|sat|sun)\b", re.IGNORECASE)
_HOUR_RANGE = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s?(?:-|to)\s?(\d{1,2})(?::(\d{2}))?\s?(am|pm)\b",
                         re.IGNORECASE)
_HALF_HOUR = re.compile(r"\bhalf (?:an )?hour\b|\b30 mins?\b", re.IGNORECASE)
_A_WEEK = re.compile(r"\b(?:a|one|1) week\b(?! (?:ago|of)\b)|\b(?:two|2) weeks\b|\ba fortnight\b",
                     re.IGNORECASE)
_MONTH_END = re.compile(r"\b(?:the )?end of (january|february|march|april|may|june|july|august"
                        r"|september|october|november|december)\b", re.IGNORECASE)
_LAST_DAY = dict(zip(("january february march april may june july august september october "
                      "november december").split(), (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)))
_ABBREV = re.compile(r"\b(tmrw|tmw|tmr|tomoz|2moro|2morrow)\b", re.IGNORECASE)
_SHORT = {"tonite": "tonight", "2nite": "tonight", "2night": "tonight", "midnite": "midnight",
          "wknd": "weekend", "wkend": "weekend", "thru": "through", "nite": "night"}
_SHORT_RE = re.compile(r"\b(" + "|".join(_SHORT) + r")\b", re.IGNORECASE)
_CLOCK = re.compile(r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])(?!\s?(?i:am|pm)\b)")
_ROUND_CLOCK = re.compile(r"\b24 hours a day,? 7 days a week\b", re.IGNORECASE)


def _clock(m: re.Match[str]) -> str:
    h, mins = int(m.group(1)), m.group(2)
    suffix = "am" if h < 12 else "pm"
    h = h % 12 or 12
    return f"{h}{'' if mins == '00' else ':' + mins}{suffix}"


def _month(word: str) -> str:
    w = word.lower()
    return (_MONTH_ABBR.get(w) or w).capitalize()


def fold(text: str | None) -> str:
    """``text`` in the one spelling the claim patterns know: compatibility characters (full
    width, ligatures), look-alike letters, typographic quotes, claim emoji as words, spaced or
    dotted letters joined ("f r e e" -> "free", "V.I.P." -> "VIP"), and dates and weekdays in
    full ("30th Sept", "Sept 30", "30/09" -> "30 September"; "ends Fri" -> "ends Friday")."""
    s = unicodedata.normalize("NFKC", text or "").translate(_LOOKALIKES)
    s = _EMOJI_RE.sub(lambda m: _EMOJI[m.group(0)], s)
    s = _SPACED.sub(lambda m: m.group(0).replace(" ", ""), s)
    s = _HYPHENED.sub(lambda m: re.sub(r"[-_*]", "", m.group(0)), s)
    s = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), s)
    s = _ABBREV.sub("tomorrow", s)
    s = _SHORT_RE.sub(lambda m: _SHORT[m.group(1).lower()], s)
    s = _ROUND_CLOCK.sub("24/7", s)
    s = foreign_dates(s)
    s = _HOUR_RANGE.sub(lambda m: f"{m.group(1)}{':' + m.group(2) if m.group(2) else ''}"
                        f"{m.group(5)}-{m.group(3)}{':' + m.group(4) if m.group(4) else ''}"
                        f"{m.group(5)}", s)  # "2-5pm" is 2pm-5pm
    s = _CLOCK.sub(_clock, s)
    s = _HALF_HOUR.sub("30 minutes", s)
    s = _A_WEEK.sub(lambda m: "14 days" if m.group(0)[0].lower() in "t2f" else "7 days", s)
    s = _MONTH_END.sub(lambda m: f"{_LAST_DAY[m.group(1).lower()]} {m.group(1).title()}"
                       if m.group(1).lower() != "february" else m.group(0), s)
    s = foreign_days(s)
    s = _DAY_RANGE.sub(lambda m: f"{_FULL_DAYS[m.group(1).lower()]}-"
                       f"{_FULL_DAYS[m.group(2).lower()]}", s)
    s = re.sub(r"\b12\s?am\b", "midnight", s, flags=re.IGNORECASE)
    s = re.sub(r"\b12\s?pm\b", "noon", s, flags=re.IGNORECASE)
    s = _DAY_ABBR.sub(lambda m: f"{m.group(1)} {_FULL_DAYS[m.group(2).lower()]}", s)
    s = _RANGE_MONTH.sub(lambda m: f"{int(m.group(1))} {_month(m.group(3))}-"
                         f"{int(m.group(2))} {_month(m.group(3))}", s)
    s = _MONTH_RANGE.sub(lambda m: f"{int(m.group(2))} {_month(m.group(1))}-"
                         f"{int(m.group(3))} {_month(m.group(1))}", s)
    s = _DAY_MONTH.sub(lambda m: f"{int(m.group(1))} {_month(m.group(2))}", s)
    s = _MONTH_DAY.sub(lambda m: f"{int(m.group(2))} {_month(m.group(1))}"
                       + (f" {m.group(3)}" if m.group(3) else ""), s)
    s = _SLASH_DATE.sub(lambda m: f"{int(m.group(1))} "
                        f"{MONTHS[int(m.group(2) or m.group(3)) - 1].title()}"
                        + (f" {m.group(4)}" if m.group(4) else ""), s)
    return re.sub(r"[ \t]+", " ", s)


#: Thai and Chinese letters: scripts written without spaces between words
UNSPACED = re.compile(r"[\u0e00-\u0e7f\u4e00-\u9fff]")


def unspaced(*words: str) -> str:
    """Words of a script without spaces as a pattern on :func:`key` text (which splits and
    drops some Thai vowel marks), with no word boundaries: they would fall inside a run."""
    return "|".join(re.escape(key(w)) for w in words)


_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}


def key(text: str | None) -> str:
    """Folded, lower case, accents dropped, digits inside words read as the letters they
    mimic ("l0yal", "fr3e"): what vocabulary is matched against."""
    s = unicodedata.normalize("NFKD", fold(text).lower())
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return re.sub(r"(?<=[a-z])[013457](?=[a-z])", lambda m: _LEET[m.group(0)], s)


# -- amounts -------------------------------------------------------------------------------------

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
                 "twenty": 20, "twenty-five": 25, "thirty": 30, "forty": 40, "fifty": 50,
                 "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
                 "a hundred": 100}
_NUM_WORD = "|".join(sorted(map(re.escape, NUMBER_WORDS), key=len, reverse=True))
CURRENCIES: Mapping[str, str] = {
    "rm": "RM", "ringgit": "RM", "myr": "RM", "€": "€", "eur": "€", "euro": "€", "euros": "€",
    "$": "$", "us$": "US$", "usd": "US$", "dollar": "$", "dollars": "$", "bucks": "$", "£": "£",
    "gbp": "£", "pound": "£", "pounds": "£", "quid": "£", "¥": "¥", "yen": "¥", "jpy": "¥",
    "rp": "Rp", "idr": "Rp", "rupiah": "Rp", "s$": "S$", "sgd": "S$", "kr": "kr", "sek": "kr",
    "nok": "kr", "dkk": "kr", "thb": "฿", "฿": "฿", "baht": "฿", "₱": "₱", "php": "₱",
    "peso": "₱", "pesos": "₱", "₹": "₹", "inr": "₹", "rupees": "₹", "円": "¥", "r$": "R$",
    "brl": "R$", "reais": "R$", "vnd": "₫", "vnđ": "₫", "đ": "₫", "₫": "₫", "dong": "₫",
    "บาท": "฿", "新元": "S$", "新币": "S$", "d": "₫"}
_VALUE = r"\d[\d,.]*\d|\d"
_PRE = r"RM|MYR|US\$|S\$|R\$|BRL|SGD|USD|EUR|GBP|IDR|Rp|JPY|THB|PHP|INR|VND|[$€£¥฿₱₹₫]"
_POST = (r"ringgit|euros?|€|\$|£|¥|円|dollars?|bucks|pounds?|quid|yen|rupiah|kr|sek|nok|dkk|baht"
         r"|pesos?|rupees|reais|RM|MYR|EUR|USD|GBP|SGD|IDR|BRL|THB|PHP|VNĐ|VND|đ|₫|dong")
_PCT = r"%|percent\b|per ?cent\b|pct\b|prozent\b|pour ?cent\b|por ?ciento\b|persen\b"
AMOUNT = re.compile(
    r"\b(?P<half>half[- ](?:price|off)|half the price)\b|\b(?P<quarter>a quarter off)\b"
    rf"|(?<![A-Za-z0-9_$€£¥])(?P<pre>{_PRE})\s?(?P<v1>{_VALUE}|{_NUM_WORD})(?![\d])"
    r"(?P<k>\s?(?:k|rb|ribu)\b)?"
    rf"|(?<![A-Za-z0-9_.,])(?P<v2>{_VALUE}|{_NUM_WORD})\s?(?P<mn>million\s|triệu\s|juta\s)?"
    rf"(?:(?P<post>(?:{_POST})(?![\w])|บาท|新元|新币|(?<=\d{{3}})d(?![\w]))"
    rf"|(?P<pct>{_PCT}))", re.IGNORECASE)


def _value(raw: str) -> str:
    """A number as one spelling: "1,500" and "1.500" (thousands) are 1500, "80.00" is 80,
    "2,50" (a decimal comma) is 2.5, "ten" is 10."""
    w = raw.lower()
    if w in NUMBER_WORDS:
        return str(NUMBER_WORDS[w])
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
        raw = raw.replace(",", "")
    elif re.fullmatch(r"\d{1,3}(?:\.\d{3})+", raw):
        raw = raw.replace(".", "")
    else:
        raw = raw.replace(",", ".")
    try:
        v = float(raw)
    except ValueError:
        return raw
    return number_text(v)


def number_text(v: float) -> str:
    """A number as amounts spell it: 80.0 is "80", 2.5 is "2.5"."""
    v = round(v, 6)
    return str(int(v)) if v == int(v) else f"{v:g}"


def amounts(text: str | None) -> list[str]:
    """Money amounts and percentages as one spelling each: "RM 80.00", "80 ringgit" and "rm80"
    are ``RM80``; "15 per cent", "fifteen percent" and "１５％" are ``15%``; "€15" and "15 euros"
    are ``€15``."""
    out: list[str] = []
    for m in amount_matches(text):
        if m not in out:
            out.append(m)
    return out


_KILO = re.compile(r"(?<![\w.,])(\d{1,3}(?:[.,]\d)?)\s?(?:k|rb|ribu|nghìn|ngàn)\b", re.IGNORECASE)


def same_amount(amount: str, pool: Iterable[str]) -> bool:
    """``amount`` is one of ``pool``; a bare "$5" is any dollar's 5 ("S$5", "US$5")."""
    pool = set(pool)
    if amount in pool:
        return True
    m = re.fullmatch(r"([A-Z]*)\$(.+)", amount)
    return bool(m) and any(re.fullmatch(rf"[A-Z]*\${re.escape(m.group(2))}", p)
                           and (not m.group(1) or p == f"${m.group(2)}") for p in pool)


def keeps_amount(amount: str, text: str, said: Iterable[str] | None = None) -> bool:
    """``text`` keeps ``amount`` (as :func:`amounts` spells it, "₫300000"): among its amounts
    (``said``, when already read), or as a bare number of thousands with the currency left to
    the reader ("300K", "300rb")."""
    if same_amount(amount, amounts(text) if said is None else said):
        return True
    number = re.sub(r"^\D+", "", amount)
    return any(number_text(float(n.replace(",", ".")) * 1000) == number
               for n in _KILO.findall(fold(text)))


def amount_matches(text: str | None) -> list[str]:
    """Every amount of ``text`` in order, spelled as :func:`amounts` spells them."""
    return [amount_of(m) for m in AMOUNT.finditer(fold(text))]


def amount_of(m: re.Match[str]) -> str:
    """One :data:`AMOUNT` match spelled as :func:`amounts` spells it."""
    if m.group("half"):
        return "50%"
    if m.group("quarter"):
        return "25%"
    if m.group("pct"):
        return _value(m.group("v2")) + "%"
    if m.group("k"):  # "$5k", "Rp50rb": thousands
        v = _value(m.group("v1"))
        return CURRENCIES.get(m.group("pre").lower(), "?") + _value(str(float(v) * 1000))
    cur = CURRENCIES.get((m.group("pre") or m.group("post")).lower(), "?")
    if m.group("mn"):  # "1 million dong", "2 juta rupiah"
        return cur + _value(str(float(_value(m.group("v2"))) * 1_000_000))
    return cur + _value(m.group("v1") or m.group("v2"))


# -- vocabulary no pattern parses: a draft may use it only when the sources do ---------------

NOVEL_WORDS: Mapping[str, re.Pattern[str]] = {k: re.compile(p) for k, p in {
    "deadline": (
        r"\b(?:today|tonight|tomorrow)\b(?!'s)|\b(?:midnight|eod|cob|deadline|countdown|hurry"
        r"|expir(?:e|es|ed|ing|y))\b|\bflash (?:sale|deal|offer)s?\b|\b(?:this|the|next|"
        r"over the|all|at the|by the) weekend\b|\bweekend[- ](?:only|sale|deal|special|offer)\b|\b(?:ends?|ending|over|gone|closing) soon\b"
        r"|\b(?:last|final) (?:chance|call|day|days|hours?|minutes?|few|weekend|week|orders?)\b"
        r"|\bdon'?t (?:wait|delay|miss|sleep on)\b|\bmiss(?:ing)? out\b|\bwhile (?:\w+ ){0,2}"
        r"last\b|\b(?:few|limited|only \w+) (?:left|remaining|quantities|stock|spots|seats|units"
        r"|pieces)\b|\blimited[- ](?:time|stock|edition|quantities|offer|run|period)\b"
        r"|\b(?:selling|going|moving) fast\b|\balmost (?:gone|over|sold)\b|\bbefore (?:it'?s|"
        r"they'?re|it is|they are) gone\b|\bnow or never\b|\bact (?:fast|now|quickly)\b"
        r"|\bsold out\b|\bbefore the (?:month|week|weekend|day|year|season) (?:is out|ends|is over)"
        r"|\b(?:the )?end of the (?:month|week|day|season)\b|\bthis (?:month|week)\b|\bmonth[- ]end\b"
        r"|\b(?:one|two|three|\d+|a few|few|24|48|72)[- ]?(?:day|days|hours?|hrs?|h"
        r"|minutes?|mins?|weeks?)\b(?! ago)|\b(?:the )?\d{1,2}(?:st|nd|rd|th)\b"
        r"|\b(?:while|until|till) (?:stocks?|supplies) (?:last|run out)\b"
        # French, German, Spanish, Indonesian, Malay
        r"|\bjusqu'?\w*|\baujourd'?hui\b|\bce soir\b|\bdemain\b|\bdernier(?:e|s)? (?:jour|chance)"
        r"|\bbis (?:zum|morgen|heute|sonntag|montag|dienstag|mittwoch|donnerstag|freitag|samstag"
        r"|ende|\d+)|\bheute\b|\bmorgen\b|\bnur noch\b|\bletzte\b|\bhasta\b|\bhoy\b"
        r"|\bmanana\b|\bsolo (?:hoy|por|hasta|este)\b|\bultim[oa]s? (?:dia|oportunidad|horas)"
        r"|\bhari ini\b|\bbesok\b|\bsampai\b|\bhanya (?:hari|sampai|\d+)|\bterakhir\b"
        r"|\bsegera\b|\bstok (?:terhad|terbatas)\b|\bsebelum habis\b|\bso luong co han\b"
        r"|\blimited (?:number|supply|availability|slots|places|quantity)\b"
        r"|\bsells? out\b|\bselling out\b|\bonly a few\b|\ba few (?:are |is )?left\b"
        r"|\bterhad\b|\bterbatas\b|\bcepat rebut\b|\bsiapa cepat\b|\bco han\b|\bnhanh tay\b"
        r"|\bsap het\b|\bpaubos na\b"
        r"|\bngayong (?:araw|weekend|linggo)\b|\bngayon lang\b|\bhanggang ngayon\b"
        r"|限量|先到先得|售完即止|数量有限|仅限今天|今天截止"
        # Thai (key form, no word boundaries): only, within, today, tomorrow, last day,
        # expires, hurry, limited number
        + "|" + unspaced("เท่านั้น", "ภายใน", "วันนี้", "พรุ่งนี้", "วันสุดท้าย", "หมดเขต", "รีบ",
                         "จำนวนจำกัด")),
    "amount": (
        r"\b(?:bogo|b1g1|cash ?back|(?:two|2)[- ]for[- ]"
        r"(?:one|1)|buy (?:one|1),? get (?:one|1)|points|stamps|store credit|rebate|price match"
        r"|(?:double|triple|\d+ ?x) (?:points|rewards|stamps|miles|cashback|credit)|tenner"
        r"|fiver|quid)\b"),
    "condition": (
        r"\b(?:no (?:minimum|min)(?: spend| order)?|without (?:a )?minimum|any (?:order|amount|"
        r"spend|purchase|item|product|thing|pair|size|style|colou?r)|every (?:order|purchase|item)|any other (?:device|gadget|product|item|purchase|order"
        r"|service|store|outlet)s?|all (?:of )?(?:your |the )?(?:orders|items|products|purchases"
        r"|rides|trips|bookings|flights|stays|deliveries|services|categories|brands)|"
        r"any (?:other )?(?:store|shop|merchant|outlet|restaurant|brand)s?|"
        r"sitewide|site-wide|storewide|store-wide|entire (?:store|order|range|menu)"
        r"|whole (?:store|order|range|menu)|off everything|everything (?:at|in store|in stock)|no limit|unlimited|no strings|no catch|guaranteed"
        r"|lowest price|best price|price drop|(?:off|discount|deal|offer|saving) again"
        r"|each (?:of (?:your|the) )?(?:next |first )?(?:\w+ )?(?:orders|purchases|visits|rides"
        r"|bookings)|zero (?:minimum|min)|stack(?:s|able|ed)?|combin(?:e|ed|able) with"
        r"|with (?:any )?other (?:deals|offers|promotions|promos|vouchers|discounts|codes)"
        r"|(?:another|a second|repeat) (?:discount|deal|offer))\b|\beverything(?:'s| is)? (?=\d|rm|[$€£¥]|up to"
        r"|half)|\b(?:up to|under|below|less than|at least|from just|from only|only)"
        r" (?=rm ?\d|[$€£¥] ?\d|\d+ ?(?:%|percent|per ?cent))"),
}.items()}


def novel_words(draft: str, sources: str) -> list[tuple[str, str, tuple[int, int]]]:
    """(kind, phrase, span in the folded draft) for every claim word of ``draft`` that
    ``sources`` never uses. Both are matched in :func:`key` form; the span is in
    ``fold(draft)``, whose length :func:`key` keeps unless accents are dropped."""
    k_draft, k_src = key(draft), f" {_plain(key(sources))} "
    out = []
    for kind, pattern in NOVEL_WORDS.items():
        for m in pattern.finditer(k_draft):
            plain = _plain(m.group(0))
            inside = UNSPACED.search(plain)  # no spaces: a word is inside a run of them
            if (plain not in k_src if inside else f" {plain} " not in k_src) and not (
                    # "the 3rd" where the sources say "3rd night"
                    re.fullmatch(r"(?:the )?\d{1,2}(?:st|nd|rd|th)", plain)
                    and f" {plain.split()[-1]} " in k_src):
                out.append((kind, m.group(0), m.span()))
    return out


ORDINALS = {"first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th",
             "sixth": "6th", "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th"}
_UNITS = {"min": "minute", "mins": "minute", "minutes": "minute", "hr": "hour", "hrs": "hour",
          "h": "hour", "hours": "hour"}


_TIMES = {"zum": "", "zur": "", "2x": "double", "x2": "double", "3x": "triple", "x3": "triple", "bogo": "buy 1 get 1",
          "b1g1": "buy 1 get 1", "b1t1": "buy 1 get 1", "b1f1": "buy 1 get 1", "one": "1", "two": "2", "three": "3"}


_ONE_FREE = re.compile(r"\b(?:buy|beli|bili) 1 (?:get|take|free|percuma|dapat|libre) 1\b|\b2 for 1\b")


def _plain(text: str) -> str:
    """Words only, singular, ordinals and time units one way: "7-day" and "7 days", "the
    second" and "the 2nd", "60-min" and "60 minutes" read the same."""
    words = (ORDINALS.get(w, _UNITS.get(w, _TIMES.get(w, w)))
             for w in re.findall(r"[\w'%$€£¥]+", text.replace("-", " ")))
    s = " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words if w)
    s = re.sub(r"\b(?:max|maximum|capped at)\b", "up to", s)  # "max RM5" is "up to RM5"
    return _ONE_FREE.sub("buy 1 get 1", s)  # "2-for-1", "Buy 1 Take 1", "B1F1": one offer


# -- promo codes -------------------------------------------------------------------------------

_CODE_WORD = r"(?:c[o0]de|promo(?:\s?c[o0]de)?|coupon(?:\s?c[o0]de)?|voucher(?:\s?c[o0]de)?" \
             r"|discount\s?c[o0]de|discount:|k[o0]de|k[o0]d|mã|c[óo]digo|gutscheincode)"
CODE = re.compile(
    rf"\b(?i:{_CODE_WORD})(?![A-Za-z])\s*[:=]?\s*[\"']?([A-Za-z0-9][A-Za-z0-9_-]{{2,}})"
    r"|\b(?i:use|enter|apply|redeem|type|with|quote|key in|input|mention|show|masukkan|gunakan"
    r"|guna|pakai|nhập|dùng)\s+[\"']?"
    r"([A-Z0-9][A-Z0-9_-]{2,})\b(?![a-z])"
    r"|(?<![A-Za-z0-9_$])((?=[A-Z0-9_-]*\d)(?=[A-Z0-9_-]*[A-Z])[A-Z0-9][A-Z0-9_-]{3,})\b")
# words after "code" or "use" that are not codes
_NOT_CODE = {"is", "at", "for", "to", "and", "the", "your", "below", "above", "here", "in", "on",
             "when", "will", "works", "expires", "applies", "valid", "only", "now", "from", "by",
             "of", "or", "with", "this", "that", "it", "our", "a", "an", "all", "ends", "STOP",
             "NOW", "FREE", "OFF", "SALE", "NEW", "VIP", "APP", "THE", "AND", "YOUR", "USE",
             "ANY", "ALL", "SMS", "FAQ", "USD", "EUR", "GBP", "MYR", "SGD", "IDR", "PM", "AM",
             "applied", "needed", "required", "shown", "sent", "inside", "included", "ready"}


def codes(text: str) -> list[str]:
    """Promo codes, verbatim: "with code BROSNEW" -> BROSNEW, "use code spring" -> spring;
    mixed tokens like GLOW15 or 10OFF anywhere."""
    out: list[str] = []
    for c in (code_of(m) for m in CODE.finditer(fold(text))):
        if c and c not in out:
            out.append(c)
    return out


def code_of(m: re.Match[str]) -> str | None:
    """The promo code of one :data:`CODE` match, or None when the word is no code."""
    c = m.group(1) or m.group(2) or m.group(3)
    if not c or c in _NOT_CODE or c.lower() in _NOT_CODE or AMOUNT.fullmatch(c):
        return None
    if m.group(3) and re.search(r"(?:#|\border (?:no\.? ?|number |id )?)$",
                                m.string[max(0, m.start(3) - 16):m.start(3)], re.IGNORECASE):
        return None  # "order #KC20931" names an order
    if m.group(3) and re.fullmatch(r"\d+(?:ST|ND|RD|TH|H|HRS?|X|PM|AM|K|GB|TB|MP)|B\d[GTF]\d", c):
        return None
    said = m.group(0)[:m.start(1) - m.start(0)].lower() if m.group(1) else ""
    if m.group(1) and not re.search(r"c[o0]de", said) and not (
            re.search(r"\d", c) or c.isupper()):
        return None  # "Promo berakhir 30 November": after a bare "promo" a code looks like one
    return c
