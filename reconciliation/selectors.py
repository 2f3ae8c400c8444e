"""Reads of reconciliation."""

from django.db.models import F

from reconciliation.models import AccountingChange, SyncTarget


def change_list(*, organization):
    """The organization's accounting changes: approved ones in approval order (the order a
    ledger takes them in), then the others in creation order (one query per page)."""
    return AccountingChange.objects.for_org(organization).order_by(
        F("approval_sequence").asc(nulls_last=True), "sequence"
    )


def sync_target_get(*, organization) -> SyncTarget | None:
    return SyncTarget.objects.for_org(organization).first()
