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
from collections.abc import Mapping

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
_SPACED = re.compile(r"(?<![\w'])(?:[A-Za-z] ){2,}[A-Za-z](?![\w'])")       # f r e e
_HYPHENED = re.compile(r"(?<![\w-])(?:[A-Za-z][-_*]){2,}[A-Za-z](?![\w-])")   # f-r-e-e, V-I-P
_DOTTED = re.compile(r"(?<![\w.])(?:[A-Za-z]\.){2,}(?:[A-Za-z](?![\w]))?")  # V.I.P.
_FULL_DAYS = {"mon": "Monday", "tue": "Tuesday", "tues": "Tuesday", "wed": "Wednesday",
              "thu": "Thursday", "thur": "Thursday", "thurs": "Thursday", "fri": "Friday",
              "sat": "Saturday", "sun": "Sunday"}
_DAY_ABBR = re.compile(r"\b(ends?|until|till|til|by|before|from|on|this|next|through|valid (?:to|till|"
                       r"until|through))\s+(mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)\b\.?", re.IGNORECASE)
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
_MONTH_ABBR = {m[:3]: m for m in MONTHS} | {"sept": "september"}
_MON = r"(january|february|march|april|may|june|july|august|september|october|november|" \
       r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|\.)?(?:\s+of)?\s+{_MON}\b\.?",
                        re.IGNORECASE)
_MONTH_DAY = re.compile(rf"\b{_MON}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+((?:19|20)\d{{2}})\b)?"
                        rf"(?!\s*(?:%|am|pm|h\b|hrs?\b|hours?\b|days?\b|\d))", re.IGNORECASE)
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(0[1-9]|1[0-2])\b(?!/\d)")
_ABBREV = re.compile(r"\b(tmrw|tmw|tmr|tomoz|2moro|2morrow)\b", re.IGNORECASE)
_SHORT = {"tonite": "tonight", "2nite": "tonight", "2night": "tonight", "midnite": "midnight",
          "wknd": "weekend", "wkend": "weekend", "thru": "through", "nite": "night"}
_SHORT_RE = re.compile(r"\b(" + "|".join(_SHORT) + r")\b", re.IGNORECASE)
_FOREIGN_MONTHS = dict(zip(
    ("janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
     "januar februar marz april mai juni juli august september oktober november dezember "
     "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
     "diciembre januari februari maret april mei juni juli agustus september oktober "
     "november desember").split(), [m.title() for m in MONTHS] * 4))
