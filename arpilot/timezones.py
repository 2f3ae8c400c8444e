"""Dates where someone is: an organization's or a customer's IANA time zone."""

from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

UTC = ZoneInfo("UTC")


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``; UTC when it is empty or not a zone."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def today_in(name: str | None) -> date:
    """Today's date in the zone ``name`` (UTC when it is not a valid zone)."""
    return timezone.now().astimezone(zone(name)).date()
