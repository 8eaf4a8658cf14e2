"""Perks: what a message gives away, and on what.

"free fries with every combo" gives fries on a combo, "returns are free" gives returns,
"3 for 2" gives the third one. A perk is read in :func:`claimwords.key` form, so "Frее",
"🎁" or "f r e e" hide nothing; "sugar-free latte" or "feel free" give nothing away. The
grounding check (``grounding``) backs a draft's perk only with one of the sources' perks that
gives the same things (or more) on the same scope.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from workbench.studio.claimwords import ORDINALS, UNSPACED, key, unspaced

_GIVE = (r"free of charge|free|complimentary|gratis|gratuite?s?|kostenlose?[nrs]?|offerte?s?|gratuito|percuma"
         r"|geschenkt|regalad[oa]s?|gratuitement|cuma-cuma|thrown in"
         r"|on us|on the house|included|at no (?:extra )?(?:cost|charge)|de graca|sin costo"
         r"|(?:we'?ll |we will )?waive[sd]?"
         r"|sans frais|sin coste|sin cargo|costs? (?:you )?nothing|no pagas|nao paga|tanpa biaya"
         r"|bebas ongkir|mien phi|libre|libreng|walang bayad")
_NOT_GIVEN = re.compile(r"\bfree (?:to|up|of|from|yourself|time|spirit|will|range|style|hand)\b"
                        r"|\bfeel free\b|\b(?:you're|you are|be|set|break) free\b"
                        r"|[\w]-free\b|\bfree-\w", re.IGNORECASE)
# a word right before "free" that makes it a perk ("get free fries"); any other word makes it
# a compound adjective ("sugar free latte", "fragrance free")
_BEFORE_PERK = {"is", "are", "was", "were", "s", "get", "gets", "got", "enjoy", "claim", "grab",
                "plus", "with", "and", "or", "a", "an", "the", "your", "our", "totally",
                "completely", "absolutely", "100", "for", "receive", "score", "also", "comes",
                "come", "always", "be", "+", "&", "including", "includes", "add", "extra",
                "bonus", "two", "one", "another", "some", "more", "too", "also", "unlock", "win",
                "adding", "adds", "giving", "gives", "give", "offering", "offers", "earn",
                "earns", "throwing", "including", "sending", "sends",
                # a duration: "7-day free trial", "30 days free"
                "day", "days", "week", "weeks", "month", "months", "hour", "hours"}
_PERK_NOUNS = re.compile(r"\b(?:gift(?: ?wrap(?:ping)?)?s?|goodie(?: bag)?s?|freebies?|samples?"
                         r"|bonus(?:es)?|treat bags?|cadeaux?|geschenke?|regalos?|hadiah|brindes?"
                         r"|cadeau)\b")
SERVICES = {"delivery", "return", "installation", "assembly", "setup", "gift", "wrap",
             "sample", "trial", "cancellation", "exchange", "alteration", "engraving"}
_COPULA = {"is", "are", "was", "were", "s", "be", "comes", "come", "will"}
_STOP = {"with", "on", "for", "and", "or", "when", "if", "at", "in", "to", "of", "your", "our",
         "the", "a", "an", "every", "each", "all", "any", "over", "above", "until", "till", "by",
         "this", "that", "these", "those", "you", "we", "is", "are", "too", "now", "today",
         "next", "first", "also", "just", "plus", "s", "it", "its", "be", "will", "ll", "can",
         "get", "enjoy", "as", "well", "from", "one", "ones", "fee", "fees", "sai", "fica",
         # units of time: "7 Tage" and "eine Woche" give the same thing
         "day", "days", "week", "weeks", "month", "months", "year", "years", "tag", "tage",
         "woche", "wochen", "monat", "hari", "minggu", "bulan", "jour", "jours", "semaine",
         "mois", "dia", "dias", "semana", "mes", "meses", "eine", "ein", "une", "un", "una",
         # a relative word and ordinals of other languages: "yang ketiga gratis" gives "one"
         "second", "third", "fourth", "fifth", "2nd", "3rd", "4th", "5th",
         "de", "del", "la", "el", "los", "las", "en", "tu", "su", "le", "du", "des", "da",
         "do", "di", "ke", "para", "por", "au", "aux",
         "sa", "ng", "mo", "mong", "unang", "ang", "inyong", "iyong", "po", "basta",
         "yang", "lagi", "secara", "dapat", "dapatkan", "ambil", "satu", "dua", "kedua", "ketiga", "keempat", "segundo", "segunda", "tercero", "tercera",
         "troisieme", "deuxieme", "zweite", "dritte", "dritten", "terceiro", "terceira"}
_FOR_A_TIME = re.compile(r" for (?:\d+|an?|one|two|three|seven|fourteen|thirty) (?:\w+ )?"
                         r"(?:days?|weeks?|months?|years?|hours?)\b")
_DETERMINERS = {"the", "a", "an", "all", "your", "our", "every", "each", "any", "this", "that",
                "these", "those", "my"}
_ENDS_FORWARD = {"and", "or"} | _COPULA
_ENDS_BACK = {"and", "or", "then", "now", "but", "so", "entao", "entonces", "alors", "dann",
              "e", "y", "et", "und", "dan", "lalu"} | _DETERMINERS
_OBJECT_STOP = {"with", "on", "for", "when", "if", "at", "in", "to", "of", "over", "above",
                "until", "till", "by", "from", "is", "are", "while", "off"}
_SAME = {"shipping": "delivery", "postage": "delivery", "ship": "delivery", "ships": "delivery",
         "shipped": "delivery", "deliver": "delivery", "delivered": "delivery", "deliveries": "delivery",
         "livraison": "delivery", "versand": "delivery", "lieferung": "delivery",
         "envio": "delivery", "entrega": "delivery", "pengiriman": "delivery",
         "ongkir": "delivery", "frete": "delivery", "returns": "return", "gifts": "gift", "cadeau": "gift",
         "geschenk": "gift", "regalo": "gift", "hadiah": "gift", "wrapping": "wrap",
         "fries": "fry", "freebie": "gift"}
_SCOPE = re.compile(r"^\W*(?:\w+\W+){0,4}?(?:with|on|for|in) (?:(?:every|each|all|any|your|a|the"
                    r"|first|next|second|1st|\d+|two|three|four|five|six|ten) ){0,3}(\w+)")


_NEAR_SCOPE = re.compile(_SCOPE.pattern.replace(r"(?:\w+\W+){0,4}?", "", 1))
# Thai "free" and "at no cost"
_UNSPACED_GIVE = unspaced("ฟรี", "ไม่เสียเงิน", "ไม่เสียค่าใช้จ่าย", "ไม่มีค่าใช้จ่าย",
                          "免费", "赠送", "再送", "加送", "附送")  # and Chinese: free, give


def _scope(after: str, near: bool = False) -> str | None:
    """What a perk comes with: "with every combo" -> "combo", "on orders over RM50" ->
    "order"; ``near``: only right after the perk ("a gift with every order", not "bonus data
    lands on your number")."""
    m = (_NEAR_SCOPE if near else _SCOPE).match(after)
    return canon(m.group(1)) if m and m.group(1) not in _STOP else None


def canon(word: str) -> str:
    """One spelling of a perk's word: plural and synonyms ("shipping" is "delivery")."""
    w = _SAME.get(word, word)
    return _SAME.get(w[:-1], w[:-1]) if len(w) > 3 and w.endswith("s") and not w.endswith(
        ("ss", "us", "is")) else w


def _content(words: list[re.Match[str]], limit: int,
             backwards: bool = False) -> list[re.Match[str]]:
    """The content words of a perk's object, nearest first, up to a preposition, a
    conjunction ("free trial and binge the series") or a verb of being ("a free case comes
    with it"); reading backwards from "is free", up to a conjunction ("check out now and
    shipping is free") or the determiner that starts the noun phrase ("handle all the
    assembly at no cost")."""
    out: list[re.Match[str]] = []
    for w in words:
        word = w.group(0)
        if word in _OBJECT_STOP or len(out) >= limit or word in (
                _ENDS_BACK if backwards else _ENDS_FORWARD) or (
                backwards and any(c.isdigit() for c in word)):
            break
        if any(c.isdigit() for c in w.group(0)):
            continue  # "free 2-year warranty": the warranty is what is given
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
    # a picture ends a perk as a full stop does ("for free 🍟 Valid on orders ...")
    k = "".join("." if unicodedata.category(ch) == "So" else ch for ch in key(text))
    out: list[Perk] = []
    for m in re.finditer(rf"(?<![\w-])(?:{_GIVE})(?![\w-])|{_UNSPACED_GIVE}|(?:no|zero|without(?: any)?) (?:\w+ ){{0,2}}"
                         r"(?:fees?|charges?)"
                         r"\b|(?:we'?ll|we will) (?:cover|pay for|take care of)\b", k):
        word = m.group(0)
        if UNSPACED.search(word):  # no spaces to find what is given by
            out.append((m.span(), (), None))
            continue
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
        trial = _FOR_A_TIME.match(k, m.end())
        if word == "free" and trial:  # "try FitPulse free for 7 days": a free use of the offer
            out.append(((m.start(), trial.end()), (), None))
            continue
        if word in ("free", "complimentary"):
            # "we'll ship it free", "delivery free over RM50", "get fries for free"
            postfix = prev in _COPULA or prev in ("it", "them") or canon(prev) in SERVICES or (
                prev == "for" and (not after or after[0].group(0) in _OBJECT_STOP))
            if prev == "for" and postfix:
                before = before[:-1]
            if prev and not postfix and prev not in _BEFORE_PERK and not prev.isdigit() \
                    and not re.fullmatch(r"\d+(?:st|nd|rd|th)", prev) and prev not in ORDINALS:
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
            out.append((m.span(), (canon(m.group(0).split()[0]),), _scope(k[m.end():], near=True)))
    return sorted(out)


@dataclass(frozen=True)
class Given:
    """One perk: its words, what is given and on what scope."""

    text: str
    things: tuple[str, ...] = ()
    scope: str | None = None


def perks(text: str) -> list[Given]:
    """What ``text`` gives away: each perk with what is given and on what scope."""
    k = key(text)
    return [Given(k[a:b], things, scope) for (a, b), things, scope in perk_spans(text)]


MULTIBUY = re.compile(r"\b\d+[- ](?:for|por|pour|fur|untuk)[- ]\d+\b|\bfor the price of (?:one|1)\b|\b(?:pay|bayar|paga|payez|zahle?)"
                      r" (?:for |only for |only )?(?:\d+|two|one|dua)\b|\b(?:buy|beli|bili|compra|achetez"
                      r"|kaufe?) (?:\d+|one|two|three|isa|satu|dua|tiga),? (?:get|dapat|lleva|recevez|bekomme"
                      r"|take|free|percuma|libre|gratis)\w* (?:\d+|one|two|isa|satu|dua)\b"
                      r"|\b(?:bogo|b[1i][gtf][1i])\b")  # key() reads "B1F1" as "bif1"


def backed(p: Given, facts: list[Given], facts_text: str = "") -> bool:
    """Backed when the sources give away the same things (or more) on the same scope; a perk
    of nothing named ("on the house", "the third one is on us") by any perk of the sources or a
    multi-buy ("3 for 2")."""
    if not p.things and p.scope is None:  # "on the house": restates any of the sources' perks
        return bool(facts) or bool(MULTIBUY.search(key(facts_text)))
    return any(set(p.things) <= set(q.things) | {q.scope}
               and (p.scope is None or canon(p.scope) == canon(q.scope or "")) for q in facts) or (
        not p.things and bool(MULTIBUY.search(key(facts_text))))

