"""A customer's statement of account for a period, read from the receivables journal.

Every money event on an invoice posts a journal entry with lines on the invoice's receivable
account (``services/ledger.py``): issued (debit), changed, voided or deleted (the issue
reversed: credit), payments applied and unapplied, short-payments written off and their
reversals, offline payments and their reversals. So the statement is those lines, dated by
their entry and summed per entry: the opening balance is everything before ``date_from``,
each entry in ``[date_from, date_to]`` is a line with the running balance, and the closing
balance is the opening plus the lines. The aging buckets are the invoices' balances as of
``date_to`` by days past due on ``date_to``; they add up to the closing balance.

Credit notes (the ``credits`` app) are part of the customer's receivable too: a posted
note's entry credits it (tied to no invoice), a void one's reversal charges it back, and
applying a note moves nothing in the ledger (receivable to receivable) but lowers the
invoice's balance. So the statement has a line for each note posted (``credit_note``) and
voided (``credit_note_void``) in the period, lists the notes (``Statement.credit_notes``:
amount, applications, what was applied and what remains on ``date_to``), ages each invoice
net of the notes applied to it by ``date_to``, and shows what the notes still hold as one
more aging row (``credit_notes``, negative), so the aging still adds up to the closing
balance, which is the customer's receivable in the ledger.

Amounts are in the invoices' own currency, never converted: a customer with invoices in
several currencies gets a statement per currency (``Statement.others``), each with its own
balances and aging. A line in another currency than the base reads its ``amount_currency``
(the ledger's debits and credits are in base).

One query whatever the number of entries (the receivable lines of the customer's invoices
and of its credit notes, a UNION ALL), two more when it has credit notes (the notes, their
allocations); money is ``Decimal`` throughout (summed here, not with ``SUM()``: SQLite
aggregates decimals as floats).
"""

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from django.apps import apps
from django.db.models import F, OuterRef, Prefetch, Q, Subquery, UUIDField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

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
    "credit_note",
    "credit_note_void",
)
CREDIT_NOTE_LINE_LABELS = {
    "credit_note": "Credit note",
    "credit_note_void": "Credit note voided",
}
# The aging row of what the customer's credit notes still hold on ``date_to`` (negative).
CREDIT_NOTES_BUCKET = ("credit_notes", "Unapplied credit notes")


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
    credit: Decimal  # lowers it (a payment, a write-off, an invoice reversed, a credit note)
    balance: Decimal  # the running balance after this line
    # A credit note's line: the note (its invoice, if it is against one, above; else None).
    credit_note_id: UUID | None = None
    credit_note_number: str = ""


@dataclass(frozen=True)
class AgingBucket:
    key: str
    label: str
    total: Decimal
    count: int  # invoices with a balance in the bucket


@dataclass(frozen=True)
class CreditNoteApplication:
    """A part of a credit note applied to an invoice (taken back on ``unapplied_on``, if it
    was by ``date_to``)."""

    date: date
    invoice_id: UUID
    invoice_number: str
    amount: Decimal
    unapplied_on: date | None


