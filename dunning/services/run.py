"""The dunning run: which reminders an organization's policy calls for today, and sending them.

One reminder per customer and level, naming that customer's invoices at that level. An
invoice's level is the highest whose ``days_after_due`` it has reached, if no reminder has
named it at that level or a later one yet (``ReminderInvoice``'s unique constraint: a level
once per invoice). Not reminded: disputed invoices, invoices of an open promise, invoices with
an open deduction (their remainder is the deduction, not overdue debt), and customers
whose overdue total (of the invoices dunning may chase) is under ``minimum_overdue``.

One query lists the customers with something to send (a dunnable invoice at a level above
any it was sent); they are read in batches (``BATCH_SIZE``) with a fixed number of queries
each, whatever the batch holds, and each batch is decided and written in its own
transaction, under the policy's row lock, so two runs of one organization never decide the
same reminders. The levels' templates are compiled once per run (``ReminderTemplates``).
``bench/dunning_run.py`` measures a run at 100,000 customers and 1,000,000 invoices.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

from django.db import transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, When
from django.utils import timezone

from arpilot.errors import ValidationFailed
from arpilot.money import ZERO
from arpilot.timezones import today_in, zone
from credits.models import Deduction
from customers.models import Contact, Customer
from dunning import lock_objects
from dunning.models import (
    Dispute,
    DunningLevel,
    DunningPolicy,
    PromiseInvoice,
    Reminder,
    ReminderInvoice,
)
from dunning.services.policy import policy_get_or_seed
from dunning.services.templating import compile_template, render_compiled
from mail.services import email_prepare, emails_queue
from receivables.models import Invoice
from receivables.statement_pdf import PdfUnavailable, statement_filename, statement_pdf
from receivables.statements import DEFAULT_PERIOD_DAYS, customer_statement

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
BEFORE_SEND = "dunning.services.reminders.reminder_before_send"


class DunnableInvoice(NamedTuple):
    """What the run reads of an invoice: read as tuples, not model instances (a run reads
    every dunnable invoice of the customers it batches)."""

    pk: UUID
    customer_id: UUID
    invoice_number: str
    due_date: date
    amount_due: Decimal


@dataclass
class PlannedLine:
    invoice: DunnableInvoice
    days_overdue: int


@dataclass
class PlannedReminder:
    customer: Customer
    level: DunningLevel
    contacts: list[Contact]
    lines: list[PlannedLine] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.invoice.amount_due for line in self.lines), ZERO)

    def as_dict(self) -> dict:
        """What a dry run answers for it."""
        return {
            "customer_id": str(self.customer.pk),
            "customer_name": self.customer.company_name,
            "level": self.level.level,
            "to": [contact.email for contact in self.contacts],
            "total": self.total,
            "attach_statement": self.level.attach_statement,
            "invoices": [
                {
                    "invoice_id": str(line.invoice.pk),
                    "invoice_number": line.invoice.invoice_number,
                    "due_date": line.invoice.due_date.isoformat(),
                    "amount_due": line.invoice.amount_due,
                    "days_overdue": line.days_overdue,
                }
                for line in self.lines
            ],
        }


# --- deciding ----------------------------------------------------------------------------------


def dunnable_invoices(organization, today: date):
    """Open invoices past due on ``today`` that are neither disputed, promised nor deducted
    (an open deduction: what the invoice still owes is the deduction, not overdue debt)."""
    disputed = Dispute.objects.filter(invoice=OuterRef("pk"), status=Dispute.Status.OPEN)
    promised = PromiseInvoice.objects.filter(invoice=OuterRef("pk"), promise__status="open")
    deducted = Deduction.objects.filter(invoice=OuterRef("pk"), status=Deduction.Status.OPEN)
    return (
        Invoice.objects.for_org(organization)
        .open()
        .filter(amount_due__gt=0, due_date__lt=today)
        .exclude(Exists(disputed))
        .exclude(Exists(promised))
        .exclude(Exists(deducted))
    )


def _customer_batches(organization, policy, today: date):
    """The customers with something to send today, in batches of ``BATCH_SIZE``: those with
    a dunnable invoice whose level reached today is above any it was reminded at (one
    query over the book; the batches then read only these customers)."""
    levels = sorted(policy.levels.all(), key=lambda level: level.days_after_due)
    if not levels:
        return
    reached = Case(
        *(
            When(due_date__lte=today - timedelta(days=level.days_after_due), then=level.level)
            for level in reversed(levels)
        ),
        default=None,
        output_field=IntegerField(),
    )
    reminded = ReminderInvoice.objects.filter(
        invoice=OuterRef("pk"), released=False, level__gte=OuterRef("reached")
    )
    customer_ids = list(
        dunnable_invoices(organization, today)
        .filter(due_date__lte=today - timedelta(days=levels[0].days_after_due))
        .annotate(reached=reached)
        .exclude(Exists(reminded))
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .distinct()
    )
    for start in range(0, len(customer_ids), BATCH_SIZE):
        yield customer_ids[start : start + BATCH_SIZE]


# In the order of ``Customer``'s fields (``from_db`` takes them so).
_CUSTOMER_FIELDS = ("id", "organization_id", "company_name", "external_id", "address", "timezone")


def _plan_batch(organization, policy, customer_ids, today: date) -> list[PlannedReminder]:
    """The reminders of these customers (three queries, however many customers)."""
    levels = sorted(policy.levels.all(), key=lambda level: level.days_after_due)
    customers: dict = {}
    invoices = []
    rows = dunnable_invoices(organization, today).filter(customer_id__in=customer_ids)
    for row in rows.order_by("customer_id", "due_date", "invoice_number").values_list(
        "id",
        "customer_id",
        "invoice_number",
        "due_date",
        "amount_due",
        *(f"customer__{name}" for name in _CUSTOMER_FIELDS[1:]),
    ):
        invoices.append(DunnableInvoice(*row[:5]))
        if row[1] not in customers:  # one instance per customer, not one per invoice
            customers[row[1]] = Customer.from_db(rows.db, _CUSTOMER_FIELDS, (row[1], *row[5:]))
    reminded: dict = {}
    for invoice_id, level in (
        ReminderInvoice.objects.for_org(organization)
        .filter(invoice_id__in=[invoice.pk for invoice in invoices], released=False)
        .order_by()
        .values_list("invoice_id", "level")
    ):
        reminded[invoice_id] = max(level, reminded.get(invoice_id, 0))
    contacts: dict = {}
    for contact in (
        Contact.objects.for_org(organization).filter(customer_id__in=customer_ids).order_by()
    ):
        contacts.setdefault(contact.customer_id, []).append(contact)

    by_customer: dict = {}
    for invoice in invoices:
        by_customer.setdefault(invoice.customer_id, []).append(invoice)
    planned = []
    for customer_invoices in by_customer.values():
        overdue_total = sum((invoice.amount_due for invoice in customer_invoices), ZERO)
        if overdue_total < policy.minimum_overdue:
            continue
        customer = customers[customer_invoices[0].customer_id]
        customer_contacts = sorted(contacts.get(customer.pk, []), key=_contact_order)
        reminders: dict[int, PlannedReminder] = {}
        for invoice in customer_invoices:
            days_overdue = (today - invoice.due_date).days
            reached = [level for level in levels if days_overdue >= level.days_after_due]
            if not reached or reached[-1].level <= reminded.get(invoice.pk, 0):
                continue
            level = reached[-1]
            if level.level not in reminders:
                chosen = level_recipients(customer_contacts, level)
                if not chosen:
                    continue
                reminders[level.level] = PlannedReminder(customer, level, chosen)
            reminders[level.level].lines.append(PlannedLine(invoice, days_overdue))
        planned.extend(reminders[key] for key in sorted(reminders))
    return planned


def _contact_order(contact: Contact):
    """``Contact.Meta.ordering``, applied per customer in Python (the batch's query is not
    sorted: the database would sort every contact of the batch)."""
    return (contact.escalation_level, contact.contact_name, str(contact.pk))


def level_recipients(contacts: list[Contact], level: DunningLevel) -> list[Contact]:
    """The customer's contacts at the level's escalation levels, else its primary contact."""
    with_email = [contact for contact in contacts if contact.email]
    chosen = [c for c in with_email if c.escalation_level in level.contact_escalation_levels]
    return chosen or [contact for contact in with_email if contact.is_primary]


def organization_today(organization, now: datetime | None = None) -> date:
    if now is None:
        return today_in(organization.timezone)
    return now.astimezone(zone(organization.timezone)).date()


def dunning_plan(*, organization, today: date | None = None) -> list[PlannedReminder]:
    """The reminders a run would send now (a dry run): nothing is written."""
    policy = policy_get_or_seed(organization=organization)
    today = today or organization_today(organization)
    planned = []
    for customer_ids in _customer_batches(organization, policy, today):
        planned.extend(_plan_batch(organization, policy, customer_ids, today))
    return planned


# --- sending -----------------------------------------------------------------------------------


def dunning_run(*, organization, today: date | None = None) -> list[Reminder]:
    """Decide and queue today's reminders (safe to run twice: a level goes once per invoice)."""
    policy = policy_get_or_seed(organization=organization)
    today = today or organization_today(organization)
    templates = ReminderTemplates()
    reminders: list[Reminder] = []
    for customer_ids in _customer_batches(organization, policy, today):
        reminders.extend(_run_batch(organization, customer_ids, today, templates))
    return reminders


