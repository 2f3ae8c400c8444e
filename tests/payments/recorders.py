"""Receivers the payments tests plug into ARPilot's dotted-path hooks."""

EVENTS: list[dict] = []
REVIEWED: list = []


def record_money_event(**kwargs) -> None:
    """Keep the events of payments (receivables reports invoice events too)."""
    if kwargs.get("payment") is not None:
        EVENTS.append(kwargs)


def record_reviewed(*, organization, payment) -> None:
    REVIEWED.append((organization.pk, payment.pk))
