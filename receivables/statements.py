"""A customer's statement of account for a period, read from the receivables journal.

Every money event on an invoice posts a journal entry with lines on the invoice's receivable
account (``services/ledger.py``): issued (debit), changed, voided or deleted (the issue
reversed: credit), payments applied and unapplied, short-payments written off and their
reversals, offline payments and their reversals. So the statement is those lines, dated by
their entry and summed per entry: the opening balance is everything before ``date_from``,
each entry in ``[date_from, date_to]`` is a line with the running balance, and the closing
balance is the opening plus the lines. The aging buckets are the invoices' balances as of
``date_to`` by days past due on ``date_to``; they add up to the closing balance.

Amounts are in the invoices' own currency, never converted: a customer with invoices in
several currencies gets a statement per currency (``Statement.others``), each with its own
balances and aging. A line in another currency than the base reads its ``amount_currency``
(the ledger's debits and credits are in base).

One query, whatever the number of entries; money is ``Decimal`` throughout (summed here,
not with ``SUM()``: SQLite aggregates decimals as floats).
"""

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from django.db.models import F

from arpilot.errors import ValidationFailed
from arpilot.money import ZERO
from arpilot.timezones import today_in
from customers.models import Customer
from receivables.models import JournalEntry, JournalLine
from receivables.selectors import activity_label
from receivables.views import AGING_BUCKETS

DEFAULT_PERIOD_DAYS = 90

Kind = JournalEntry.Kind

# (entry kind, entry source) → the line's type; any other source of a payment (or of its
# reversal) is money received outside ARPilot.
LINE_TYPES = {
    (Kind.ISSUE, "invoice"): "invoice",
    (Kind.ISSUE_REVERSAL, "invoice"): "invoice_reversal",
    (Kind.PAYMENT, "payment"): "payment",
    (Kind.PAYMENT_REVERSAL, "payment"): "payment_reversal",
    (Kind.PAYMENT, "write_off"): "write_off",
    (Kind.PAYMENT_REVERSAL, "write_off"): "write_off_reversal",
}
OFFLINE_LINE_TYPES = {
    Kind.ISSUE: "invoice",
    Kind.ISSUE_REVERSAL: "invoice_reversal",
    Kind.PAYMENT: "offline_payment",
    Kind.PAYMENT_REVERSAL: "offline_payment_reversal",
}
STATEMENT_LINE_TYPES = (
    "invoice",
    "invoice_reversal",
    "payment",
    "payment_reversal",
    "write_off",
    "write_off_reversal",
    "offline_payment",
    "offline_payment_reversal",
)


def line_type(kind: str, source: str) -> str:
    return LINE_TYPES.get((kind, source)) or OFFLINE_LINE_TYPES.get(kind, kind)


@dataclass(frozen=True)
class StatementLine:
    """One journal entry of the period: what it moved on the customer's receivable."""

    entry_id: UUID
    date: date
    type: str
    description: str
    memo: str
    invoice_id: UUID
    invoice_number: str
    charge: Decimal  # raises what the customer owes (an invoice, a payment taken back)
    credit: Decimal  # lowers it (a payment, a write-off, an invoice reversed)
    balance: Decimal  # the running balance after this line


@dataclass(frozen=True)
class AgingBucket:
    key: str
    label: str
    total: Decimal
    count: int  # invoices with a balance in the bucket


@dataclass(frozen=True)
class Statement:
    customer: Customer
    currency: str
    date_from: date
    date_to: date
    opening_balance: Decimal
    lines: list[StatementLine]
    total_charges: Decimal
    total_credits: Decimal
    closing_balance: Decimal
    aging: list[AgingBucket]
    # The same customer's statements in its other currencies (none when it has one).
    others: tuple["Statement", ...] = ()

    @property
    def sections(self) -> tuple["Statement", ...]:
        """This statement and those in the other currencies, base currency first."""
        return (self, *self.others)


# --- the period --------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _parse_date(value: str, field: str) -> date:
    text = (value or "").strip()
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            f"{field}: {value!r} is not a date (YYYY-MM-DD).",
            fields={field: ["Enter a date as YYYY-MM-DD."]},
        ) from None


def _days_before(day: date, days: int) -> date:
    try:
        return day - timedelta(days=days)
    except OverflowError:  # near year 1
        return date.min


def statement_period(params, *, today: date) -> tuple[date, date]:
    """The period asked for by ``params`` (``from``, ``to``; YYYY-MM-DD): ``to`` defaults to
    ``today``, ``from`` to 90 days before ``to``. A date that cannot be read, or ``from``
    after ``to``, is a ValidationFailed naming the field."""
    raw_from, raw_to = params.get("from") or "", params.get("to") or ""
    date_to = _parse_date(raw_to, "to") if raw_to.strip() else today
    if raw_from.strip():
        date_from = _parse_date(raw_from, "from")
    else:
        date_from = _days_before(date_to, DEFAULT_PERIOD_DAYS)
    if date_from > date_to:
        raise ValidationFailed(
            f"from ({date_from}) is after to ({date_to}).",
            fields={"from": [f"Must be on or before to ({date_to})."]},
        )
    return date_from, date_to


def organization_today(organization) -> date:
    """Today in the organization's timezone (the default end of a statement)."""
    return today_in(getattr(organization, "timezone", None))


# --- the statement -------------------------------------------------------------------------------