@dataclass(frozen=True)
class StatementCreditNote:
    """A posted (or voided) credit note of the customer, as it stood on ``date_to``."""

    id: UUID
    number: str
    date: date  # posted
    memo: str
    invoice_id: UUID | None  # the invoice it is against, if any
    invoice_number: str
    currency: str
    status: str  # on date_to: posted or void
    voided_on: date | None
    void_entry_id: UUID | None
    amount: Decimal
    applied: Decimal  # applied on date_to
    remaining: Decimal  # left to apply on date_to (0 once void)
    applications: tuple[CreditNoteApplication, ...]


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
    # The credit notes in this currency posted by date_to that were active in the period or
    # still hold something, oldest first; and what they hold on date_to.
    credit_notes: tuple[StatementCreditNote, ...] = ()
    unapplied_credits: Decimal = ZERO

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
    """The customer's journal lines on its receivable accounts up to ``date_to``, in posting
    order, one tuple per line: its invoices' entries, and its credit notes' postings and
    voids (their ``credit_note`` column set). One query (a UNION ALL, each side on its
    indexes)."""
    lines = JournalLine.objects.for_org(organization).order_by()
    columns = (
        "entry_id",
        "entry__date",
        "entry__kind",
        "entry__source",
        "entry__memo",
        "entry__invoice_id",
        "entry__invoice__invoice_number",
        "entry__invoice__due_date",
        "entry__invoice__currency",
        "entry__created_at",
        "id",
        "credit_note",
        "debit",
        "credit",
        "currency",
        "amount_currency",
    )
    invoices = (
        lines.filter(
            entry__invoice__customer_id=customer.pk,
            entry__date__lte=date_to,
            account_id=F("entry__invoice__ar_account_id"),
        )
        .annotate(credit_note=Value(None, output_field=UUIDField()))
        .values_list(*columns)
    )
    models = _credits_models()
    if models is None:  # pragma: no cover - the credits app is part of the project
        return invoices.order_by("entry__date", "entry__created_at", "entry_id", "id")
    notes = models[0].objects.for_org(organization).filter(customer_id=customer.pk).order_by()
    posted = notes.filter(journal_entry_id=OuterRef("entry_id")).values("pk")[:1]
    voided = notes.filter(void_entry_id=OuterRef("entry_id")).values("pk")[:1]
    credit_notes = (
        lines.filter(
            Q(entry_id__in=notes.values("journal_entry_id"))
            | Q(entry_id__in=notes.filter(void_entry__isnull=False).values("void_entry_id")),
            entry__date__lte=date_to,
            account_id__in=notes.values("ar_account_id"),
        )
        .annotate(
            credit_note=Coalesce(Subquery(posted), Subquery(voided), output_field=UUIDField())
        )
        .values_list(*columns)
    )
    return invoices.union(credit_notes, all=True).order_by(
        "entry__date", "entry__created_at", "entry_id", "id"
    )


@dataclass
class _Entry:
    id: UUID
    date: date
    kind: str
    source: str
    memo: str
    invoice_id: UUID | None
    invoice_number: str
    due_date: date | None
    currency: str
    created_at: object = None
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    # A credit note's posting or void: its line type and the note.
    type: str = ""
    credit_note_id: UUID | None = None
    credit_note_number: str = ""


def _own_amounts(debit, credit, line_currency, amount_currency) -> tuple[Decimal, Decimal]:
    """A line's debit and credit in its invoice's currency: its ``amount_currency`` (signed,
    debit positive) when it has one, else its debit and credit (base money)."""
    if not line_currency or amount_currency is None:
        return debit, credit
    return (amount_currency, ZERO) if amount_currency >= 0 else (ZERO, -amount_currency)


def _entries(rows, base: str) -> list[_Entry]:
    """The rows summed per journal entry (an entry has one receivable line per fund), in the
    invoice's (or the credit note's) currency."""
    entries: list[_Entry] = []
    for row in rows:
        entry_id, day, kind, source, memo, invoice_id, number, due, currency, created = row[:10]
        note_id = row[11]
        debit, credit = _own_amounts(*row[12:])
        if not entries or entries[-1].id != entry_id:
            if note_id is not None:  # tied to no invoice: the line's currency (blank: base)
                currency = (row[14] or base).upper()
            entries.append(
                _Entry(
                    entry_id, day, kind, source, memo, invoice_id, number, due, currency, created
                )
            )
            entries[-1].credit_note_id = _uuid(note_id)
        entries[-1].debit += debit
        entries[-1].credit += credit
    return entries


def _uuid(value) -> UUID | None:
    """A UUID read back from a UNION's column (SQLite hands back its text)."""
    if value is None or isinstance(value, UUID):
        return value
    return UUID(str(value))


# --- credit notes --------------------------------------------------------------------------------


def _credits_models():
    """``credits``' CreditNote and CreditNoteAllocation, or None without the app. The credits
    app sits above receivables (it imports receivables, never the other way), so its models
    are looked up by name here, read only."""
    try:
        return apps.get_model("credits", "CreditNote"), apps.get_model(
            "credits", "CreditNoteAllocation"
        )
    except LookupError:  # pragma: no cover - the credits app is part of the project
        return None


