"""Builders for reconciliation tests: changes recorded through the money-event receiver."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from arpilot import hooks
from reconciliation import services
from reconciliation.models import AccountingChange


def make_change(
    organization,
    *,
    change_type: str = "invoice_created",
    amount: str = "100.00",
    invoice=None,
    customer=None,
    payment=None,
    payload: dict | None = None,
    status: str = "pending",
) -> AccountingChange:
    """A change recorded as a money event would, then moved to ``status`` by the services
    (failed and synced through ``sync-status``; rejected directly)."""
    change = services.change_record_from_event(
        hooks.MoneyMoved(
            organization=organization,
            change_type=change_type,
            amount=Decimal(amount),
            invoice=invoice,
            customer=customer,
            payment=payment,
            payload=payload or {},
        )
    )
    if status in ("approved", "synced", "failed"):
        services.changes_approve(organization=organization, change_ids=[change.pk])
    if status in ("synced", "failed"):
        action = "mark_synced" if status == "synced" else "mark_failed"
        services.changes_sync_status(
            organization=organization, action=action, change_ids=[change.pk], error_message="boom"
        )
    if status == "rejected":
        services.changes_reject(organization=organization, change_ids=[change.pk])
    change.refresh_from_db()
    assert change.status == status
    return change


def make_due(*changes) -> None:
    """Let changes that are backing off be sent now."""
    AccountingChange.objects.filter(pk__in=[c.pk for c in changes]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