_FOREIGN_MONTH = re.compile(r"\b(\d{1,2})(?:\.|er|º)?\s+(?:de\s+)?(" + "|".join(
    sorted({k for k in _FOREIGN_MONTHS if k not in MONTHS} | {
        "février", "août", "décembre", "märz"}, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_DOT_DATE = re.compile(r"(?<![\w$€£¥.,])(\d{1,2})\.(0?[1-9]|1[0-2])\.(?!\d)")
_CLOCK = re.compile(r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")
_ROUND_CLOCK = re.compile(r"\b24 hours a day,? 7 days a week\b", re.IGNORECASE)


def _ascii(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower())
                   if not unicodedata.combining(c))


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
    s = _FOREIGN_MONTH.sub(lambda m: f"{int(m.group(1))} {_FOREIGN_MONTHS[_ascii(m.group(2))]}"
                           if _ascii(m.group(2)) in _FOREIGN_MONTHS else m.group(0), s)
    s = _DOT_DATE.sub(lambda m: f"{int(m.group(1))} {MONTHS[int(m.group(2)) - 1].title()}", s)
    s = _CLOCK.sub(_clock, s)
    s = re.sub(r"\b12\s?am\b", "midnight", s, flags=re.IGNORECASE)
    s = re.sub(r"\b12\s?pm\b", "noon", s, flags=re.IGNORECASE)
    s = _DAY_ABBR.sub(lambda m: f"{m.group(1)} {_FULL_DAYS[m.group(2).lower()]}", s)
    s = _DAY_MONTH.sub(lambda m: f"{int(m.group(1))} {_month(m.group(2))}", s)
    s = _MONTH_DAY.sub(lambda m: f"{int(m.group(2))} {_month(m.group(1))}"
                       + (f" {m.group(3)}" if m.group(3) else ""), s)
    s = _SLASH_DATE.sub(lambda m: f"{int(m.group(1))} {MONTHS[int(m.group(2)) - 1].title()}",
                        s)
    return re.sub(r"[ \t]+", " ", s)


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
    "$": "$", "us$": "$", "usd": "$", "dollar": "$", "dollars": "$", "bucks": "$", "£": "£",
    "gbp": "£", "pound": "£", "pounds": "£", "quid": "£", "¥": "¥", "yen": "¥", "jpy": "¥",
    "rp": "Rp", "idr": "Rp", "rupiah": "Rp", "s$": "S$", "sgd": "S$", "kr": "kr", "sek": "kr",
    "nok": "kr", "dkk": "kr", "thb": "฿", "฿": "฿", "baht": "฿", "₱": "₱", "php": "₱",
    "peso": "₱", "pesos": "₱", "₹": "₹", "inr": "₹", "rupees": "₹", "円": "¥"}
_VALUE = r"\d[\d,.]*\d|\d"
_PRE = r"RM|MYR|US\$|S\$|SGD|USD|EUR|GBP|IDR|Rp|JPY|THB|PHP|INR|[$€£¥฿₱₹]"
_POST = (r"ringgit|euros?|€|\$|£|¥|円|dollars?|bucks|pounds?|quid|yen|rupiah|kr|sek|nok|dkk|baht"
         r"|pesos?|rupees|RM|MYR|EUR|USD|GBP|SGD|IDR")
_PCT = r"%|percent\b|per ?cent\b|pct\b|prozent\b|pour ?cent\b|por ?ciento\b|persen\b"
AMOUNT = re.compile(
    r"\b(?P<half>half[- ](?:price|off)|half the price)\b"
    rf"|(?<![\w$€£¥])(?P<pre>{_PRE})\s?(?P<v1>{_VALUE}|{_NUM_WORD})(?![\d])"
    r"(?P<k>\s?(?:k|rb|ribu)\b)?"
    rf"|(?<![\w.,])(?P<v2>{_VALUE}|{_NUM_WORD})\s?(?:(?P<post>{_POST})(?![\w])"
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


def amount_matches(text: str | None) -> list[str]:
    """Every amount of ``text`` in order, spelled as :func:`amounts` spells them."""
    return [amount_of(m) for m in AMOUNT.finditer(fold(text))]


def amount_of(m: re.Match[str]) -> str:
    """One :data:`AMOUNT` match spelled as :func:`amounts` spells it."""
    if m.group("half"):
        return "50%"
    if m.group("pct"):
        return _value(m.group("v2")) + "%"
    if m.group("k"):  # "$5k", "Rp50rb": thousands
        v = _value(m.group("v1"))
        return CURRENCIES.get(m.group("pre").lower(), "?") + _value(str(float(v) * 1000))
    cur = CURRENCIES.get((m.group("pre") or m.group("post")).lower(), "?")
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
        r"|\bsegera\b"),
    "amount": (
        r"\b(?:bogo|b1g1|cash ?back|(?:two|2)[- ]for[- ]"
        r"(?:one|1)|buy (?:one|1),? get (?:one|1)|points|stamps|store credit|rebate|price match"
        r"|(?:double|triple|\d+ ?x) (?:points|rewards|stamps|miles|cashback|credit)|tenner"
        r"|fiver|quid)\b"),
    "condition": (
        r"\b(?:no (?:minimum|min)(?: spend| order)?|without (?:a )?minimum|any (?:order|amount|"
        r"spend|purchase)|every (?:order|purchase|item)|all (?:orders|items|products|purchases)|"
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
            if f" {_plain(m.group(0))} " not in k_src:
                out.append((kind, m.group(0), m.span()))
    return out


def _plain(text: str) -> str:
    """Words only, singular: "7-day" and "7 days" read the same."""
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w
                    for w in re.findall(r"[\w'%$€£¥]+", text.replace("-", " ")))


# -- perks: what is given away, and on what ------------------------------------------------------

_GIVE = (r"free of charge|free|complimentary|gratis|gratuite?s?|kostenlose?[nrs]?|offerte?s?|gratuito|percuma"
         r"|geschenkt|regalad[oa]s?|gratuitement|cuma-cuma|thrown in"
         r"|on us|on the house|included|at no (?:extra )?(?:cost|charge)")
_NOT_GIVEN = re.compile(r"\bfree (?:to|up|of|from|yourself|time|spirit|will|range|style|hand)\b"
                        r"|\bfeel free\b|\b(?:you're|you are|be|set|break) free\b"
                        r"|[\w]-free\b|\bfree-\w", re.IGNORECASE)
# a word right before "free" that makes it a perk ("get free fries"); any other word makes it
# a compound adjective ("sugar free latte", "fragrance free")
_BEFORE_PERK = {"is", "are", "was", "were", "s", "get", "gets", "got", "enjoy", "claim", "grab",
                "plus", "with", "and", "or", "a", "an", "the", "your", "our", "totally",
                "completely", "absolutely", "100", "for", "receive", "score", "also", "comes",
                "come", "always", "be", "+", "&", "including", "includes", "add", "extra",
                "bonus", "two", "one", "another", "some", "more", "too", "also", "unlock", "win"}
_PERK_NOUNS = re.compile(r"\b(?:gift(?: ?wrap(?:ping)?)?s?|goodie(?: bag)?s?|freebies?|samples?"
                         r"|bonus(?:es)?|treat bags?|cadeaux?|geschenke?|regalos?|hadiah)\b")
_SERVICES = {"delivery", "return", "installation", "assembly", "setup", "gift", "wrap",
             "sample", "trial", "cancellation", "exchange", "alteration", "engraving"}
_COPULA = {"is", "are", "was", "were", "s", "be", "comes", "come", "will"}
_STOP = {"with", "on", "for", "and", "or", "when", "if", "at", "in", "to", "of", "your", "our",
         "the", "a", "an", "every", "each", "all", "any", "over", "above", "until", "till", "by",
         "this", "that", "these", "those", "you", "we", "is", "are", "too", "now", "today",
         "next", "first", "also", "just", "plus", "s", "it", "its", "be", "will", "ll", "can",
         "get", "enjoy", "as", "well", "from"}
_OBJECT_STOP = {"with", "on", "for", "when", "if", "at", "in", "to", "of", "over", "above",
                "until", "till", "by", "from", "is", "are", "while", "off"}
_SAME = {"shipping": "delivery", "postage": "delivery", "ship": "delivery", "ships": "delivery",
         "shipped": "delivery", "delivered": "delivery", "deliveries": "delivery",
         "livraison": "delivery", "versand": "delivery", "lieferung": "delivery",
         "envio": "delivery", "entrega": "delivery", "pengiriman": "delivery",
         "ongkir": "delivery", "returns": "return", "gifts": "gift", "cadeau": "gift",
         "geschenk": "gift", "regalo": "gift", "hadiah": "gift", "wrapping": "wrap",
         "fries": "fry", "freebie": "gift"}
_SCOPE = re.compile(r"^\W*(?:\w+\W+){0,3}?(?:with|on|for|in) (?:(?:every|each|all|any|your|a|the"
                    r"|first|next|second|1st) ){0,3}(\w+)")


def _scope(after: str) -> str | None:
    """What a perk comes with: "with every combo" -> "combo", "on orders over RM50" ->
    "order"."""
    m = _SCOPE.match(after)
    return canon(m.group(1)) if m and m.group(1) not in _STOP else None


def canon(word: str) -> str:
    """One spelling of a perk's word: plural and synonyms ("shipping" is "delivery")."""
    w = _SAME.get(word, word)
    return _SAME.get(w[:-1], w[:-1]) if len(w) > 3 and w.endswith("s") and not w.endswith(
        ("ss", "us", "is")) else w


def _content(words: list[re.Match[str]], limit: int,
             backwards: bool = False) -> list[re.Match[str]]:
    """The content words of a perk's object, nearest first, up to a preposition (reading
    backwards from "is free", up to a conjunction too: "check out now and shipping is
    free")."""
    out: list[re.Match[str]] = []
    for w in words:
        if w.group(0) in _OBJECT_STOP or len(out) >= limit or backwards and w.group(0) in (
                "and", "or", "then", "now", "but") or any(
                c.isdigit() for c in w.group(0)):
            break
        if w.group(0) not in _STOP and not w.group(0).isdigit():
            out.append(w)
    return out


Perk = tuple[tuple[int, int], tuple[str, ...], "str | None"]


def perk_spans(text: str | None, nouns: bool = True) -> list[Perk]:
    """(span, what is given, on what scope) for each perk of ``text``, the span in
    :func:`key` form and covering the perk's words: "free fries with every combo" gives
    ``(("fry",), "combo")``, "returns are free" ``(("return",), None)``, "a gift with every
    order" ``(("gift",), "order")``, "sugar-free latte" and "feel free" nothing. ``nouns``:
    also a gift, sample or bonus named with no word that gives it ("a gift with every order";
    but "your regular's bonus" may be no perk at all, so what an offer must keep leaves them
    out)."""
    k = key(text)
    out: list[Perk] = []
    for m in re.finditer(rf"(?<![\w-])(?:{_GIVE})(?![\w-])|(?:no|zero|without(?: any)?) (?:\w+ ){{0,2}}"
                         r"(?:fees?|charges?)"
                         r"\b|(?:we'?ll|we will) (?:cover|pay for|take care of)\b", k):
        word = m.group(0)
        lo = max(0, m.start() - 12)
        if word == "free" and any(a + lo <= m.start() < b + lo for a, b in (
                n.span() for n in _NOT_GIVEN.finditer(k[lo:m.end() + 8]))):
            continue  # "free to unsubscribe", "feel free", "sugar-free"
        dash = k.rfind(" - ", 0, m.start())
        start = max(max(k.rfind(c, 0, m.start()) for c in ".!?;:,()") + 1,
                    dash + 3 if dash >= 0 else 0)
        stop = min([i for i in (k.find(c, m.end()) for c in (*".!?;:,()", " - ")) if i >= 0]
                   + [len(k)])
        before = [w for w in re.finditer(r"[^\W_]+|[&+]", k[start:m.start()])]
        after = [w for w in re.finditer(r"[^\W_]+", k[m.end():stop])]
        prev = before[-1].group(0) if before else ""
        if word in ("free", "complimentary"):
            # "we'll ship it free", "delivery free over RM50", "get fries for free"
            postfix = prev in _COPULA or prev in ("it", "them") or canon(prev) in _SERVICES or (
                prev == "for" and (not after or after[0].group(0) in _OBJECT_STOP))
            if prev == "for" and postfix:
                before = before[:-1]
            if prev and not postfix and prev not in _BEFORE_PERK and not prev.isdigit():
                continue  # "sugar free latte", "fragrance free": an adjective, not a gift
        else:
            postfix = word in ("on us", "on the house", "included", "free of charge") or (
                bool(prev) and prev not in _BEFORE_PERK and not word.startswith(("no ", "zero ", "without",
                                                                   "we")))
        span = m.span()
        if word.startswith(("no ", "zero ", "without ")):
            obj = [canon(w) for w in word.split()[1:-1] if w not in _STOP | {"any"}]
        elif postfix:
            found = _content([w for w in reversed(before)
                              if w.group(0) not in _COPULA and w.group(0) not in ("it", "them")],
                             2, backwards=True)
            obj = [canon(w.group(0)) for w in reversed(found)]
            span = (start + found[-1].start(), m.end()) if found else span
        else:
            found = _content(after, 3)
            obj = [canon(w.group(0)) for w in found]
            span = (m.start(), m.end() + found[-1].end()) if found else span
        out.append((span, tuple(dict.fromkeys(obj)), _scope(k[m.end():stop])))
    for m in _PERK_NOUNS.finditer(k) if nouns else ():
        if not any(a <= m.start() < b for (a, b), _, _ in out):
            out.append((m.span(), (canon(m.group(0).split()[0]),), _scope(k[m.end():])))
    return sorted(out)


# -- promo codes -------------------------------------------------------------------------------

_CODE_WORD = r"(?:c[o0]de|promo(?:\s?c[o0]de)?|coupon(?:\s?c[o0]de)?|voucher(?:\s?c[o0]de)?" \
             r"|discount\s?c[o0]de|discount:)"
CODE = re.compile(
    rf"\b(?i:{_CODE_WORD})(?![A-Za-z])\s*[:=]?\s*[\"']?([A-Za-z0-9][A-Za-z0-9_-]{{2,}})"
    r"|\b(?i:use|enter|apply|redeem|type|with|quote|key in|input|mention|show)\s+[\"']?"
    r"([A-Z0-9][A-Z0-9_-]{2,})\b(?![a-z])"
    r"|(?<![\w$])((?=[A-Z0-9_-]*\d)(?=[A-Z0-9_-]*[A-Z])[A-Z0-9][A-Z0-9_-]{3,})\b")
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
    if m.group(3) and re.fullmatch(r"\d+(?:ST|ND|RD|TH|H|HRS?|X|PM|AM|K|GB|TB|MP)", c):
        return None
    return c
