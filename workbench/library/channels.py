"""Channel facts that previews and validation share: SMS encoding and segment counting."""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set; the extension set costs two septets each.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsInfo:
    """How an SMS text travels: encoding, length in units, and parts billed."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    single_limit: int
    parts: int

    @property
    def remaining(self) -> int:
        """Units left before the message splits into one more part."""
        per_part = self.single_limit if self.parts <= 1 else self.single_limit - (
            7 if self.encoding == "GSM-7" else 3)
        return per_part * max(self.parts, 1) - self.units


def sms_info(text: str) -> SmsInfo:
    """Encoding and number of parts of an SMS (160 GSM-7 / 70 UCS-2 characters in one part,
    153 / 67 per part once concatenated)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        units = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        single, multi, enc = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, enc = 70, 67, "UCS-2"
    parts = 1 if units <= single else -(-units // multi)
    return SmsInfo(enc, units, single, parts if units else 0)
