"""Reading money amounts from bank-file text into Decimal (never float)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .types import MAX_AMOUNT

TWO_PLACES = Decimal("0.01")

_SYMBOLS = "$€£¥₹₣₽₺₩₪"
_ISO_CODE = re.compile(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])", re.ASCII)
_FAST_POINT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d{1,12})(?:\.\d{1,2})?", re.ASCII)
_FAST_COMMA = re.compile(r"-?(?:\d{1,3}(?:\.\d{3})+|\d{1,12})(?:,\d{1,2})?", re.ASCII)
_DIGITS = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
# Currencies whose minor unit is not 1/100 (for amounts given in minor units, e.g. BAI2).
MINOR_UNIT_EXPONENT = {
    code: 0 for code in ["JPY", "KRW", "ISK", "CLP", "VND", "XOF", "XAF", "PYG", "UGX"]
} | {code: 3 for code in ["BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"]}


ISO_CURRENCIES = frozenset(
    (  # noqa: SIM905 - a block of codes reads better than a 180-line list
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN "
        "BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD "
        "FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY "
        "KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP "
        "MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR "
        "RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT "
        "TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL"
    ).split()
)


class AmountError(ValueError):
    """The text is not a money amount; the message says why, for a rejected line."""


def parse_amount(text: str, decimal_separator: str | None = ".") -> tuple[Decimal, str | None]:
    """Read a signed amount, returning (amount, currency found in the text or None).

    Understands thousands separators, a decimal comma when ``decimal_separator`` is ",",
    a leading/trailing minus, parentheses and "CR"/"DR" suffixes for the sign, and currency
    symbols or ISO codes around the number.
    """
    original = text
    text = text.strip()
    fast = _FAST_COMMA if decimal_separator == "," else _FAST_POINT
    if fast.fullmatch(text):
        return _fast_amount(text, decimal_separator, original), None
    if not text:
        raise AmountError("amount is empty")
    negative = False
    currency = None
    upper = text.upper()
    if upper.endswith(("CR", "DR")) and not upper[:-2].rstrip()[-1:].isalpha():
        negative = upper.endswith("DR")
        text = text[:-2].strip()
    match = _ISO_CODE.search(text)
    if match and match.group(1) in ISO_CURRENCIES:
        currency = match.group(1)
        text = (text[: match.start()] + text[match.end() :]).strip()
    for symbol in _SYMBOLS:
        if symbol in text:
            text = text.replace(symbol, "")
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        negative = not negative
        text = text[1:-1].strip()
    if text.startswith(("-", "\u2212")):
        negative = not negative
        text = text[1:].strip()
    elif text.startswith("+"):
        text = text[1:].strip()
    elif text.endswith("-"):
        negative = not negative
        text = text[:-1].strip()
    text = text.replace(" ", "").replace("\u00a0", "").replace("'", "").replace("\u202f", "")
    text = _normalise_separators(text, decimal_separator)
    if not _DIGITS.fullmatch(text):
        raise AmountError(f"amount {original.strip()!r} is not a number")
    value = _checked(Decimal(text), original)
    return (-value if negative else value), currency


def _fast_amount(text: str, decimal_separator: str | None, original: str) -> Decimal:
    """The common case: digits, thousands separators, up to 2 decimals, maybe a minus."""
    if decimal_separator == ",":
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", "")
    point = text.find(".")
    if point == -1:
        text += ".00"
    elif len(text) - point == 2:
        text += "0"
    value = Decimal(text)
    if abs(value) > MAX_AMOUNT:
        raise AmountError(f"amount {original.strip()!r} is too large")
    return value


def _normalise_separators(text: str, decimal_separator: str | None) -> str:
    if decimal_separator == ",":
        return text.replace(".", "").replace(",", ".")
    if decimal_separator == ".":
        return text.replace(",", "")
    # Unknown: the right-most separator is the decimal one when it has 1-2 digits after it.
    last = max(text.rfind("."), text.rfind(","))
    if last == -1:
        return text
    decimals = len(text) - last - 1
    if decimals in (1, 2) or (decimals != 3 and text[last] == "."):
        integer, fraction = text[:last], text[last + 1 :]
        return integer.replace(".", "").replace(",", "") + "." + fraction
    return text.replace(".", "").replace(",", "")


def _checked(value: Decimal, original: str) -> Decimal:
    try:
        quantized = value.quantize(TWO_PLACES)
    except InvalidOperation as exc:
        raise AmountError(f"amount {original.strip()!r} is not a number") from exc
    if quantized != value:
        raise AmountError(f"amount {original.strip()!r} has more than 2 decimal places")
    if abs(quantized) > MAX_AMOUNT:
        raise AmountError(f"amount {original.strip()!r} is too large")
    return quantized


def amount_from_minor_units(digits: str, currency: str | None) -> Decimal:
    """Turn an unsigned amount in minor units ("150075" = 1500.75 USD) into a Decimal."""
    if not digits.isascii() or not digits.isdigit():
        raise AmountError(f"amount {digits!r} is not a number")
    exponent = MINOR_UNIT_EXPONENT.get((currency or "").upper(), 2)
    value = Decimal(int(digits)).scaleb(-exponent).quantize(TWO_PLACES)
    if value > MAX_AMOUNT:
        raise AmountError(f"amount {digits!r} is too large")
    return value


def detect_decimal_separator(samples: list[str], default: str = ".") -> str:
    """Guess whether a column of amounts uses a decimal point or a decimal comma."""
    comma = point = 0
    for sample in samples:
        text = sample.strip().rstrip("-)").rstrip()
        text = text.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ" + _SYMBOLS).rstrip()
        if len(text) >= 3 and text[-3] in ",." and text[-2:].isdigit():
            if text[-3] == ",":
                comma += 1
            else:
                point += 1
        elif len(text) >= 2 and text[-2] in ",." and text[-1].isdigit():
            if text[-2] == ",":
                comma += 1
            else:
                point += 1
        elif re.search(r"\d\.\d{3}\.\d{3}$", text) or re.search(r"\d\.\d{3},", text):
            comma += 1
        elif re.search(r"\d,\d{3},\d{3}$", text) or re.search(r"\d,\d{3}\.", text):
            point += 1
    if comma > point:
        return ","
    if point > comma:
        return "."
    return default