@transaction.atomic
def _run_batch(organization, customer_ids, today: date, templates) -> list[Reminder]:
    policy = lock_objects.policy_for_update(organization).prefetch_related("levels").get()
    reminders, lines, outbox = [], [], []
    for plan in _plan_batch(organization, policy, customer_ids, today):
        reminder = _reminder_queue(organization, policy, plan, today, templates, outbox)
        if reminder is None:
            continue
        reminders.append(reminder)
        lines.extend(
            ReminderInvoice(
                organization_id=organization.pk,
                reminder=reminder,
                invoice_id=line.invoice.pk,
                level=plan.level.level,
                amount_due=line.invoice.amount_due,
                days_overdue=line.days_overdue,
            )
            for line in plan.lines
        )
    emails_queue(outbox)
    Reminder.objects.bulk_create(reminders)
    ReminderInvoice.objects.bulk_create(lines)
    return reminders


class ReminderTemplates:
    """The levels' subject, text and HTML templates, compiled once per run (parsing costs
    more than rendering), not once per email. Keyed by the level's id and sources, so a
    policy replaced while a run goes on is compiled anew when its levels are first met."""

    def __init__(self) -> None:
        self._compiled: dict = {}

    def _templates(self, level: DunningLevel):
        key = (level.pk, level.subject, level.body_text, level.body_html)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = (
                compile_template("subject", level.subject),
                compile_template("body_text", level.body_text),
                compile_template("body_html", level.body_html) if level.body_html else None,
            )
        return compiled

    def render(self, organization, policy, plan: PlannedReminder) -> tuple[str, str, str]:
        """The reminder email's subject (one line), plain text and HTML ("" without one)."""
        subject, text, html = self._templates(plan.level)
        context = _template_context(organization, policy, plan)
        return (
            " ".join(render_compiled(subject, context).split())[:998],
            render_compiled(text, context),
            render_compiled(html, context) if html is not None else "",
        )


