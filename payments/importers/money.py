"""Reading money amounts from bank-file text into Decimal (never float)."""

from __future__ import annotations

import re
from decimal import Decimal

from arpilot.currencies import ISO_CURRENCIES, ISO_MINOR_UNITS, currency_places, iso_minor_units
from arpilot.money import MILL, money_value

from .types import MAX_AMOUNT

_SYMBOLS = "$€£¥₹₣₽₺₩₪"
_ISO_CODE = re.compile(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])", re.ASCII)
_FAST_POINT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d{1,12})(?:\.\d{1,2})?", re.ASCII)
_FAST_COMMA = re.compile(r"-?(?:\d{1,3}(?:\.\d{3})+|\d{1,12})(?:,\d{1,2})?", re.ASCII)
_FAST = {".": _FAST_POINT, ",": _FAST_COMMA}
# Kept under their old names for the importers (one table: ``arpilot.currencies``).
MINOR_UNIT_EXPONENT = ISO_MINOR_UNITS


class AmountError(ValueError):
    """The text is not a money amount; the message says why, for a rejected line."""


# Characters that group thousands besides the "other" separator: spaces and the Swiss apostrophe.
_SPACE_GROUPS = " \u00a0\u202f'"
_CORE = {
    ".": re.compile(
        r"(?P<int>[0-9]+|[0-9]{1,3}(?P<g>[,"
        + _SPACE_GROUPS
        + r"])[0-9]{3}(?:(?P=g)[0-9]{3})*)?(?:\.(?P<frac>[0-9]+))?",
        re.ASCII,
    ),
    ",": re.compile(
        r"(?P<int>[0-9]+|[0-9]{1,3}(?P<g>[."
        + _SPACE_GROUPS
        + r"])[0-9]{3}(?:(?P=g)[0-9]{3})*)?(?:,(?P<frac>[0-9]+))?",
        re.ASCII,
    ),
}
_OFX_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:[.,]([0-9]*))?", re.ASCII)
# "9,340.00": the point is the decimal point, so the comma can only group thousands.
_OFX_GROUPED = re.compile(r"([+-]?)([0-9]{1,3}(?:,[0-9]{3})+)\.([0-9]+)", re.ASCII)
_XML_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?", re.ASCII)
_SEPARATOR_NAME = {".": "a decimal point (.)", ",": "a decimal comma (,)"}


def minor_unit_exponent(currency: str | None) -> int:
    """Decimal places of the currency's ISO 4217 minor unit (2 unless known otherwise)."""
    return iso_minor_units(currency)


def _places_allowed(currency: str | None) -> int:
    """Decimals an amount in the currency may carry: three for the three-place currencies
    (BHD, KWD, OMR, JOD, LYD, TND; by ISO 4217 or CLDR), else two."""
    return (
        3 if currency and max(minor_unit_exponent(currency), currency_places(currency)) == 3 else 2
    )


def _exact(integer: str, fraction: str, original: str, currency: str | None = None) -> Decimal:
    """The non-negative amount integer.fraction, exactly, or AmountError.

    More decimals than the currency has (two; three for BHD and the like) are accepted only
    when the extra digits are zeros. The value has two places, or three when the third is
    not zero.
    """
    shown = original.strip()
    if not integer and not fraction:
        raise AmountError(f"amount {shown!r} is not a number")
    allowed = _places_allowed(currency)
    if fraction[allowed:].strip("0"):
        if allowed == 3:
            raise AmountError(
                f"amount {shown!r} has more than 3 decimal places ({currency.upper()} has 3)"
            )
        raise AmountError(f"amount {shown!r} has more than 2 decimal places")
    integer = integer.lstrip("0")
    if len(integer) > 12:
        raise AmountError(f"amount {shown!r} is too large")
    value = money_value(Decimal(f"{integer or '0'}.{(fraction[:3] + '000')[:3]}"))
    if value > MAX_AMOUNT:
        raise AmountError(f"amount {shown!r} is too large")
    return value


def _core(text: str, separator: str) -> tuple[str, str] | None:
    """(integer digits, fraction digits) when the text is a number under the separator."""
    match = _CORE[separator].fullmatch(text)
    if match is None or not (match.group("int") or match.group("frac")):
        return None
    integer = match.group("int") or ""
    group = match.group("g")
    if group:
        integer = integer.replace(group, "")
    return integer, match.group("frac") or ""


def parse_amount(
    text: str, decimal_separator: str | None = ".", *, currency: str | None = None
) -> tuple[Decimal, str | None]:
    """Read a signed amount exactly, returning (amount, currency found in the text or None).

    The number must fit ``decimal_separator`` ("." or ","): the other character may only
    group thousands in a correctly grouped number (``1,250.50``, ``1.250,50``); ``12.50``
    under a decimal comma, or ``12,50`` under a decimal point, is an ambiguous amount and
    is refused, never rescaled. ``None``: either, when both readings agree or only one fits.
    Understands a leading/trailing minus, parentheses and "CR"/"DR" suffixes for the sign,
    and currency symbols or ISO codes around the number. More than two decimals are
    accepted only when the extra digits are zeros. ``currency``: the amount's currency when
    known (for the message about three-decimal currencies).
    """
    original = text
    text = text.strip()
    if not text:
        raise AmountError("amount is empty")
    fast = _FAST.get(decimal_separator)
    if fast is not None and fast.fullmatch(text):
        return _fast_amount(text, decimal_separator, original), None
    negative = False
    found_currency = None
    upper = text.upper()
    if upper.endswith(("CR", "DR")) and not upper[:-2].rstrip()[-1:].isalpha():
        negative = upper.endswith("DR")
        text = text[:-2].strip()
    match = _ISO_CODE.search(text)
    if match and match.group(1) in ISO_CURRENCIES:
        found_currency = match.group(1)
        _outside_the_number(text, match.start(), match.end(), original)
        text = (text[: match.start()] + text[match.end() :]).strip()
    for symbol in _SYMBOLS:
        for found in re.finditer(re.escape(symbol), text):
            _outside_the_number(text, found.start(), found.end(), original)
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
    value = _number(text, decimal_separator, original, found_currency or currency)
    return (-value if negative else value), found_currency


