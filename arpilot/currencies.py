"""Currencies, once: which codes exist, how many decimal places an amount in each may have,
and the checks every service shares (invoices, payments, exchange rates, bank files).

Two different questions have two answers here, on purpose:

- ``currency_places``: the decimal places an amount *entered* in the currency may have —
  Babel's (CLDR) precision, the same digits the clerk pages format it with (JPY 0, USD 2,
  BHD 3), so an amount is never accepted with digits the pages would not show.
- ``iso_minor_units``: ISO 4217's minor unit, which bank files that give amounts in minor
  units (BAI2) are written in (HUF 2 there, though CLDR shows it without decimals).

Amounts are stored with three places (``arpilot.money.DECIMAL_PLACES``), so every
currency's own places are kept exactly (BHD, KWD, OMR, TND have three).
"""

from decimal import Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision

from arpilot.errors import ValidationFailed

# The active ISO 4217 codes (no funds, metals or historic currencies).
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

# ISO 4217 minor units that are not 2 (for amounts given in minor units, e.g. BAI2).
ISO_MINOR_UNITS = {
    code: 0 for code in ["JPY", "KRW", "ISK", "CLP", "VND", "XOF", "XAF", "PYG", "UGX"]
} | {code: 3 for code in ["BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"]}


def iso_minor_units(code: str | None) -> int:
    """ISO 4217's minor unit of the currency (2 unless known otherwise)."""
    return ISO_MINOR_UNITS.get((code or "").upper(), 2)


def is_currency(code: str | None) -> bool:
    return (code or "").strip().upper() in ISO_CURRENCIES


def currency_validate(code, field: str = "currency") -> str:
    """The ISO 4217 code, upper-case; anything else is a 400 naming ``field``."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if text not in ISO_CURRENCIES:
        shown = code if isinstance(code, str) else repr(code)
        message = f"{shown!r} is not an ISO 4217 currency code (e.g. USD, EUR, JPY)."
        raise ValidationFailed(message, fields={field: [message]})
    return text


@lru_cache(maxsize=256)
def currency_places(code: str) -> int:
    """Decimal places an amount in the currency may have (Babel: JPY 0, USD 2, BHD 3)."""
    return get_currency_precision((code or "").upper())


def _significant(amount: Decimal) -> tuple[tuple[int, ...], int]:
    """The amount's digits and exponent without the zeros that trail its decimal point
    (``1.50`` → ``(1, 5), -1``). Not ``normalize()``: that rounds to the context's 28 digits,
    so ``1.0000000000000000000000000001`` would count as ``1``, with no places."""
    _, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int):  # NaN, infinity
        return digits, 0
    end = len(digits)
    while end > 0 and exponent < 0 and digits[end - 1] == 0:
        end -= 1
        exponent += 1
    if end == 0:  # zero, however written
        return (0,), 0
    return digits[:end], exponent


def decimal_places_of(amount: Decimal) -> int:
    """Places the amount is written with beyond its significant digits (``1.50`` → 1),
    however many digits it has (never rounded first)."""
    _, exponent = _significant(amount)
    return max(-exponent, 0)


def significant_digits_of(amount: Decimal) -> int:
    """Digits from the first non-zero one to the last that counts (``0.0120`` → 2,
    ``100`` → 3), never rounded first."""
    digits, _ = _significant(amount)
    digits = tuple(digits)
    while len(digits) > 1 and digits[0] == 0:
        digits = digits[1:]
    return len(digits)


def plain_text(amount: Decimal) -> str:
    """The amount as plain decimal text without trailing zeros after the point, every digit
    kept (for messages that quote what was sent)."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def amount_check(amount, currency: str, field: str):
    """The amount, unchanged, if it fits the currency's decimal places; else a 400 naming
    ``field`` (never rounded: ``100.50`` JPY is refused, not made ``101``). Trailing zeros
    don't count (``100.00`` JPY is ``100``). ``None`` passes through."""
    if amount is None:
        return None
    amount = Decimal(amount)
    places = decimal_places_of(amount)
    allowed = currency_places(currency)
    if places > allowed:
        message = (
            f"{currency} amounts have no decimal places; {amount} has {places}."
            if allowed == 0
            else f"{currency} amounts have at most {allowed} decimal places; {amount} has {places}."
        )
        raise ValidationFailed(message, fields={field: [message]})
    return amount


def cross_currency_reason(paid_in: str, invoice_currency: str) -> str:
    """Why a payment in ``paid_in`` is not applied to an invoice in ``invoice_currency``
    ("" when the currencies agree): across currencies an exchange rate is needed."""
    if (paid_in or "").upper() == (invoice_currency or "").upper():
        return ""
    return (
        f"This payment is in {paid_in.upper()}; the invoice is in {invoice_currency.upper()}. "
        "Applying across currencies needs an exchange rate (`exchange_rate` on the request, "
        "or a rate in the organization's table), and cross-currency applies are not "
        "supported yet: apply it to invoices of its own currency."
    )
