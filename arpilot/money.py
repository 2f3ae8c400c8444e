"""Money, once: the decimal field every amount is stored in, and its constants.

Amounts are ``Decimal`` end to end, never floats. The database keeps three places
(``NUMERIC(15, 3)``: at most 12 digits before the point), enough for every ISO 4217 currency
ARPilot takes (BHD, KWD, OMR have three; USD two; JPY none). Which places an amount *may*
have is its currency's business (``arpilot.currencies.amount_check``).

An amount read back from the database has the places it needs and at least two: USD
``10.00`` comes back as ``10.00`` (not ``10.000``), BHD ``12.345`` as ``12.345``. So
arithmetic, texts and payloads of two-place currencies are what they always were.
"""

from decimal import Decimal, InvalidOperation

from django.db import models

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MILL = Decimal("0.001")
MAX_DIGITS = 15
DECIMAL_PLACES = 3
MAX_AMOUNT = Decimal("999999999999.99")


def money_value(value: Decimal | None) -> Decimal | None:
    """``value`` with the places it needs, at least two (``10.000`` → ``10.00``, ``12.340``
    → ``12.34``, ``12.345`` unchanged). Exact: only zeros are dropped."""
    if value is None:
        return None
    try:
        two = value.quantize(CENT)
    except InvalidOperation:  # beyond any amount (a filter's 1e206): left as it is
        return value
    return two if two == value else value


class MoneyField(models.DecimalField):
    """``NUMERIC(15, 3)``; values come back through :func:`money_value`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        return money_value(value)

    def to_python(self, value):
        return money_value(super().to_python(value))


def money_field(**kwargs) -> MoneyField:
    """A model field holding an amount of money."""
    return MoneyField(**kwargs)