def _local_date(moment) -> date | None:
    """The date of ``moment`` as the ledger dates entries (``timezone.localdate``)."""
    return None if moment is None else timezone.localdate(moment)


def _credit_note_rows(organization, note_ids) -> list:
    """The credit notes ``note_ids`` with their posting and void entries, their invoice and
    their allocations (with their invoices): two queries (none without notes)."""
    models = _credits_models()
    if models is None or not note_ids:
        return []
    credit_note, allocation = models
    return list(
        credit_note.objects.for_org(organization)
        .filter(pk__in=note_ids)
        .select_related("invoice", "journal_entry", "void_entry")
        .prefetch_related(
            Prefetch(
                "allocations",
                queryset=allocation.objects.select_related("invoice").order_by("created_at", "id"),
            )
        )
        .order_by("journal_entry__date", "journal_entry__created_at", "id")
    )


def _credit_note_on(note, date_to: date) -> StatementCreditNote:
    """``note`` as it stood at the end of ``date_to``."""
    voided_on = note.void_entry.date if note.void_entry_id else None
    if voided_on is not None and voided_on > date_to:
        voided_on = None
    applications = []
    for allocation in note.allocations.all():  # prefetched
        applied_on = _local_date(allocation.created_at)
        if applied_on > date_to:
            continue
        unapplied_on = _local_date(allocation.unapplied_at)
        applications.append(
            CreditNoteApplication(
                date=applied_on,
                invoice_id=allocation.invoice_id,
                invoice_number=allocation.invoice.invoice_number,
                amount=allocation.amount,
                unapplied_on=unapplied_on if unapplied_on and unapplied_on <= date_to else None,
            )
        )
    applied = sum((a.amount for a in applications if a.unapplied_on is None), ZERO)
    return StatementCreditNote(
        id=note.pk,
        number=note.number,
        date=note.journal_entry.date,
        memo=note.memo,
        invoice_id=note.invoice_id,
        invoice_number=note.invoice.invoice_number if note.invoice_id else "",
        currency=note.currency,
        status="void" if voided_on is not None else "posted",
        voided_on=voided_on,
        void_entry_id=note.void_entry_id,
        amount=note.amount,
        applied=applied,
        remaining=ZERO if voided_on is not None else note.amount - applied,
        applications=tuple(applications),
    )


def _describe_credit_note_entry(entry: _Entry, note: StatementCreditNote) -> None:
    """A credit note's posting or void as a statement line: the note, its invoice if any."""
    entry.type = "credit_note_void" if entry.id == note.void_entry_id else "credit_note"
    entry.credit_note_number = note.number
    entry.invoice_id = note.invoice_id
    entry.invoice_number = note.invoice_number
    entry.memo = note.memo or entry.memo


def _active_in(note: StatementCreditNote, date_from: date) -> bool:
    """Whether the statement lists ``note``: posted, voided, applied or unapplied in the
    period, or still holding something at its end."""
    days = [note.date, note.voided_on]
    for application in note.applications:
        days += [application.date, application.unapplied_on]
    return note.remaining != 0 or any(day is not None and day >= date_from for day in days)


# --- aging ---------------------------------------------------------------------------------------


def _bucket_key(days_past_due: int) -> str:
    """The ``AGING_BUCKETS`` key (receivables.views, shared with the aging pages) of an
    invoice ``days_past_due`` days past its due date (0 or less: current)."""
    for key, _label, first, last in AGING_BUCKETS:
        if first is None and days_past_due <= last:
            return key
        if first is not None and days_past_due >= first and (last is None or days_past_due <= last):
            return key
    raise AssertionError(days_past_due)  # the buckets cover every integer


