"""The dunning run: which reminders an organization's policy calls for today, and sending them.

One reminder per customer and level, naming that customer's invoices at that level. An
invoice's level is the highest whose ``days_after_due`` it has reached, if no reminder has
named it at that level or a later one yet (``ReminderInvoice``'s unique constraint: a level
once per invoice). Not reminded: disputed invoices, invoices of an open promise, and customers
whose overdue total (of the invoices dunning may chase) is under ``minimum_overdue``.

Customers are read in batches (``BATCH_SIZE``) with a fixed number of queries each; each
batch is written in its own transaction, under the policy's row lock, so two runs of one
organization never decide the same reminders.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from arpilot.errors import ValidationFailed
from arpilot.money import ZERO
from arpilot.timezones import today_in, zone
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
from dunning.services.templating import render
from mail.services import email_queue
from receivables.models import Invoice
from receivables.statement_pdf import PdfUnavailable, statement_filename, statement_pdf
from receivables.statements import DEFAULT_PERIOD_DAYS, customer_statement

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
BEFORE_SEND = "dunning.services.reminders.reminder_before_send"


@dataclass
class PlannedLine:
    invoice: Invoice
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
    """Open invoices past due on ``today`` that are neither disputed nor promised."""
    disputed = Dispute.objects.filter(invoice=OuterRef("pk"), status=Dispute.Status.OPEN)
    promised = PromiseInvoice.objects.filter(invoice=OuterRef("pk"), promise__status="open")
    return (
        Invoice.objects.for_org(organization)
        .open()
        .filter(amount_due__gt=0, due_date__lt=today)
        .exclude(Exists(disputed))
        .exclude(Exists(promised))
    )


def _customer_batches(organization, today: date):
    customer_ids = list(
        dunnable_invoices(organization, today)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .distinct()
    )
    for start in range(0, len(customer_ids), BATCH_SIZE):
        yield customer_ids[start : start + BATCH_SIZE]


def _plan_batch(organization, policy, customer_ids, today: date) -> list[PlannedReminder]:
    """The reminders of these customers (three queries, however many customers)."""
    levels = sorted(policy.levels.all(), key=lambda level: level.days_after_due)
    invoices = list(
        dunnable_invoices(organization, today)
        .filter(customer_id__in=customer_ids)
        .select_related("customer")
        .order_by("customer_id", "due_date", "invoice_number")
    )
    reminded: dict = {}
    for invoice_id, level in (
        ReminderInvoice.objects.for_org(organization)
        .filter(invoice__customer_id__in=customer_ids, released=False)
        .values_list("invoice_id", "level")
    ):
        reminded[invoice_id] = max(level, reminded.get(invoice_id, 0))
    contacts: dict = {}
    for contact in Contact.objects.for_org(organization).filter(customer_id__in=customer_ids):
        contacts.setdefault(contact.customer_id, []).append(contact)

    by_customer: dict = {}
    for invoice in invoices:
        by_customer.setdefault(invoice.customer_id, []).append(invoice)
    planned = []
    for customer_invoices in by_customer.values():
        overdue_total = sum((invoice.amount_due for invoice in customer_invoices), ZERO)
        if overdue_total < policy.minimum_overdue:
            continue
        customer = customer_invoices[0].customer
        reminders: dict[int, PlannedReminder] = {}
        for invoice in customer_invoices:
            days_overdue = (today - invoice.due_date).days
            reached = [level for level in levels if days_overdue >= level.days_after_due]
            if not reached or reached[-1].level <= reminded.get(invoice.pk, 0):
                continue
            level = reached[-1]
            if level.level not in reminders:
                recipients = _recipients(contacts.get(customer.pk, []), level)
                if not recipients:
                    continue
                reminders[level.level] = PlannedReminder(customer, level, recipients)
            reminders[level.level].lines.append(PlannedLine(invoice, days_overdue))
        planned.extend(reminders[key] for key in sorted(reminders))
    return planned


def _recipients(contacts: list[Contact], level: DunningLevel) -> list[Contact]:
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
    for customer_ids in _customer_batches(organization, today):
        planned.extend(_plan_batch(organization, policy, customer_ids, today))
    return planned


# --- sending -----------------------------------------------------------------------------------


def dunning_run(*, organization, today: date | None = None) -> list[Reminder]:
    """Decide and queue today's reminders (safe to run twice: a level goes once per invoice)."""
    policy_get_or_seed(organization=organization)
    today = today or organization_today(organization)
    reminders: list[Reminder] = []
    for customer_ids in _customer_batches(organization, today):
        reminders.extend(_run_batch(organization, customer_ids, today))
    return reminders


@transaction.atomic
def _run_batch(organization, customer_ids, today: date) -> list[Reminder]:
    policy = lock_objects.policy_for_update(organization).prefetch_related("levels").get()
    reminders, lines = [], []
    for plan in _plan_batch(organization, policy, customer_ids, today):
        reminder = _reminder_queue(organization, policy, plan, today)
        if reminder is None:
            continue
        reminders.append(reminder)
        lines.extend(
            ReminderInvoice(
                organization_id=organization.pk,
                reminder=reminder,
                invoice=line.invoice,
                level=plan.level.level,
                amount_due=line.invoice.amount_due,
                days_overdue=line.days_overdue,
            )
            for line in plan.lines
        )
    Reminder.objects.bulk_create(reminders)
    ReminderInvoice.objects.bulk_create(lines)
    return reminders


def _reminder_queue(organization, policy, plan: PlannedReminder, today: date) -> Reminder | None:
    """The reminder of ``plan`` with its email in the outbox (not yet saved itself)."""
    reminder = Reminder(
        organization_id=organization.pk,
        customer=plan.customer,
        level=plan.level.level,
        to=[contact.email for contact in plan.contacts],
        total=plan.total,
        run_date=today,
        attach_statement=plan.level.attach_statement,
    )
    context = _template_context(organization, policy, plan)
    reminder.subject = " ".join(render("subject", plan.level.subject, context).split())[:998]
    try:
        email = email_queue(
            organization_id=organization.pk,
            to=reminder.to,
            subject=reminder.subject or f"Reminder from {organization.name}",
            body_text=render("body_text", plan.level.body_text, context),
            body_html=render("body_html", plan.level.body_html, context)
            if plan.level.body_html
            else "",
            attachments=_attachments(organization, plan, today),
            kind="reminder",
            reference={"reminder_id": str(reminder.pk)},
            before_send=BEFORE_SEND,
        )
    except ValidationFailed as exc:
        logger.warning("reminder to customer %s not queued: %s", plan.customer.pk, exc.message)
        return None
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
