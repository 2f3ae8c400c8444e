"""Statements of account sent by email, through the mail outbox.

``statement_send`` renders one customer's statement as a PDF and queues it, with a short
cover note, to the customer's contacts with an email address (the primary contact and the
escalation-level-1 contacts), in its own transaction. ``statements_send`` only selects the
customers (the given ones, or every customer with an open balance) and queues
``statements_send_task`` after commit, a chunk of customers per task: a request never
renders a whole book of PDFs.

Each call of ``statements_send`` is a batch with its own id, written in every statement
email's ``reference``: a task redelivered after a worker died mid-chunk skips the customers
whose statement of that batch is already in the outbox, so none is sent twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string

from arpilot.errors import ValidationFailed
from arpilot.queueing import task_send_on_commit
from customers.models import Contact, Customer
from mail.services import email_list_referencing, email_queue

# receivables.tasks imports this package too; both sides only use the other's attributes
# when called, so the cycle is safe at import time.
from receivables import tasks
from receivables.models import Invoice
from receivables.statement_pdf import PDF_MEDIA_TYPE, statement_filename, statement_pdf
from receivables.statements import (
    DEFAULT_PERIOD_DAYS,
    customer_statement,
    organization_today,
)

STATEMENT_EMAIL_KIND = "statement"
STATEMENTS_PER_TASK = 25
# The outbox refuses more than 50 recipients on one email.
MAX_STATEMENT_RECIPIENTS = 50


@dataclass(frozen=True)
class StatementsQueued:
    """What ``statements_send`` selected: customers queued, customers without an email."""

    queued: int
    skipped_no_email: int


def _recipient_contacts(organization):
    return (
        Contact.objects.for_org(organization)
        .filter(Q(is_primary=True) | Q(escalation_level=1))
        .exclude(email="")
    )


def statement_recipients(*, organization, customer: Customer) -> list[str]:
    """The addresses a statement goes to: the primary contact first, then the
    escalation-level-1 contacts (each address once, whatever its case)."""
    rows = (
        _recipient_contacts(organization)
        .filter(customer_id=customer.pk)
        .order_by("-is_primary", "contact_name", "id")
        .values_list("email", flat=True)
    )
    addresses: dict[str, str] = {}
    for email in rows:
        addresses.setdefault(email.strip().lower(), email.strip())
    return list(addresses.values())[:MAX_STATEMENT_RECIPIENTS]


def _period(organization, period_from: date | None, period_to: date | None) -> tuple[date, date]:
    """The GET statement's defaults: to today (organization's timezone), from 90 days before."""
    date_to = period_to or organization_today(organization)
    date_from = period_from or date_to - timedelta(days=DEFAULT_PERIOD_DAYS)
    if date_from > date_to:
        raise ValidationFailed(
            f"from ({date_from}) is after to ({date_to}).",
            fields={"from": [f"Must be on or before to ({date_to})."]},
        )
    return date_from, date_to


def _email_bodies(statement, *, organization) -> tuple[str, str, str]:
    context = {
        "statement": statement,
        "organization_name": organization.name,
        "currency": statement.currency,
    }
    subject = (
        f"Statement of account from {organization.name}: "
        f"{statement.date_from:%Y-%m-%d} to {statement.date_to:%Y-%m-%d}"
    )
    text = render_to_string("receivables/statement_email.txt", context)
    html = render_to_string("receivables/statement_email.html", context)
    return subject, text, html


@transaction.atomic
def statement_send(
    *,
    organization,
    customer: Customer,
    period_from: date | None = None,
    period_to: date | None = None,
    batch: str = "",
):
    """Queue ``customer``'s statement for the period as a PDF email (the outbox's
    ``OutboundEmail``); None, and nothing queued, when no contact has an email address.
    ``batch`` (of ``statements_send``) is kept in the email's reference."""
    if customer.organization_id != organization.pk:
        raise ValueError("The customer is not the organization's.")
    date_from, date_to = _period(organization, period_from, period_to)
    recipients = statement_recipients(organization=organization, customer=customer)
    if not recipients:
        return None
    statement = customer_statement(
        organization=organization, customer=customer, date_from=date_from, date_to=date_to
    )
    subject, text, html = _email_bodies(statement, organization=organization)
    pdf = statement_pdf(statement, organization_name=organization.name)
    return email_queue(
        organization_id=organization.pk,
        to=recipients,
        subject=subject,
        body_text=text,
        body_html=html,
        attachments=[(statement_filename(statement), pdf, PDF_MEDIA_TYPE)],
        kind=STATEMENT_EMAIL_KIND,
        reference={
            "customer_id": str(customer.pk),
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            **({"batch": batch} if batch else {}),
        },
    )


def _customers_with_open_balance(organization):
    return (
        Invoice.objects.for_org(organization)
        .open()
        .filter(amount_due__gt=0)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .distinct()
    )


def _customer_uuid(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed(
            f"customer_ids: {value!r} is not a customer id.",
            fields={"customer_ids": [f"Not a customer id: {value}."]},
        ) from None


def _customers_named(organization, customer_ids) -> list[uuid.UUID]:
    # each once, in the order given
    wanted = list(dict.fromkeys(_customer_uuid(pk) for pk in customer_ids))
    found = set(
        Customer.objects.for_org(organization).filter(pk__in=wanted).values_list("pk", flat=True)
    )
    unknown = [str(pk) for pk in wanted if pk not in found]
    if unknown:
        raise ValidationFailed(
            f"customer_ids: no such customer: {', '.join(unknown[:10])}.",
            fields={"customer_ids": [f"No such customer: {pk}." for pk in unknown[:10]]},
        )
    return wanted


@transaction.atomic
def statements_send(*, organization, customer_ids=None) -> StatementsQueued:
    """Queue the statements of ``customer_ids`` (all the organization's; a ValidationFailed
    naming ``customer_ids`` otherwise), or of every customer with an open balance, to be
    rendered and emailed by ``statements_send_task`` after commit. Customers without a
    contact with an email address are skipped and counted."""
    if customer_ids is None:
        open_balance = _customers_with_open_balance(organization)
        selected, lookup = list(open_balance), open_balance
    else:
        selected = lookup = _customers_named(organization, customer_ids)
    reachable = set(
        _recipient_contacts(organization)
        .filter(customer_id__in=lookup)
        .order_by()
        .values_list("customer_id", flat=True)
        .distinct()
    )
    to_send = [str(pk) for pk in selected if pk in reachable]
    batch = str(uuid.uuid4())
    for start in range(0, len(to_send), STATEMENTS_PER_TASK):
        task_send_on_commit(
            tasks.statements_send_task,
            args=[organization.pk, to_send[start : start + STATEMENTS_PER_TASK]],
            kwargs={"batch": batch},
            later="not sent; ask again",
        )
    return StatementsQueued(queued=len(to_send), skipped_no_email=len(selected) - len(to_send))


def statements_already_queued(*, organization, batch: str, customer_ids) -> set[str]:
    """Of ``customer_ids``, those (as strings) whose statement of ``batch`` is in the outbox
    (one query, on the customer index of the outbox)."""
    if not batch:
        return set()
    emails = email_list_referencing(
        organization=organization,
        kind=STATEMENT_EMAIL_KIND,
        key="customer_id",
        value=[str(pk) for pk in customer_ids],
    )
    return {
        email.reference.get("customer_id")
        for email in emails
        if (email.reference or {}).get("batch") == batch
    }
