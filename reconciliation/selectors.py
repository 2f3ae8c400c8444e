"""Reads of reconciliation."""

from reconciliation.models import AccountingChange, SyncTarget


def change_list(*, organization):
    """The organization's accounting changes in sequence order (one query per page)."""
    return AccountingChange.objects.for_org(organization).order_by("sequence")


def sync_target_get(*, organization) -> SyncTarget | None:
    return SyncTarget.objects.for_org(organization).first()
