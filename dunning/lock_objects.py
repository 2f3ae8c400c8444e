"""``select_for_update`` querysets of collections. Lock order: policy, invoices, then the
dispute, promise or reminder."""

from dunning.models import Dispute, DunningPolicy, Promise, Reminder


def policy_for_update(organization):
    """The policy row: one run (or policy change) of an organization at a time."""
    return DunningPolicy.objects.for_org(organization).select_for_update()


def open_dispute_for_update(organization, invoice_id):
    return (
        Dispute.objects.for_org(organization)
        .filter(invoice_id=invoice_id, status=Dispute.Status.OPEN)
        .select_related("reason")
        .select_for_update(of=("self",))
    )


def promise_for_update(organization, promise_id):
    return Promise.objects.for_org(organization).filter(pk=promise_id).select_for_update()


def reminder_for_update(organization, reminder_id):
    return Reminder.objects.for_org(organization).filter(pk=reminder_id).select_for_update()
