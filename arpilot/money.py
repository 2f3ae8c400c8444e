"""Money, once: the decimal field every amount is stored in, and its constants.

Amounts are ``Decimal`` with two places end to end (``NUMERIC(14, 2)`` in the database: at
most 12 digits before the point), never floats.
"""

from decimal import Decimal

from django.db import models

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MAX_DIGITS = 14
DECIMAL_PLACES = 2
MAX_AMOUNT = Decimal("999999999999.99")


def money_field(**kwargs) -> models.DecimalField:
    """A model field holding an amount of money."""
    return models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)
