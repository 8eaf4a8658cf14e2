"""Dates written in other languages and scripts, read as English before any claim is matched.

"sah sehingga 31 Okt", "12月31日", "20 tháng 11", "ika-17 ng Nobyembre", "sampai 10/3", "11.11"
or "Minggu" are the dates "31 October", "31 December", "20 November", "17 November", "10 March",
"11 November" and "Sunday" to the grounding check; :func:`claimwords.fold` calls
:func:`foreign_dates` and :func:`foreign_days` at its steps for them (English abbreviations,
ranges and slashes it reads itself).
"""

from __future__ import annotations

import re
import unicodedata

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")

# the double-day sales (9.9, 11.11, 12.12) are dates wherever they are written
_SALE_DAY = re.compile(r"(?<![\w.,])([1-9]|1[0-2])\.\1(?![\w]|[.,]\d)")
# "10/31": a second number over 12 is the day, so the first is the month
_MONTH_FIRST = re.compile(r"(?<![\w/])(0?[1-9]|1[0-2])/(1[3-9]|2\d|3[01])(?![\d/])")

# weekdays of the other languages a programme writes in, read as English ("sampai Minggu" is
# "until Sunday"); Indonesian "Minggu" and Tagalog "Linggo" (also "week") only capitalised and
# not "Minggu ini" or "na Linggo" (this week, next week)
_FOREIGN_DAYS = {
    "lundi": "Monday", "mardi": "Tuesday", "mercredi": "Wednesday", "jeudi": "Thursday",
    "vendredi": "Friday", "samedi": "Saturday", "dimanche": "Sunday", "montag": "Monday",
    "dienstag": "Tuesday", "mittwoch": "Wednesday", "donnerstag": "Thursday", "freitag": "Friday",
    "samstag": "Saturday", "sonntag": "Sunday", "lunes": "Monday", "martes": "Tuesday",
    "miercoles": "Wednesday", "jueves": "Thursday", "viernes": "Friday", "sabado": "Saturday",
    "domingo": "Sunday", "senin": "Monday", "isnin": "Monday", "selasa": "Tuesday",
    "rabu": "Wednesday", "kamis": "Thursday", "khamis": "Thursday", "jumat": "Friday",
    "jumaat": "Friday", "sabtu": "Saturday", "ahad": "Sunday", "segunda-feira": "Monday",
    "terca-feira": "Tuesday", "quarta-feira": "Wednesday", "quinta-feira": "Thursday",
    "sexta-feira": "Friday", "sexta": "Friday", "miyerkules": "Wednesday",
    "huwebes": "Thursday", "biyernes": "Friday"}
_FOREIGN_DAY = re.compile(r"(?<![\w-])(?:(" + "|".join(sorted(
    {*_FOREIGN_DAYS, "miércoles", "sábado", "terça-feira"}, key=len, reverse=True))
    + r")|(?-i:Minggu)(?! (?:ini|depan|lalu))|(?<!na )(?<!isang )(?<!ngayong )(?-i:Linggo))"
    r"(?![\w-])", re.IGNORECASE)

_FOREIGN_MONTHS = dict(zip(
    ("janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
     "januar februar marz april mai juni juli august september oktober november dezember "
     "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
     "diciembre januari februari maret april mei juni juli agustus september oktober "
     "november desember enero pebrero marso abril mayo hunyo hulyo agosto setyembre oktubre "
     "nobyembre disyembre januari februari mac april mei jun julai ogos september oktober "
     "november disember").split(), [m.title() for m in MONTHS] * 6))
_THAI_MONTHS = dict(zip("ม.ค. ก.พ. มี.ค. เม.ย. พ.ค. มิ.ย. ก.ค. ส.ค. ก.ย. ต.ค. พ.ย. ธ.ค.".split()
                        + "มกราคม กุมภาพันธ์ มีนาคม เมษายน พฤษภาคม มิถุนายน กรกฎาคม สิงหาคม "
                          "กันยายน ตุลาคม พฤศจิกายน ธันวาคม".split(), [m.title() for m in MONTHS] * 2))
_THAI_DATE = re.compile(r"(\d{1,2})\s*(" + "|".join(
    re.escape(m) for m in sorted(_THAI_MONTHS, key=len, reverse=True)) + ")")
