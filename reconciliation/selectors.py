"""Reads of reconciliation."""

from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from reconciliation.models import AccountingChange, SyncTarget


def change_list(*, organization):
    """The organization's accounting changes: approved ones in approval order (the order a
    ledger takes them in), then the others in creation order (one query per page)."""
    return AccountingChange.objects.for_org(organization).order_by(
        F("approval_sequence").asc(nulls_last=True), "sequence"
    )


def sync_target_get(*, organization) -> SyncTarget | None:
    return SyncTarget.objects.for_org(organization).first()


def change_page_list(*, organization):
    """Changes as the clerk pages show them: with their invoice, customer and payment (the
    payload carries the ledger lines), one query per page."""
    return AccountingChange.objects.for_org(organization).select_related(
        "invoice", "customer", "payment"
    )


def change_counts_by_type(*, organization) -> list[dict]:
    """Per change type: pending count and amount, approved and failed counts (one query)."""
    Status = AccountingChange.Status
    pending = Q(status=Status.PENDING)
    return list(
        AccountingChange.objects.for_org(organization)
        .order_by()
        .values("change_type")
        .annotate(
            pending_count=Count("id", filter=pending),
            pending_total=Sum("amount", filter=pending, default=Decimal("0.00")),
            approved_count=Count("id", filter=Q(status=Status.APPROVED)),
            failed_count=Count("id", filter=Q(status=Status.FAILED)),
        )
        .order_by("change_type")
    )
