"""Receivers the payments tests plug into ARPilot's hooks (``ARPILOT_HOOK_RECEIVERS``)."""

from dataclasses import fields

EVENTS: list[dict] = []
REVIEWED: list = []


def as_dict(event) -> dict:
    return {field.name: getattr(event, field.name) for field in fields(event)}


def record_money_event(event) -> None:
    """Keep the events of payments (receivables reports invoice events too)."""
    if event.payment is not None:
        EVENTS.append(as_dict(event))


def record_reviewed(event) -> None:
    REVIEWED.append((event.organization.pk, event.payment.pk))
