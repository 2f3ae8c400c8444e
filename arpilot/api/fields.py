"""Input fields shared by every app's serializers, and values as the API writes them."""

import re
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal

from rest_framework import serializers

from arpilot.money import MILL, money_value

HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_TIMEZONES = frozenset(zoneinfo.available_timezones())


class TimezoneField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in _TIMEZONES:
            raise serializers.ValidationError(
                f"{value!r} is not an IANA timezone (e.g. 'America/New_York')."
            )
        return value


class HexColorField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 7)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not HEX_COLOR.match(value):
            raise serializers.ValidationError("Use a hex color like '#1A2B3C'.")
        return value.upper()


def iso_timestamp(value: datetime) -> str:
    """DRF's DateTimeField rendering: ISO 8601 in UTC with a ``Z``."""
    if value.tzinfo is UTC:  # as the database gives them: only the offset to replace
        return value.isoformat()[:-6] + "Z"
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def text_or_none(value) -> str | None:
    """What DRF's CharField, UUIDField and ChoiceField write: the text; None stays None."""
    return None if value is None else str(value)


def aliased(data, aliases: dict[str, str]):
    """Accept the seed's rendered names (``/tags``) as their plain form (``tags``)."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for alias, name in aliases.items():
        if alias in data and name not in data:
            data[name] = data.pop(alias)
    return data


class MoneyField(serializers.DecimalField):
    """Money: a JSON number or a numeric string in, a JSON number out; at most 12 digits
    before the point and ``places`` after it.

    ``places=3`` is for amounts whose service checks them against their currency's own places
    (``arpilot.currencies.amount_check``: BHD three, USD two, JPY none); every other amount
    takes two, as before. An amount goes out exactly as stored (three places at most), never
    rounded to the field's ``places``.
    """

    def __init__(self, *, places: int = 2, **kwargs):
        super().__init__(max_digits=12 + places, decimal_places=places, **kwargs)

    def to_representation(self, value):
        return money_value(Decimal(value).quantize(MILL))


def money_out(**kwargs) -> MoneyField:
    """A read-only amount, sent exactly."""
    return MoneyField(places=3, read_only=True, **kwargs)


def money_in(*, currency_checked: bool = False, **kwargs) -> MoneyField:
    """An amount in a request: three places when its service checks its currency's places
    (``currency_checked``), else two."""
    return MoneyField(places=3 if currency_checked else 2, **kwargs)
