"""The collector's worklist: customers with overdue money, by a priority a clerk can read.

One row per customer with overdue invoices (status ``overdue``, amount due > 0, no open
dispute). Every figure is computed in SQL (subqueries per customer), so a page costs the
same two queries (count and page) however many customers there are.

    priority = overdue_weighted / 100          (1 point per 100 of money overdue a month)
             + 25 * broken_promises            (broken in the last 90 days)
             + min(days_since_last_contact, 30) (30 when never contacted)
             + 5 * reminders_sent              (sent in the last 90 days)
             - 20 when an open promise covers some of its overdue invoices (never below 0)

    overdue_weighted = Σ amount_due * days_overdue / 30   (over its overdue invoices)

Last contact is the latest of its notes/calls and its sent reminders.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Greatest, Least

from arpilot.currencies import currency_places
from arpilot.money import MILL, money_value
from credits.models import Deduction
from dunning.models import CustomerNote, Dispute, Promise, PromiseInvoice, Reminder
from receivables.models import Invoice
from receivables.views import base_currency, booked_rate, in_base

WINDOW_DAYS = 90
WEIGHT_PER_POINT = Decimal("100")
BROKEN_PROMISE_POINTS = 25
CONTACT_GAP_CAP_DAYS = 30
REMINDER_POINTS = 5
OPEN_PROMISE_POINTS = -20
MONEY = DecimalField(max_digits=24, decimal_places=3)

FORMULA = (
    "`priority` = `overdue_weighted` / 100 + 25 * `broken_promises` + "
    "min(`days_since_last_contact`, 30) (30 when never contacted) + 5 * `reminders_sent` "
    "- 20 when an open promise covers some of its overdue invoices (never below 0). "
    "`overdue_weighted` = Σ amount due * days overdue / 30 over its overdue invoices (status "
    "`overdue`, not disputed). Broken promises and reminders sent count the last 90 days; "
    "last contact is its latest note, call or sent reminder."
)


class DaysBetween(Func):
    """Whole days from the date ``earlier`` to the date ``later``: ``DaysBetween(later,
    earlier)``."""

    output_field = IntegerField()
    arity = 2

    def as_sql(self, compiler, connection, **extra):
        return self.as_sqlite(compiler, connection, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "CAST(julianday(%(expressions)s) AS INTEGER)"
        return super().as_sql(
            compiler, connection, template=template, arg_joiner=") - julianday(", **extra
        )

    def as_postgresql(self, compiler, connection, **extra):
        template = "(%(expressions)s::date)"
        return super().as_sql(
            compiler, connection, template=template, arg_joiner="::date - ", **extra
        )


class DaysSince(DaysBetween):
    """Whole days from the timestamp ``then`` to the timestamp ``now`` (floored):
    ``DaysSince(now, then)``. SQLite's julianday difference serves both; PostgreSQL
    subtracts timestamps, not dates."""

    def as_postgresql(self, compiler, connection, **extra):
        template = "FLOOR(EXTRACT(EPOCH FROM (%(expressions)s)) / 86400)::integer"
        return Func.as_sql(self, compiler, connection, template=template, arg_joiner=" - ", **extra)


def _aggregate(queryset, expression, output_field):
    """A per-customer aggregate of ``queryset`` (which has ``customer`` = OuterRef("pk"))."""
    return Subquery(
        queryset.order_by().values("customer_id").annotate(value=expression).values("value")[:1],
        output_field=output_field,
    )


def worklist_annotate(customers, *, today: date, now: datetime, organization=None):
    """Customers (already scoped) with overdue money, annotated with the worklist figures.
    With ``organization``, the money is in its base currency: each invoice's amount due at
    the rate it was booked at (an invoice in another currency with no rate counts nothing)."""
    since = now - timedelta(days=WINDOW_DAYS)
    disputed = Dispute.objects.filter(invoice=OuterRef("pk"), status=Dispute.Status.OPEN)
    deducted = Deduction.objects.filter(invoice=OuterRef("pk"), status=Deduction.Status.OPEN)
    overdue = (
        Invoice.objects.filter(
            customer=OuterRef("pk"), status=Invoice.Status.OVERDUE, amount_due__gt=0
        )
        .exclude(Exists(disputed))
        .exclude(Exists(deducted))  # the remainder is a deduction, not overdue debt
        .annotate(days=DaysBetween(Value(today), F("due_date")))
    )
    due = "amount_due"
    if organization is not None:
        places = currency_places(base_currency(organization))
        overdue = overdue.annotate(
            base_rate=booked_rate(organization),
            due_base=in_base("amount_due", "base_rate", places),
        )
        due = "due_base"
    notes = CustomerNote.objects.filter(customer=OuterRef("pk"))
    sent = Reminder.objects.filter(customer=OuterRef("pk"), status=Reminder.Status.SENT)
    broken = Promise.objects.filter(
        customer=OuterRef("pk"), status=Promise.Status.BROKEN, resolved_at__gte=since
    )
    promised = PromiseInvoice.objects.filter(
        promise__status=Promise.Status.OPEN,
        invoice__customer=OuterRef("pk"),
        invoice__status=Invoice.Status.OVERDUE,
    )
    last_note = _aggregate(notes, Max("created_at"), notes.model._meta.get_field("created_at"))
    last_reminder = _aggregate(sent, Max("sent_at"), sent.model._meta.get_field("sent_at"))
    annotated = customers.filter(Exists(overdue)).annotate(
        overdue_total=_aggregate(overdue, Sum(due), MONEY),
        overdue_weighted_raw=_aggregate(overdue, Sum(F(due) * F("days")), MONEY),
        oldest_days_overdue=_aggregate(overdue, Max("days"), IntegerField()),
        oldest_due_date=_aggregate(overdue, Min("due_date"), Invoice._meta.get_field("due_date")),
        broken_promises=Coalesce(_aggregate(broken, Count("id"), IntegerField()), 0),
        reminders_sent=Coalesce(
            _aggregate(sent.filter(sent_at__gte=since), Count("id"), IntegerField()), 0
        ),
        open_promise=Exists(promised),
        last_contact_at=Greatest(
            Coalesce(last_note, last_reminder), Coalesce(last_reminder, last_note)
        ),
    )
    annotated = annotated.annotate(
        days_since_last_contact=DaysSince(Value(now), F("last_contact_at")),
    )
    priority = (
        Cast(F("overdue_weighted_raw"), FloatField()) / Value(30.0 * float(WEIGHT_PER_POINT))
        + Value(float(BROKEN_PROMISE_POINTS)) * F("broken_promises")
        + Cast(
            Coalesce(
                Least(F("days_since_last_contact"), Value(CONTACT_GAP_CAP_DAYS)),
                Value(CONTACT_GAP_CAP_DAYS),
            ),
            FloatField(),
        )
        + Value(float(REMINDER_POINTS)) * F("reminders_sent")
    )
    priority = Case(
        When(open_promise=True, then=priority + Value(float(OPEN_PROMISE_POINTS))),
        default=priority,
        output_field=FloatField(),
    )
    return annotated.annotate(
        priority=Greatest(priority, Value(0.0), output_field=FloatField())
    ).order_by("-priority", "-overdue_total", "id")


def _cents(value) -> Decimal:
    return money_value(Decimal(value or 0).quantize(MILL))


def overdue_total(row) -> Decimal:
    return _cents(row.overdue_total)


def weighted(row) -> Decimal:
    return _cents(Decimal(row.overdue_weighted_raw or 0) / 30)


def priority_reasons(row) -> list[str]:
    """What drove the row's priority, biggest first, in words a clerk reads."""
    reasons = [
        f"{overdue_total(row)} overdue, oldest {row.oldest_days_overdue} days "
        f"({int(weighted(row) / WEIGHT_PER_POINT)} points)"
    ]
    if row.broken_promises:
        reasons.append(f"{row.broken_promises} broken promise(s) in 90 days")
    if row.days_since_last_contact is None:
        reasons.append("never contacted")
    elif row.days_since_last_contact >= 14:
        reasons.append(f"no contact for {row.days_since_last_contact} days")
    if row.reminders_sent:
        reasons.append(f"{row.reminders_sent} reminder(s) sent in 90 days")
    if row.open_promise:
        reasons.append("open promise covers some invoices")
    return reasons
