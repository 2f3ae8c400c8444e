"""Reads of collections, each with its joins declared once."""

from django.db.models import Prefetch

from dunning.models import (
    Dispute,
    DunningLevel,
    DunningPolicy,
    Promise,
    PromiseInvoice,
    Reminder,
    ReminderInvoice,
)


def reminder_list(*, organization):
    lines = ReminderInvoice.objects.select_related("invoice").order_by("id")
    return Reminder.objects.for_org(organization).prefetch_related(Prefetch("lines", lines))


def promise_list(*, organization):
    lines = PromiseInvoice.objects.order_by("id")
    return Promise.objects.for_org(organization).prefetch_related(Prefetch("lines", lines))


def dispute_list(*, organization):
    return Dispute.objects.for_org(organization).select_related("reason")


def policy_get(*, organization) -> DunningPolicy | None:
    """The organization's policy with its levels in order (None before it has one)."""
    levels = DunningLevel.objects.order_by("level")
    return (
        DunningPolicy.objects.for_org(organization)
        .prefetch_related(Prefetch("levels", levels))
        .first()
    )


def invoice_open_disputes(*, organization, invoice_ids) -> dict:
    """{invoice id: its open dispute} for a page of invoices (one query): for receivables'
    invoice JSON to show ``dispute``, through a hook it would call (it cannot import us)."""
    disputes = dispute_list(organization=organization).filter(
        invoice_id__in=list(invoice_ids), status=Dispute.Status.OPEN
    )
    return {dispute.invoice_id: dispute for dispute in disputes}
