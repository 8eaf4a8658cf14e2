"""What an offer is on: its product words, the lists that widen it, what a price drop saves.

A rewrite keeps the offer's product ("25% off Australian grapes" stays on grapes) and may not
widen it ("drinks or pastries" when the offer is on drinks). Both the rules engine's intent
(``copyrules.Intent``) and the grounding check (``grounding``) read products here, so the two
agree on what a product word is: a word of the voucher that is no offer mechanic ("off",
"Rabatt", "min."), time, number, code or ordinal, which other checks keep.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from workbench.studio import claimwords as cw
from workbench.studio.perkwords import SERVICES, canon

_WORD = re.compile(r"[a-z0-9]+")
STOP = {"off", "min", "spend", "order", "orders", "first", "next", "second", "on", "up", "to",
         "rm", "with", "any", "at", "the", "a", "of", "for", "all", "month", "if", "paid",
         "today", "now", "was", "over", "your", "free", "delivery", "store", "partner", "price",
         "drop", "in", "and", "get", "buy", "code", "usually", "usual", "instead", "from",
         # the same little words in the other languages a programme writes in
         "les", "des", "sur", "pour", "avec", "dans", "auf", "der", "die", "das", "und", "mit",
         "fur", "los", "las", "con", "del", "para", "por", "una", "untuk", "dan", "atau",
         "dengan", "yang",
         # offer mechanics and time, which the amount, perk and date checks keep, not the product
         "discount", "rabatt", "diskon", "descuento", "reduction", "remise", "achat", "belanja",
         "pesanan", "pedido", "acima", "desde", "primera", "primer", "premiere", "erste", "ab",
         "bestellwert", "grati", "gratis", "kostenlo", "kostenlos", "frete", "ongkir", "trial",
         "double", "triple", "more", "day", "tage", "week", "year",
         "minimum", "minimal", "purchase", "shop", "spend", "bayar", "dapat", "dapatkan", "beli",
         "percuma", "potongan", "harga", "hemat", "jimat", "setiap", "saja", "hanya", "sahaja",
         "compra", "paga", "lleva", "achetez", "offert", "kaufen", "bekommen", "nur", "capped",
         "cap", "max", "maximum", "auto", "applied", "automatically", "valid", "needed", "only",
         "until", "ends", "flash", "sale", "tonight", "midnight", "while", "stock", "last",
         "limit", "per", "each", "every", "new", "plus", "extra", "again", "now", "book", "save",
         # terms beside the product, not the product: "cancel anytime", "no registration
         # required", "orders above RM40", "10% cashback", "IT products", "Buy 1 Take 1"
         "above", "below", "under", "then", "after", "cancel", "anytime", "registration",
         "required", "register", "signup", "sign", "cashback", "back", "take", "product",
         "item", "everything", "instantly", "instant", "right", "away", "when", "automatic",
         "produk", "barang", "semua", "seluruh", "bagi", "tanpa", "kode", "berlaku", "sah",
         "sehingga", "hingga", "sampai", "tawaran", "promo", "produit", "produkt",
         "producto", "tout", "todo", "todos", "alle", "voucher", "coupon", "bonu", "bonus",
         "limited", "number", "quantity", "terhad", "gift", "daily", "once", "twice", "libreng",
         "libre", "cardholder", "holder", "group", "selected", "registered", "credited",
         "instalment", "installment",
         # Vietnamese offer words, accents folded: giam (off), cho (for), don (order), tu (from),
         # ma (code), het han (expires), den (until), tat ca (all), san pham (product)
         "giam", "cho", "don", "het", "han", "den", "tat", "san", "pham", "voi", "moi", "khi"}


def stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def words(text: str) -> set[str]:
    """The text's words in :func:`claimwords.key` form, singular."""
    return {stem(w) for w in _WORD.findall(cw.key(text))}


def product_terms(voucher: str, dates: Iterable[str] = ()) -> set[str]:
    """The product words of a voucher ("25% off Australian grapes" -> {australian, grape}):
    not its mechanics, numbers, codes, ordinals or times, nor its ``dates`` ("this weekend"
    dates the offer; "weekend stays" is the product)."""
    code = {c.lower() for c in cw.codes(voucher)}
    for d in dates:
        voucher = cw.fold(voucher).replace(d, " ")
    return {w for w in words(re.sub(cw.AMOUNT, " ", voucher)) if w not in STOP and not w.isdigit()
            and len(w) > 2 and w not in code
            and not re.fullmatch(r"\d+(?:st|nd|rd|th|am|pm|h|x)", w)}


