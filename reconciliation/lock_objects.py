"""``select_for_update`` querysets of reconciliation.

Lock order: a payment (taken by the payments app), then its accounting changes in primary-key
order; the sync target row is only ever locked alone, for a moment.
"""

from django.db.models import Q

from reconciliation.models import AccountingChange, SyncTarget


def changes_for_update(organization, ids) -> list[AccountingChange]:
    """The organization's changes ``ids`` (others' ids are simply absent), in id order."""
    if not ids:
        return []
    return list(
        AccountingChange.objects.for_org(organization)
        .filter(pk__in=list(ids))
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def payment_changes_for_update(organization, payment_id, *, status) -> list[AccountingChange]:
    return list(
        AccountingChange.objects.for_org(organization)
        .filter(payment_id=payment_id, status=status)
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def changes_claimable(organization_id, *, now, limit: int):
    """Approved changes no worker holds, in approval order; rows others lock are skipped."""
    return (
        AccountingChange.objects.for_org(organization_id)
        .filter(status=AccountingChange.Status.APPROVED)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("approval_sequence")
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )


def leased_changes_for_update(organization_id, ids, *, token) -> list[AccountingChange]:
    return list(
        AccountingChange.objects.for_org(organization_id)
        .filter(pk__in=list(ids), lease_token=token)
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def target_claimable(organization_id):
    return (
        SyncTarget.objects.for_org(organization_id)
        .filter(enabled=True)
        .select_for_update(skip_locked=True)
    )


def target_for_update(organization_id):
    return SyncTarget.objects.for_org(organization_id).select_for_update()