def _aging(
    entries: list[_Entry], date_to: date, notes: list[StatementCreditNote]
) -> list[AgingBucket]:
    """Each invoice's balance as of ``date_to`` (less the credit notes applied to it then),
    bucketed by days past due on that day; and what the notes still hold (negative), when
    they hold something."""
    balances: dict[UUID, Decimal] = {}
    due: dict[UUID, date] = {}
    for entry in entries:
        if entry.credit_note_id is not None:
            continue
        balances[entry.invoice_id] = (
            balances.get(entry.invoice_id, ZERO) + entry.debit - entry.credit
        )
        due[entry.invoice_id] = entry.due_date
    for note in notes:
        for application in note.applications:
            if application.unapplied_on is None and application.invoice_id in balances:
                balances[application.invoice_id] -= application.amount
    totals = {key: ZERO for key, *_ in AGING_BUCKETS}
    counts = dict.fromkeys(totals, 0)
    for invoice_id, balance in balances.items():
        if balance == 0:
            continue
        key = _bucket_key((date_to - due[invoice_id]).days)
        totals[key] += balance
        counts[key] += 1
    buckets = [
        AgingBucket(key=key, label=label, total=totals[key], count=counts[key])
        for key, label, *_ in AGING_BUCKETS
    ]
    holding = [note for note in notes if note.remaining]
    if holding:
        key, label = CREDIT_NOTES_BUCKET
        total = -sum((note.remaining for note in holding), ZERO)
        buckets.append(AgingBucket(key=key, label=label, total=total, count=len(holding)))
    return buckets


# --- the statement -------------------------------------------------------------------------------


def customer_statement(
    *, organization, customer: Customer, date_from: date, date_to: date
) -> Statement:
    """The statement of ``customer`` (of ``organization``) for ``[date_from, date_to]``: in
    the base currency (or the customer's one currency, when that is another), with one in
    each other currency its invoices or credit notes are in as ``others``."""
    if customer.organization_id != getattr(organization, "pk", organization):
        raise ValueError("The customer is not the organization's.")
    base = (getattr(organization, "currency", "") or "USD").upper()
    entries = _entries(_receivable_rows(organization, customer, date_to), base)
    note_ids = {entry.credit_note_id for entry in entries if entry.credit_note_id is not None}
    notes = {
        note.pk: _credit_note_on(note, date_to)
        for note in _credit_note_rows(organization, note_ids)
    }
    by_currency: dict[str, list[_Entry]] = {}
    for entry in entries:
        if entry.credit_note_id is not None:
            _describe_credit_note_entry(entry, notes[entry.credit_note_id])
        by_currency.setdefault(entry.currency, []).append(entry)
    notes_by_currency: dict[str, list[StatementCreditNote]] = {}
    for note in sorted(notes.values(), key=lambda note: (note.date, note.number)):
        notes_by_currency.setdefault(note.currency, []).append(note)
    currencies = sorted(by_currency, key=lambda code: (code != base, code)) or [base]
    first, *others = (
        _statement(
            customer,
            code,
            by_currency.get(code, []),
            notes_by_currency.get(code, []),
            date_from,
            date_to,
        )
        for code in currencies
    )
    return replace(first, others=tuple(others))


def _statement(
    customer: Customer,
    currency: str,
    entries: list[_Entry],
    notes: list[StatementCreditNote],
    date_from: date,
    date_to: date,
) -> Statement:
    """The statement of ``entries`` and ``notes`` (one currency's) for ``[date_from,
    date_to]``; ``entries`` in posting order."""
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
                type=entry.type or line_type(entry.kind, entry.source),
                description=CREDIT_NOTE_LINE_LABELS.get(entry.type)
                or activity_label(entry.kind, entry.source),
                memo=entry.memo,
                invoice_id=entry.invoice_id,
                invoice_number=entry.invoice_number,
                charge=entry.debit,
                credit=entry.credit,
                balance=balance,
                credit_note_id=entry.credit_note_id,
                credit_note_number=entry.credit_note_number,
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
        aging=_aging(entries, date_to, notes),
        credit_notes=tuple(note for note in notes if _active_in(note, date_from)),
        unapplied_credits=sum((note.remaining for note in notes), ZERO),
    )
