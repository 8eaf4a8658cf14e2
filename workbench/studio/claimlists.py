"""Word lists of grounding: the words that name a product category, the statements a message
makes about the reader's history with the merchant, and the words of urgency.

A draft may use a category word only when the sources do or the message's product category
belongs to the word's family ("Start your weekly shop" is wrong for a burger restaurant), and a
relationship statement only when the segment's definition supports it ("We missed you" to a
new customer). The lists live apart from the check (``grounding``) and the spelling rules
(``claimwords``) so that a marketer's vocabulary can grow without touching either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from workbench.studio.claimwords import unspaced

# words that name a product category; a draft may use one only when the sources do or the
# message's product category belongs to the family (words that also mean something else,
# like "home", "style" or "reading", are left out)
CATEGORY_TERMS: Mapping[str, tuple[str, ...]] = {
    "food": ("meal", "breakfast", "lunch", "dinner", "brunch", "supper", "burger", "pizza",
             "noodle", "fries", "coffee", "kopi", "latte", "dessert", "snack", "takeaway",
             "menu", "chef", "pastry", "cake", "bread", "sandwich", "sushi", "hungry",
             "craving", "tasty", "delicious", "dish", "bite", "eat", "dine", "drink", "tea"),
    "groceries": ("weekly shop", "grocery", "groceries", "pantry", "fresh produce",
                  "vegetable", "household basics"),
    "beauty": ("skincare", "skin", "serum", "sunscreen", "moisturiser", "moisturizer",
               "makeup", "lipstick", "beauty", "facial", "cleanser", "glow"),
    "electronics": ("gadget", "smartphone", "charger", "earbud", "laptop", "tech", "device",
                    "headphone"),
    "home": ("furniture", "sofa", "bedding", "cushion", "decor", "mattress"),
    "fashion": ("outfit", "wardrobe", "dress", "shoe", "sneaker", "fashion"),
    "pets": ("pet", "dog", "cat", "kibble", "puppy", "kitten", "paw"),
    "books": ("novel", "bookshelf", "paperback", "hardback"),
    "flowers": ("bouquet", "flower", "bloom", "florist"),
    "fitness": ("workout", "gym", "fitness", "training", "yoga"),
    "health": ("vitamin", "medicine", "pharmacy", "supplement", "wellness"),
    "toys": ("toy", "lego", "puzzle"),
}
CATEGORY_FAMILIES: Mapping[str, tuple[str, ...]] = {
    "restaurant": ("food",), "cafe": ("food",), "coffee": ("food",), "bakery": ("food",),
    "burger": ("food",), "food": ("food",), "dessert": ("food",), "pizza": ("food",),
    "grocer": ("groceries", "food"), "supermarket": ("groceries", "food"),
    "beauty": ("beauty",), "skincare": ("beauty",), "cosmetic": ("beauty",),
    "electronic": ("electronics",), "gadget": ("electronics",), "phone": ("electronics",),
    "home": ("home",), "furniture": ("home",), "fashion": ("fashion",),
    "apparel": ("fashion",), "shoe": ("fashion",), "pet": ("pets",), "book": ("books",),
    "flor": ("flowers",), "flower": ("flowers",), "fitness": ("fitness",),
    "sport": ("fitness", "fashion"), "pharmac": ("health",), "health": ("health",),
    "toy": ("toys",),
}

# what a draft says about the reader's history with the merchant; matched on folded text
RELATIONSHIPS: Mapping[str, re.Pattern[str]] = {k: re.compile(p, re.IGNORECASE) for k, p in {
    "new_customer": r"\bfirst[- ]time\b|\b(?:your|a) first (?:order|haul|visit|purchase|basket)\b"
                    r"|\bnew customers?\b|\bnew here\b|\bnew to (?:us|our|shopping|ordering|the "
                    r"app)\b|\bfor the first time\b|\bwelcome (?:gift|offer|treat)\b"
                    r"|\bnouveaux? clients?\b|\bneukunden\b|\bnuevos? clientes?\b",
    "lapsed": r"\bmissed you\b|\bmiss (?:you|ya|u)\b|\bwelcome back\b|\bbeen a while\b|\bit'?s been (?:a "
              r"while|ages|too long|so long|forever|a long time|\w+ (?:weeks|months|days))\b"
              # "it's been two weeks since your serum arrived" dates a delivery, not a lapse
              r"(?! since (?:your|you|the) (?:[\w.]+ ){0,6}?(?:arrived|was delivered|were delivered"
              r"|got delivered|came|landed|joined|signed up)\b)"
              r"|\bsince your last\b|\bcome back\b|\bhaven'?t seen you\b|\bold friend\b"
              r"|\blong time no see\b|\bwhere have you been\b|\bhaven'?t (?:heard from|ordered)\b"
              r"|\bbeen ages\b|\btu nous manques\b|\bwe'?ve missed\b|\bbienvenid[oa]s? de nuevo\b"
              r"|\bte (?:echamos|hemos echado) de menos\b|\bbon retour\b|\bcontent de te revoir\b"
              r"|\bwillkommen zuruck\b|\bwir vermissen dich\b|\bselamat datang kembali\b"
              r"|\b(?:kami )?rindu\b|\blama tak jumpa\b|\bbem-vind[oa]s? de volta\b"
              r"|\bsentimos (?:a )?sua falta\b|\bwelkom terug\b",
    "returning": r"\bagain\b|\byour usual\b|\bre-?order\b|\byour (?:favourites|favorites|go-to)\b"
                 r"|\byour (?:last|next|second|previous|recent|past)(?: \S+)? (?:order|basket|visit|"
                 r"purchase)\b|\bcoming back\b|\bback for more\b|\bgood to see you back\b"
                 r"|\bthanks? (?:you )?for shopping\b|\bthanks? (?:you )?for choosing\b"
                 r"|\bshopping with us again\b",
    # "regular" of a person, not of a size ("regular fries", "regular price")
    "regular": r"\bregulars\b|\bregular (?:customers?|shoppers?|guests?|diners?|riders?|fans?"
               r"|clients?|visitors?|buyers?)\b|\b(?:a|our|the|one of our|my|true|real) regular"
               r"(?! (?!(?:here|at|like|of|with|for|now|again|too|already)\b)\w)|\bloyal(?:ty)?\b|\bsticking with\b|\bsince day one\b"
               r"|\border (?:from \S+(?: \S+)? )?(?:so )?often\b|\byou (?:\w+ )?\w+ every (?:week|month"
               r"|day|time)\b|\byou (?:\w+ )?(?:buy|order|shop|visit|book)\w* (?:\w+ )?(?:regularly"
               r"|often|all the time)\b"
               r"|\blong-?time (?:customer|fan|shopper|friend)s?\b|\bvalued\b"
               r"|\b(?:best|favourite|favorite|top|biggest|most loyal) (?:customers?|shoppers?"
               r"|fans?)\b|\bsince the beginning\b|\byou'?ve been with\b|\b(?:with us|shopping|"
               r"ordering|a customer) for years\b|\byou'?ve earned\b|\bclients? fideles?\b"
               r"|\bfidelit|\btreue (?:kunden|kundin)\b|\bclientes? fieles\b"
               r"|\b(?:faithful|devoted|dedicated) (?:customers?|shoppers?|fans?|diners?|riders?)\b"
               # a regular customer in Tagalog, Malay/Indonesian, Vietnamese and Thai (key form)
               r"|\bsuki\b|\bpelanggan (?:setia|tetap)\b|\bkhach (?:hang )?(?:than thiet|quen)\b"
               rf"|{unspaced('ลูกค้าประจำ', 'ขาประจำ')}",
    "member": r"\bVIPs?\b|\bmembers?(?:hip)?\b|\bmembres?\b|\bmiembros?\b|\bmitglied\w*|\banggota\b"
              r"|\bthanh vien\b|\bhoi vien\b|\bmiyembro\b|\binsiders?\b|\b(?:gold|silver|platinum|elite|"
              r"diamond|premium) (?:members?|tier|level|status|card|club)\b|\bclub\b(?! sandwich)"
              r"|\bsubscribers?\b|\b(?:valued|trusted) partners?\b|\bexclusive(?:ly)? for you\b"
              r"|\b(?:our|the) (?:vip|inner|guest|priority|private) (?:list|circle)\b"
              r"|\bhand-?picked for you\b|\bselected customers\b"
              r"|\b(?:priority|premier|private|privilege|signature|elite|platinum|gold|vip)"
              r" (?:banking )?(?:clients?|customers?|guests?)\b|\bpre-?(?:approved|qualified|selected)\b",
    "follower": r"\bfollow(?:ing|ers?|ed)\b",
    "cart": r"\byour (?:cart|basket|bag)\b|\b(?:in|from) (?:your|the) cart\b|\bforgot something"
            r"|\bleft (?:it|them|something|items?) (?:behind|in)\b|\b(?:complete|finish) your "
            r"(?:checkout|order|purchase)\b|\bstill (?:in your|waiting)\b",
    "unpaid": r"\bpayment\b|\bpay now\b|\btap to pay\b|\bpay (?:within|before)\b|\bunpaid\b"
              r"|\bnot (?:yet )?paid\b|\bfinish paying\b",
    "delivered": r"\b(?:was|been|got|has been) delivered\b|\byour (?:order|parcel|package|"
                 r"delivery|purchase|food|meal|items?|box)(?: \w+){0,2} (?:has |have |just )?"
                 r"arrived\b|\bhope you enjoyed\b|\bthanks for (?:your|the) (?:\w+ )?(?:order|"
                 r"purchase)\b|\benjoy(?:ed)? your (?:\w+ )?(?:order|meal|purchase)\b"
                 r"|\bhow was your\b|\brate your\b",
    "viewed": r"\byou (?:viewed|saved|looked at|browsed|liked|wishlisted)\b"
              r"|\bon your wishlist\b",
}.items()}


# urgency: pressure restates a deadline ("hurry", "don't miss out"); stock words claim a limit
URGENCY = re.compile(
    r"\b(?:limited[- ]time|last chance|ends? soon|ending soon|hurry|don'?t miss(?: out)?"
    r"|before (?:it'?s|they'?re|it goes|they go) (?:gone|back up)|before (?:this|the) (?:offer|deal)"
    r" (?:disappears|ends|expires)|act (?:fast|now)|now or never|while (?:stocks?|supplies) last"
    r"|running (?:low|out)|selling fast|only \d+ (?:left|units|pieces)|limited stock"
    r"|almost gone|few left)\b", re.IGNORECASE)
STOCK = re.compile(r"\b(?:stocks?|supplies|units|left|limit|running low|(?:selling|going|moving) "
                    r"fast|gone|few|sold|almost|before (?:it|they))\b", re.IGNORECASE)
PRESSURE = re.compile(r"hurry|don'?t (?:wait|delay|miss|sleep on)|miss(?:ing)? out|last chance"
                       r"|final (?:call|chance)|limited[- ]time|act (?:fast|now|quickly)"
                       r"|now or never|(?:ends?|ending|over|closing) soon|countdown|expir"
                       r"|selling fast|going fast|almost gone|few left|before (?:it|they)"
                       # the same in French, German, Spanish, Malay/Indonesian (key form)
                       r"|derniere chance|dernier jour|ne tardez pas|letzte chance|nur noch"
                       r"|ultima oportunidad|no esperes|date prisa|buruan|segera|hanya sampai"
                       r"|jangan (?:lewatkan|tunggu)",
                       re.IGNORECASE)
STOCK_FACT = re.compile(r"\b(?:stocks?|supplies|units left|limited (?:stock|quantities|edition|number"
                         r"|seats|slots|places)|(?:is|are) limited|capped"
                         r"|stok (?:terhad|terbatas)|terhad|terbatas|so luong co han|"
                         + unspaced("จำนวนจำกัด", "มีจำกัด") +
                         r"|while \w+ last|running low|selling fast|few left|only \d+ left)\b",
                         re.IGNORECASE)