def _receivable_rows(organization, customer: Customer, date_to: date):
    """The customer's journal lines on its invoices' receivable accounts up to ``date_to``,
    in posting order, one tuple per line."""
    return (
        JournalLine.objects.for_org(organization)
        .filter(
            entry__invoice__customer_id=customer.pk,
            entry__date__lte=date_to,
            account_id=F("entry__invoice__ar_account_id"),
        )
        .order_by("entry__date", "entry__created_at", "entry_id", "id")
        .values_list(
            "entry_id",
            "entry__date",
            "entry__kind",
            "entry__source",
            "entry__memo",
            "entry__invoice_id",
            "entry__invoice__invoice_number",
            "entry__invoice__due_date",
            "entry__invoice__currency",
            "debit",
            "credit",
            "currency",
            "amount_currency",
        )
    )


@dataclass
class _Entry:
    id: UUID
    date: date
    kind: str
    source: str
    memo: str
    invoice_id: UUID
    invoice_number: str
    due_date: date
    currency: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO


def _own_amounts(debit, credit, line_currency, amount_currency) -> tuple[Decimal, Decimal]:
    """A line's debit and credit in its invoice's currency: its ``amount_currency`` (signed,
    debit positive) when it has one, else its debit and credit (base money)."""
    if not line_currency or amount_currency is None:
        return debit, credit
    return (amount_currency, ZERO) if amount_currency >= 0 else (ZERO, -amount_currency)


def _entries(rows) -> list[_Entry]:
    """The rows summed per journal entry (an entry has one receivable line per fund), in the
    invoice's currency."""
    entries: list[_Entry] = []
    for row in rows:
        entry_id, day, kind, source, memo, invoice_id, number, due, currency = row[:9]
        debit, credit = _own_amounts(*row[9:])
        if not entries or entries[-1].id != entry_id:
            entries.append(
                _Entry(entry_id, day, kind, source, memo, invoice_id, number, due, currency)
            )
        entries[-1].debit += debit
        entries[-1].credit += credit
    return entries


def _bucket_key(days_past_due: int) -> str:
    """The ``AGING_BUCKETS`` key (receivables.views, shared with the aging pages) of an
    invoice ``days_past_due`` days past its due date (0 or less: current)."""
    for key, _label, first, last in AGING_BUCKETS:
        if first is None and days_past_due <= last:
            return key
        if first is not None and days_past_due >= first and (last is None or days_past_due <= last):
            return key
    raise AssertionError(days_past_due)  # the buckets cover every integer


def _aging(entries: list[_Entry], date_to: date) -> list[AgingBucket]:
    """Each invoice's balance as of ``date_to``, bucketed by days past due on that day."""
    balances: dict[UUID, Decimal] = {}
    due: dict[UUID, date] = {}
    for entry in entries:
        balances[entry.invoice_id] = (
            balances.get(entry.invoice_id, ZERO) + entry.debit - entry.credit
        )
        due[entry.invoice_id] = entry.due_date
    totals = {key: ZERO for key, *_ in AGING_BUCKETS}
    counts = dict.fromkeys(totals, 0)
    for invoice_id, balance in balances.items():
        if balance == 0:
            continue
        key = _bucket_key((date_to - due[invoice_id]).days)
        totals[key] += balance
        counts[key] += 1
    return [
        AgingBucket(key=key, label=label, total=totals[key], count=counts[key])
        for key, label, *_ in AGING_BUCKETS
    ]


def customer_statement(
    *, organization, customer: Customer, date_from: date, date_to: date
) -> Statement:
    """The statement of ``customer`` (of ``organization``) for ``[date_from, date_to]``: in
    the base currency (or the customer's one currency, when that is another), with one in
    each other currency its invoices are in as ``others``."""
    if customer.organization_id != getattr(organization, "pk", organization):
        raise ValueError("The customer is not the organization's.")
    by_currency: dict[str, list[_Entry]] = {}
    for entry in _entries(_receivable_rows(organization, customer, date_to)):
        by_currency.setdefault(entry.currency, []).append(entry)
    base = (getattr(organization, "currency", "") or "USD").upper()
    currencies = sorted(by_currency, key=lambda code: (code != base, code)) or [base]
    first, *others = (
        _statement(customer, code, by_currency.get(code, []), date_from, date_to)
        for code in currencies
    )
    return replace(first, others=tuple(others))


def _statement(
    customer: Customer, currency: str, entries: list[_Entry], date_from: date, date_to: date
) -> Statement:
    """The statement of ``entries`` (one currency's) for ``[date_from, date_to]``."""
    opening = sum((e.debit - e.credit for e in entries if e.date < date_from), ZERO)
    balance = opening
    lines = []
    for entry in entries:
        if entry.date < date_from:
            continue
        balance += entry.debit - entry.credit
        lines.append(
            StatementLine(
                entry_id=entry.id,
                date=entry.date,
                type=line_type(entry.kind, entry.source),
                description=activity_label(entry.kind, entry.source),
                memo=entry.memo,
                invoice_id=entry.invoice_id,
                invoice_number=entry.invoice_number,
                charge=entry.debit,
                credit=entry.credit,
                balance=balance,
            )
        )
    return Statement(
        customer=customer,
        currency=currency,
        date_from=date_from,
        date_to=date_to,
        opening_balance=opening,
        lines=lines,
        total_charges=sum((line.charge for line in lines), ZERO),
        total_credits=sum((line.credit for line in lines), ZERO),
        closing_balance=balance,
        aging=_aging(entries, date_to),
    )