_VIET_DATE = re.compile(r"\b(\d{1,2})\s+th[aá]ng\s+(0?[1-9]|1[0-2])\b", re.IGNORECASE)
_FOREIGN_MONTH = re.compile(r"\b(\d{1,2})(?:\.|er|º)?\s+(?:de\s+)?(" + "|".join(
    sorted({k for k in _FOREIGN_MONTHS if k not in MONTHS} | {
        "février", "août", "décembre", "märz"}, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_FOREIGN_MONTH_DAY = re.compile(r"\b(" + "|".join(sorted(
    {k for k in _FOREIGN_MONTHS if k not in MONTHS}, key=len, reverse=True))
    + r"|nob|dis|okt|peb|ene|hun|hul|agu|des|dez|ogos)\.?\s+(\d{1,2})\b(?!\s*(?:%|:|\d))",
    re.IGNORECASE)
_FOREIGN_DAY_ABBR = re.compile(r"\b(\d{1,2})\s+(okt|ogo|ogos|agu|agt|ags|des|dis|peb|nob|hun|hul)\b\.?",
                               re.IGNORECASE)
_CJK_DATE = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]")
# "sampai 10/3": a day and a one-digit month read as a date only after a word that dates
_UNTIL_SLASH = re.compile(r"(\b(?:until|till|by|before|sampai|sehingga|hingga|tới|đến)\s|ถึง\s?)"
                          r"(\d{1,2})/([1-9])\b(?![/\d])", re.IGNORECASE)
_ORDINAL_OF = re.compile(r"\bika-?(\d{1,2}) ng\s+", re.IGNORECASE)
_ABBR_OF = {"nob": "november", "dis": "december", "okt": "october", "peb": "february",
            "ene": "january", "hun": "june", "hul": "july", "agu": "august", "des": "december",
            "dez": "december", "ogos": "august", "ogo": "august", "agt": "august",
            "ags": "august"}
_DOT_DATE = re.compile(r"(?<![\w$€£¥.,])(\d{1,2})\.(0?[1-9]|1[0-2])\.(?!\d)")

def _ascii(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower())
                   if not unicodedata.combining(c))


def foreign_dates(s: str) -> str:
    """Day-and-month dates of the other languages, scripts and sale days, as "D Month"."""
    s = _ORDINAL_OF.sub(lambda m: f"{m.group(1)} ", s)  # "ika-17 ng Nobyembre"
    s = _FOREIGN_MONTH.sub(lambda m: f"{int(m.group(1))} {_FOREIGN_MONTHS[_ascii(m.group(2))]}"
                           if _ascii(m.group(2)) in _FOREIGN_MONTHS else m.group(0), s)
    s = _FOREIGN_MONTH_DAY.sub(lambda m: f"{int(m.group(2))} " + (
        _FOREIGN_MONTHS.get(_ascii(m.group(1))) or _ABBR_OF[m.group(1).lower()].title()), s)
    s = _FOREIGN_DAY_ABBR.sub(lambda m: f"{int(m.group(1))} {_ABBR_OF[m.group(2).lower()].title()}", s)
    s = _CJK_DATE.sub(lambda m: f" {int(m.group(2))} {MONTHS[int(m.group(1)) - 1].title()} "
                      if 1 <= int(m.group(1)) <= 12 else m.group(0), s)
    s = _UNTIL_SLASH.sub(lambda m: f"{m.group(1)}{int(m.group(2))} "
                         f"{MONTHS[int(m.group(3)) - 1].title()}", s)
    s = _THAI_DATE.sub(lambda m: f" {int(m.group(1))} {_THAI_MONTHS[m.group(2)]} ", s)
    s = _VIET_DATE.sub(lambda m: f"{int(m.group(1))} {MONTHS[int(m.group(2)) - 1].title()}", s)
    s = _SALE_DAY.sub(lambda m: f"{int(m.group(1))} {MONTHS[int(m.group(1)) - 1].title()}", s)
    s = _MONTH_FIRST.sub(lambda m: f"{int(m.group(2))} {MONTHS[int(m.group(1)) - 1].title()}", s)
    return _DOT_DATE.sub(lambda m: f"{int(m.group(1))} {MONTHS[int(m.group(2)) - 1].title()}", s)


def foreign_days(s: str) -> str:
    """Weekdays of the other languages as English ("sampai Minggu" is "until Sunday")."""
    return _FOREIGN_DAY.sub(lambda m: _FOREIGN_DAYS.get(_ascii(m.group(1)), m.group(0))
                            if m.group(1) else "Sunday", s)