def kept(word: str, text: str) -> bool:
    """A product word survives in ``text`` in any form: itself, inside a compound, with another
    ending ("booking" in "book"), or a number-and-unit by its number ("90s" as "90 capsules")."""
    have = words(text)
    if word in have or word in re.sub(r"[\W_]+", "", cw.key(text)):
        return True
    if any(c.isdigit() for c in word):
        return word[0].isdigit() and re.match(r"\d+", word).group(0) in set(
            re.findall(r"\d+", cw.fold(text)))
    return any(len(w) >= 4 and _common(w, word) >= max(4, len(word) / 2) for w in have)


def _common(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def product_phrase(voucher: str) -> str:
    """The product of a voucher in its own words: "25% off Australian grapes" -> "Australian
    grapes"; "" when the voucher names no product."""
    keep = [w for w in re.sub(cw.AMOUNT, " ", voucher).split()
            if stem(re.sub(r"[^a-z0-9]", "", w.lower())) not in STOP and not w.isdigit()
            and len(re.sub(r"[^A-Za-z]", "", w)) > 2]
    return " ".join(keep)


_CONJ = r"(?:or|and|&|ou|o|y|e|atau|dan|oder|und|et|hoac|va)"
# a word, or a capitalised name of two or three ("Chiang Mai", "Ho Chi Minh")
_ITEM = r"(?:(?-i:[A-Z])[\w'-]*(?:\s(?-i:[A-Z])[\w'-]*){1,2}|[^\W\d_][\w'-]*)(?![\w'-])"
# a list of single words, ended the way a list of things ends ("laptops, tablets and phones
# bought this month"), not "kibble and check out"
_LIST = re.compile(rf"(?<![\w'-])({_ITEM})((?:\s*,\s*{_ITEM})*\s*,?\s+{_CONJ}\s+(?:an? |the |any )?"
                   rf"{_ITEM})(?=\s*(?:[.,!?;:)]|$|(?:bought|purchased|ordered|booked|from|at|in|on|"
                   rf"with|to|for|of|over|above|this|that|are|is|and|or|get|when|you)\b))",
                   re.IGNORECASE)


def widened(text: str, known: set[str], anchors: set[str]) -> list[str]:
    """Things a list in ``text`` adds to what the offer is on: "laptops, tablets and phones",
    "drinks or pastries", "Langkawi, Penang or Tioman" when the sources (``known``, as
    :func:`words`) name only the first. A list counts when one of its items is one of the
    offer's ``anchors`` (its product words, category words, the names the original
    capitalises); a service ("and shipping is free") is a perk, checked as one."""
    out = []
    for m in _LIST.finditer(text):
        items = [m.group(1)] + re.findall(_ITEM, re.sub(rf"\b{_CONJ}\b|\b(?:an?|the|any)\b", " ",
                                                        m.group(2), flags=re.IGNORECASE))
        stems = [stem(cw.key(i)) for i in items]
        if not any(x in anchors for x in stems):
            continue
        out += [item for item, x in zip(items, stems) if x not in known
                and not (" " in x and all(w in known for w in x.split()))
                and canon(x) not in SERVICES
                and not any(len(x) >= 4 and k.startswith(x[:max(4, len(x) - 2)]) for k in known)]
    return out


_WAS = re.compile(r"\b(?:was|were|down from|usual(?:ly)?|instead of|normally|reduced from)\b",
                  re.IGNORECASE)


def savings(facts: str) -> set[str]:
    """What a price drop saves: "now $449, was $499" backs "save $50"."""
    if not _WAS.search(facts):
        return set()
    money = [(a[:len(a) - len(v)], float(v)) for a in cw.amounts(facts) if not a.endswith("%")
             for v in re.findall(r"[\d.]+$", a)]
    return {f"{c}{cw.number_text(x - y)}" for c, x in money for d, y in money if c == d and x > y}