def _reminder_queue(
    organization,
    policy,
    plan: PlannedReminder,
    today: date,
    templates: ReminderTemplates,
    outbox: list,
) -> Reminder | None:
    """The reminder of ``plan`` (not yet saved) with its email added to ``outbox`` (written
    by the batch with one ``emails_queue``)."""
    reminder = Reminder(
        organization_id=organization.pk,
        customer=plan.customer,
        level=plan.level.level,
        to=[contact.email for contact in plan.contacts],
        total=plan.total,
        run_date=today,
        attach_statement=plan.level.attach_statement,
    )
    reminder.subject, body_text, body_html = templates.render(organization, policy, plan)
    try:
        email, files = email_prepare(
            organization_id=organization.pk,
            to=reminder.to,
            subject=reminder.subject or f"Reminder from {organization.name}",
            body_text=body_text,
            body_html=body_html,
            attachments=_attachments(organization, plan, today),
            kind="reminder",
            reference={"reminder_id": str(reminder.pk)},
            before_send=BEFORE_SEND,
        )
    except ValidationFailed as exc:
        logger.warning("reminder to customer %s not queued: %s", plan.customer.pk, exc.message)
        return None
    outbox.append((email, files))
    reminder.email_id = email.pk
    return reminder


def _template_context(organization, policy, plan: PlannedReminder) -> dict:
    contact = plan.contacts[0]
    return {
        "organization_name": organization.name,
        "remittance_instructions": policy.remittance_instructions,
        "level": plan.level.level,
        "customer": {
            "company_name": plan.customer.company_name,
            "external_id": plan.customer.external_id,
        },
        "contact": {"name": contact.contact_name, "email": contact.email},
        "invoices": [
            {
                "number": line.invoice.invoice_number,
                "due_date": line.invoice.due_date.isoformat(),
                "amount_due": str(line.invoice.amount_due),
                "days_overdue": line.days_overdue,
            }
            for line in plan.lines
        ],
        "totals": {
            "amount_due": str(plan.total),
            "count": len(plan.lines),
            "currency": organization.currency,
        },
    }


def _attachments(organization, plan: PlannedReminder, today: date) -> list:
    if not plan.level.attach_statement:
        return []
    statement = customer_statement(
        organization=organization,
        customer=plan.customer,
        date_from=today - timedelta(days=DEFAULT_PERIOD_DAYS),
        date_to=today,
    )
    try:
        content = statement_pdf(statement, organization_name=organization.name)
    except PdfUnavailable:
        logger.warning("statement PDF unavailable; reminder to %s goes without", plan.customer.pk)
        return []
    return [(statement_filename(statement), content, "application/pdf")]


# --- the schedule ------------------------------------------------------------------------------


def policies_due(*, now: datetime | None = None) -> list[int]:
    """Claim today's run of every enabled policy whose ``run_at`` has come in its
    organization's time zone; the organization ids claimed (each once a local day)."""
    now = now or timezone.now()
    claimed = []
    for policy in DunningPolicy.objects.filter(enabled=True).select_related("organization"):
        local = now.astimezone(zone(policy.organization.timezone))
        if local.time() < policy.run_at or policy.last_run_on == local.date():
            continue
        updated = DunningPolicy.objects.filter(pk=policy.pk, last_run_on=policy.last_run_on).update(
            last_run_on=local.date()
        )
        if updated:
            claimed.append(policy.organization_id)
    return claimed
