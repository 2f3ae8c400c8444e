"""Input fields shared by every app's serializers."""

import re
import zoneinfo

from rest_framework import serializers

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


def aliased(data, aliases: dict[str, str]):
    """Accept the seed's rendered names (``/tags``) as their plain form (``tags``)."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for alias, name in aliases.items():
        if alias in data and name not in data:
            data[name] = data.pop(alias)
    return data
