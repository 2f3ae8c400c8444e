"""Reads of collections, each with its joins declared once."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch
from django.db.models.functions import Coalesce

from arpilot.compiled import CompiledRows, Slot, organization_slot
from arpilot.errors import ValidationFailed
from customers.models import Customer, CustomerTag
from dunning.models import (
    CustomerNote,
    Dispute,
    DunningLevel,
    DunningPolicy,
    Promise,
    PromiseInvoice,
    Reminder,
    ReminderInvoice,
)
from dunning.worklist import worklist_annotate
from mail import services as mail_services
from payments.models import PaymentAllocation
from receivables.services.statements import STATEMENT_EMAIL_KIND


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


OPEN_DISPUTE_FIELDS = ("invoice_id", "id", "reason__code", "reason__label", "note", "created_at")

_OPEN_DISPUTES = CompiledRows(
    Dispute,
    lambda organization, ids: (
        Dispute.objects.for_org(organization)
        .filter(invoice_id__any=ids, status=Dispute.Status.OPEN)
        .values_list(*OPEN_DISPUTE_FIELDS)
    ),
    organization_slot(),
    Slot("ids"),
)


def invoice_open_disputes(*, organization, invoice_ids) -> dict:
    """{invoice id: its open dispute as a tuple of OPEN_DISPUTE_FIELDS} for a page of
    invoices (one statement, compiled once): for receivables' invoice JSON to show
    ``dispute``, through a hook it would call (it cannot import us)."""
    rows = _OPEN_DISPUTES.rows(
        organization=getattr(organization, "pk", organization), ids=list(invoice_ids)
    )
    return {row[0]: row for row in rows}


# --- the worklist and a customer's activity --------------------------------------------------


def worklist(*, organization, today, now, min_overdue=None, tag_id=None):
    """Customers with overdue money by priority (``dunning.worklist`` has the formula)."""
    customers = Customer.objects.for_org(organization)
    if tag_id is not None:
        customers = customers.filter(
            Exists(CustomerTag.objects.filter(customer=OuterRef("pk"), tag_id=tag_id))
        )
    rows = worklist_annotate(customers, today=today, now=now, organization=organization)
    if min_overdue is not None:
        rows = rows.filter(overdue_total__gte=min_overdue)
    return rows


@dataclass(frozen=True)
class ActivityItem:
    type: str
    at: datetime
    summary: str
    ids: dict


ACTIVITY_TYPES = (
    "note",
    "call",
    "reminder",
    "promise_created",
    "promise_kept",
    "promise_broken",
    "promise_cancelled",
    "dispute_opened",
    "dispute_resolved",
    "payment",
    "statement_sent",
)


def _reminder_item(reminder) -> ActivityItem:
    at = reminder.sent_at or reminder.created_at
    return ActivityItem(
        "reminder",
        at,
        f"Level {reminder.level} reminder {reminder.status} ({reminder.total}): {reminder.subject}",
        {"reminder_id": str(reminder.pk)},
    )


def _note_item(note) -> ActivityItem:
    who = note.created_by_name or "system"
    with_contact = f" with {note.contact.contact_name}" if note.contact else ""
    label = "Call" if note.kind == CustomerNote.Kind.CALL else "Note"
    return ActivityItem(
        note.kind,
        note.created_at,
        f"{label}{with_contact} by {who}: {note.body[:200]}",
        {"note_id": str(note.pk), "contact_id": str(note.contact_id) if note.contact_id else None},
    )


def _promise_created(promise) -> ActivityItem:
    return ActivityItem(
        "promise_created",
        promise.created_at,
        f"Promised {promise.amount} by {promise.promised_date.isoformat()}.",
        {"promise_id": str(promise.pk)},
    )


def _promise_resolved(promise) -> ActivityItem:
    return ActivityItem(
        f"promise_{promise.status}",
        promise.resolved_at,
        f"Promise of {promise.amount} by {promise.promised_date.isoformat()} {promise.status}.",
        {"promise_id": str(promise.pk)},
    )


def _dispute_opened(dispute) -> ActivityItem:
    return ActivityItem(
        "dispute_opened",
        dispute.created_at,
        f"Invoice {dispute.invoice.invoice_number} disputed: {dispute.reason.label}.",
        {"dispute_id": str(dispute.pk), "invoice_id": str(dispute.invoice_id)},
    )


def _dispute_resolved(dispute) -> ActivityItem:
    return ActivityItem(
        "dispute_resolved",
        dispute.resolved_at,
        f"Dispute of invoice {dispute.invoice.invoice_number} resolved: "
        f"{dispute.get_resolution_display() or dispute.resolution}.",
        {"dispute_id": str(dispute.pk), "invoice_id": str(dispute.invoice_id)},
    )


def _payment_item(allocation) -> ActivityItem:
    return ActivityItem(
        "payment",
        allocation.created_at,
        f"Payment of {allocation.amount} applied to invoice {allocation.invoice.invoice_number}.",
        {
            "payment_id": str(allocation.payment_id),
            "allocation_id": str(allocation.pk),
            "invoice_id": str(allocation.invoice_id),
        },
    )


def _statement_item(email) -> ActivityItem:
    reference = email.reference or {}
    period = ""
    if reference.get("from") and reference.get("to"):
        period = f" for {reference['from']} to {reference['to']}"
    return ActivityItem(
        "statement_sent",
        email.created_at,
        f"Statement{period} sent to {', '.join(email.to)}.",
        {"email_id": str(email.pk)},
    )


def _activity_sources(organization, customer_id):
    """(queryset ordered newest first, item builder) per source of the timeline."""
    promises = Promise.objects.for_org(organization).filter(customer_id=customer_id)
    disputes = (
        Dispute.objects.for_org(organization)
        .filter(invoice__customer_id=customer_id)
        .select_related("invoice", "reason")
    )
    return [
        (
            CustomerNote.objects.for_org(organization)
            .filter(customer_id=customer_id)
            .select_related("contact")
            .order_by("-created_at", "-id"),
            _note_item,
        ),
        (
            Reminder.objects.for_org(organization)
            .filter(customer_id=customer_id)
            .annotate(at=Coalesce("sent_at", "created_at"))
            .order_by("-at", "-id"),
            _reminder_item,
        ),
        (promises.order_by("-created_at", "-id"), _promise_created),
        (
            promises.exclude(status=Promise.Status.OPEN)
            .filter(resolved_at__isnull=False)
            .order_by("-resolved_at", "-id"),
            _promise_resolved,
        ),
        (disputes.order_by("-created_at", "-id"), _dispute_opened),
        (
            disputes.filter(status=Dispute.Status.RESOLVED, resolved_at__isnull=False).order_by(
                "-resolved_at", "-id"
            ),
            _dispute_resolved,
        ),
        (
            PaymentAllocation.objects.for_org(organization)
            .filter(invoice__customer_id=customer_id, unapplied_at__isnull=True)
            .select_related("invoice")
            .order_by("-created_at", "-id"),
            _payment_item,
        ),
        (
            # The statements the mail server took (mail is read only through its services).
            mail_services.email_list_referencing(
                organization=organization,
                kind=STATEMENT_EMAIL_KIND,
                key="customer_id",
                value=str(customer_id),
                status="sent",
            ),
            _statement_item,
        ),
    ]


ACTIVITY_MAX_WINDOW = 5000


def activity_page(*, organization, customer_id, page: int, per_page: int):
    """One page of the customer's timeline, newest first, and the total count.

    Each source is read newest first, at most ``page * per_page`` rows (the window that can
    hold the page), then merged and sliced in Python: one count and one read per source,
    however long the timeline (pages past the newest ``ACTIVITY_MAX_WINDOW`` items are a
    400 naming ``page``). Statements are those the mail outbox sent (newest first by when
    they were queued, the order its index serves).
    """
    sources = _activity_sources(organization, customer_id)
    total = sum(queryset.count() for queryset, _build in sources)
    start = (page - 1) * per_page
    if start >= total:
        return [], total
    window = page * per_page
    if window > ACTIVITY_MAX_WINDOW:
        message = f"Only the newest {ACTIVITY_MAX_WINDOW} items are served page by page."
        raise ValidationFailed(message, fields={"page": [message]})
    items = []
    for queryset, build in sources:
        items.extend(build(row) for row in queryset[:window])
    items.sort(key=lambda item: item.at, reverse=True)
    return items[start : start + per_page], total