def _outside_the_number(text: str, start: int, end: int, original: str) -> None:
    """A currency sign or code goes around the number, never between its digits (dropping
    it would join them into another number: "0.00€0", "12 USD 34")."""
    before = text[:start].rstrip()[-1:]
    after = text[end:].lstrip()[:1]
    if before[:1].isdigit() and after[:1].isdigit():
        raise AmountError(f"a currency sign inside the amount {original.strip()!r}")


def _number(text: str, decimal_separator: str | None, original: str, currency: str | None):
    shown = original.strip()
    if decimal_separator in _CORE:
        parts = _core(text, decimal_separator)
        if parts is not None:
            return _exact(*parts, original, currency)
        other = "," if decimal_separator == "." else "."
        if _core(text, other) is not None:
            raise AmountError(
                f"ambiguous amount {shown!r}: the amounts use {_SEPARATOR_NAME[decimal_separator]}"
            )
        raise AmountError(f"amount {shown!r} is not a number")
    outcomes: list[Decimal | AmountError] = []
    for separator in (".", ","):
        parts = _core(text, separator)
        if parts is None:
            continue
        try:
            outcomes.append(_exact(*parts, original, currency))
        except AmountError as exc:
            outcomes.append(exc)
    if not outcomes:
        raise AmountError(f"amount {shown!r} is not a number")
    values = {outcome for outcome in outcomes if isinstance(outcome, Decimal)}
    if not values:
        raise outcomes[0]
    if len(values) > 1 or (len(values) != len(outcomes) and len(outcomes) > 1):
        raise AmountError(
            f"ambiguous amount {shown!r}: it may use a decimal point or a decimal comma"
        )
    return values.pop()


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


def parse_ofx_amount(text: str, currency: str | None = None) -> Decimal:
    """An OFX amount (TRNAMT): an optional sign, digits and one decimal separator.

    In OFX "." is always the decimal point and "," is a decimal separator too (as ofxparse
    and ofxtools read it): ``1,500`` is 1.5; ``.50`` and ``+.75`` are valid. No thousands
    separators, except that a correctly grouped ``9,340.00`` (comma before the decimal
    point) is read as ofxparse reads it; ``1.500,00`` is refused.
    """
    grouped = _OFX_GROUPED.fullmatch(text.strip())
    if grouped is not None:
        value = _exact(grouped.group(2).replace(",", ""), grouped.group(3), text, currency)
        return -value if grouped.group(1) == "-" else value
    match = _OFX_NUMBER.fullmatch(text.strip())
    if match is None or not text.strip():
        raise AmountError(
            f"amount {text.strip()!r} is not a number" if text.strip() else "amount is empty"
        )
    value = _exact(match.group(2), match.group(3) or "", text, currency)
    return -value if match.group(1) == "-" else value


def parse_xml_decimal(text: str, currency: str | None = None) -> Decimal:
    """An xs:decimal amount (camt.053 ``Amt``): ``1500.00``, ``.02``, ``+3``."""
    match = _XML_DECIMAL.fullmatch(text.strip())
    if match is None or not text.strip():
        raise AmountError(
            f"amount {text.strip()!r} is not a number" if text.strip() else "amount is empty"
        )
    value = _exact(match.group(2), match.group(3) or "", text, currency)
    return -value if match.group(1) == "-" else value


def parse_swift_amount(text: str, currency: str | None = None) -> Decimal:
    """A SWIFT (MT940) amount: digits and a decimal comma (``1234,5``, ``100,``)."""
    match = re.fullmatch(r"([0-9]+),([0-9]*)", text.strip(), re.ASCII)
    if match is None:
        raise AmountError(
            f"amount {text.strip()!r} is not a number" if text.strip() else "amount is empty"
        )
    return _exact(match.group(1), match.group(2), text, currency)


def amount_from_minor_units(digits: str, currency: str | None) -> Decimal:
    """Turn an unsigned amount in minor units ("150075" = 1500.75 USD, "150075" = 150.075
    BHD) into a Decimal, exactly: two places, or three when the currency has three and the
    third is not zero."""
    if not digits.isascii() or not digits.isdigit():
        raise AmountError(f"amount {digits!r} is not a number")
    exponent = minor_unit_exponent(currency)
    value = Decimal(int(digits)).scaleb(-exponent)
    quantized = money_value(value.quantize(MILL))
    if quantized != value:
        raise AmountError(
            f"amount {value:.{exponent}f} {(currency or '').upper()} has {exponent} decimal "
            "places; ARPilot keeps 3"
        )
    if quantized > MAX_AMOUNT:
        raise AmountError(f"amount {digits!r} is too large")
    return quantized


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
