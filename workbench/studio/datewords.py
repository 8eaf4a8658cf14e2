"""Dates: how an offer's deadlines are found, read and compared.

"until 30 September", "ends Sunday 9pm", "this weekend", "within 30 minutes": every deadline
or date phrase of a text (:func:`deadlines`), the date itself without its connective
(:func:`anchor`: "until 30 September" is "30 september"), the ones that date the offer rather
than the news (:func:`offer_dates`: "new stock arrived this week" dates the stock) and the ones
that end it (:func:`end_dates`: a daily "2-5pm" window ends nothing). Texts are read folded
(:func:`claimwords.fold`), so "ends Fri", "30/09" or "sampai Minggu" are dates too. The
grounding check (``grounding``) and the rules engine (``copyrules``) both read dates here.
"""

from __future__ import annotations

import re

from workbench.studio import claimwords as cw
from workbench.studio.claimwords import fold
from workbench.studio.perkwords import perk_spans

_WORD = re.compile(r"[a-z0-9]+")

MONTHS = (r"(?:january|february|march|april|may(?!\s+(?:be|have|not|also|just|well|want|like"
           r"|need|find|love|enjoy|we|you|i)\b)|june|july|august|september|october|november"
           r"|december)")
DAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?(?:\s+week)?"
_DATE = rf"(?:\d{{1,2}}\s+{MONTHS}\b)"
_TIME = r"(?:\d{1,2}(?::\d{2})?\s?(?:am|pm)\b|midnight|noon)"
_WHEN = (rf"(?:{_DATE}|{_TIME}(?:\s+(?:tonight|today|tomorrow))?|{DAYS}\b|tonight|today"
         rf"|tomorrow|the end of (?:today|the day|the week|the month|{MONTHS})"
         rf"|end of (?:day|week|month)|in \d+ (?:hours?|days?)\b|\d{{1,2}}\b(?![,.]\d)"
         # "extend it by 2 years" measures, it dates nothing
         rf"(?!\s*(?:years?|yrs?|months?|weeks?|times|%|percent|points|pts|gb|kg)\b))")
_START = r"starting|starts?|from|begins?|beginning"
DEADLINE = re.compile(
    rf"\b(?:until|till|til|by|before|ends?|ending|expires?|valid (?:until|till)|{_START})\s+"
    rf"(?:at\s+|on\s+)?{_WHEN}"
    rf"|\b(?:within|in the next|for the next|over the next|valid for)\s+\d+\s+"
    rf"(?:hours?|days?|minutes?|weeks?)\b"
    rf"|\b\d+\s+(?:hours?|days?)\s+(?:only|left)\b"
    rf"|\bthis (?:week(?:end)?|month|{DAYS}|{MONTHS})\b(?:\s+only)?"
    rf"|\b(?:all|every \w+ in|in) {MONTHS}\b|\ball (?:week|month|weekend)( long)?\b"
    rf"|\b(?:today|tonight|tomorrow)\b(?!'s)(?:\s+only)?|\b{_DATE}|\b{_TIME}|\b{DAYS}\b",
    re.IGNORECASE)

def normalise(text: str) -> str:
    return " ".join(_WORD.findall(cw.key(text)))



def deadlines(text: str) -> list[str]:
    """Every deadline or date phrase, adjacent ones merged: "before 11am this week" is one."""
    text = fold(text)
    spans: list[list[int]] = []
    for m in DEADLINE.finditer(text):
        if spans and not text[spans[-1][1]:m.start()].strip():
            spans[-1][1] = m.end()
        else:
            spans.append([m.start(), m.end()])
    return [text[a:b] for a, b in spans]


CONNECTIVE = re.compile(rf"^(?:until|till|til|by|before|ends?|ending|expires?|valid (?:until|till)|"
                         rf"{_START}|within|in the next|for the next|over the next|valid for"
                         rf"|(?:all|in)(?= {MONTHS}))\s+(?:at\s+|on\s+)?", re.IGNORECASE)


def anchor(deadline: str) -> str:
    """The date itself, without its connective: "until 30 September" -> "30 september"."""
    d = CONNECTIVE.sub("", fold(deadline).strip())
    d = normalise(re.sub(r"\s+only$", "", d, flags=re.IGNORECASE))
    d = re.sub(r"\b(?:19|20)\d{2}\b", "", d).strip()  # "20 June 2026" is 20 June
    if re.search(r"\d", d):  # "Sunday 12 May" is 12 May
        d = re.sub(r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b ?", "", d)
    return re.sub(r"\b(\w+day)s\b", r"\1", d).strip()


def starts(deadline: str) -> bool:
    """Whether the phrase counts from when something begins ("from 1 May", "7 days from
    today"), not when it ends."""
    return bool(re.search(rf"\b(?:{_START})\b", deadline.strip(), re.IGNORECASE))



def newsy(sentence: str) -> bool:
    """A sentence that dates news ("new stock arrived this week"), not an offer."""
    offerish = cw.AMOUNT.search(sentence) or perk_spans(sentence) or cw.codes(sentence) or \
        _VALID.search(sentence)
    return not offerish and bool(_NOT_OFFER.search(sentence))



_VALID = re.compile(r"\b(?:valid|expires?|redeem\w*)\b", re.IGNORECASE)  # of an offer
_NOT_OFFER = re.compile(r"\b(new|arrived|landed|launched|opened|ago|last|since|back|open|opens"
                        r"|every (?:day|morning|evening|night|week|weekend|\w+day)|daily|hours)\b",
                        re.IGNORECASE)


def offer_dates(text: str) -> list[str]:
    """The deadlines that date the offer, not the news: "new stock arrived this week" dates the
    stock and "open every Sunday" the shop, "RM5 off until Sunday" or "The reservation ends at
    midnight" date the offer."""
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+", fold(text)):
        if not newsy(sentence):
            out += deadlines(sentence)
    return out


_RECURRING = re.compile(r"\b(?:daily|every (?:day|morning|afternoon|evening|night|week|weekday|\w+day)"
                        r"|each day|weekdays|happy hours?)\b", re.IGNORECASE)
_CLOCK_ONLY = re.compile(r"(?:\d{1,2}(?: \d{2})?(?:am|pm)|noon|midnight)(?: \d{1,2}(?: \d{2})?(?:am|pm))*")


_WINDOW = re.compile(r"\b\d{1,2}(?::\d{2})?(?:am|pm)-\d{1,2}(?::\d{2})?(?:am|pm)\b", re.IGNORECASE)


def end_dates(text: str) -> list[str]:
    """The offer's dates that end it, which back pressure ("hurry", "limited time"): the hours
    of a window ("2-5pm") or a clock time that comes back every day end nothing."""
    return [d for sentence in re.split(r"(?<=[.!?])\s+", fold(text))
            for d in offer_dates(_WINDOW.sub(" ", sentence))
            if not (_RECURRING.search(sentence) and _CLOCK_ONLY.fullmatch(anchor(d)))]
