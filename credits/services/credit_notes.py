"""Credit notes: customer documents with GL lines that lower what the customer owes.

A note is created as a draft (numbered ``CN-<n>`` when no number is given), in a currency
(ISO 4217, the organization's base by default; every amount has at most its decimal places),
optionally against an invoice of the same customer and currency. Its amount is the sum of its
lines (each to a revenue or contra-revenue account, by default 4900 "Sales credits / credit
notes", and a fund).

* post     Dr each line's account / Cr the receivable account (per fund), one journal entry
           (``issue`` kind, source ``credit_note``, tied to no invoice); a ``credit_note``
           accounting change carries it. ``amount_remaining`` = ``amount``.
* apply    to open invoices of the customer in the note's currency, all or nothing: each
           allocation lowers the invoice's ``amount_due`` (status derived, ``invoice.updated``
           / ``invoice.paid``) and the note's ``amount_remaining``. No GL money moves
           (receivable to receivable): each allocation records a ``credit_note`` accounting
           change with no ledger lines (``ledger_lines: "none"``) for the sync to link the
           documents.
* unapply  marks allocations ``unapplied_at`` (never deleted), raises the invoices'
           ``amount_due`` and the note's ``amount_remaining`` back; a change with the negative
           amount.
* void     a draft simply; a posted note only while nothing is applied (its entry reversed,
           a ``credit_note`` change with the reversal's lines).

Another currency than the base: the note is booked at a rate (base per unit: ``exchange_rate``
given, else the rate of the invoice it is against, else the organization's table on the issue
date; none is a 400 naming ``exchange_rate`` when it is posted), its journal lines in base with
the note's currency and amounts beside them. Applied to an invoice booked at another rate, the
difference is a realised exchange gain or loss (Dr/Cr receivable, Cr/Dr the exchange account),
posted with the allocation and reversed when it is unapplied.

Locks: the invoices first (in id order, as payments and deductions take them), then the note,
so concurrent applies of one note never overspend and never deadlock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from arpilot import hooks
from arpilot.currencies import amount_check, currency_validate
from arpilot.errors import Conflict, NotFound, ValidationFailed
from arpilot.money import ZERO
from credits.models import CreditNote, CreditNoteAllocation, CreditNoteLine
from customers.models import Customer
from receivables import lock_objects as invoice_locks
from receivables.models import Account, Fund, Invoice, JournalEntry
from receivables.selectors import rate_on
from receivables.services import (
    Posting,
    default_account,
    default_fund,
    ledger_post,
    ledger_reverse,
    money_moving,
)
from receivables.services.adjustments import credit_account
from receivables.services.ledger import base_currency, currency_unit, exchange_account, to_base
from receivables.services.rates import RateError, rate_value
from webhooks.services import event_emit, event_wanted

SOURCE = "credit_note"
EXCHANGE_SOURCE = "credit_note_exchange"
NUMBER_PREFIX = "CN-"
CHANGE_TYPE = "credit_note"  # reconciliation's AccountingChange.ChangeType.CREDIT_NOTE
Status = CreditNote.Status


@dataclass
class LineInput:
    """A line as the caller asks for it: ``account``/``fund`` None take the defaults
    (4900 sales credits, the General Fund)."""

    amount: Decimal
    account: Account | None = None
    fund: Fund | None = None
    description: str = ""


@dataclass(frozen=True)
class AllocationInput:
    invoice_id: object
    amount: Decimal


# --- reads ------------------------------------------------------------------------------------


def credit_note_list(*, organization):
    """The organization's credit notes with what they render with (lines with their account
    and fund, allocations with their invoice's number): four queries for any page."""
    return (
        CreditNote.objects.for_org(organization)
        .select_related("customer", "invoice", "ar_account")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=CreditNoteLine.objects.select_related("account", "fund").order_by(
                    "position", "id"
                ),
            ),
            Prefetch(
                "allocations",
                queryset=CreditNoteAllocation.objects.select_related("invoice").order_by(
                    "created_at", "id"
                ),
            ),
        )
    )


def credit_note_get(*, organization, pk) -> CreditNote:
    """One note as ``credit_note_list`` reads it; 404 for another organization's (or a
    malformed id)."""
    pk = _uuid_or_none(pk)
    note = credit_note_list(organization=organization).filter(pk=pk).first() if pk else None
    if note is None:
        raise NotFound("Not found.")
    return note


def open_credit_notes(*, organization, customer) -> list[CreditNote]:
    """The customer's posted credit notes with something left to apply (customer credit
    lists them as a source): oldest first, with ``id``, ``number``, ``currency``,
    ``amount_remaining``, ``issue_date``."""
    customer_id = getattr(customer, "pk", customer)
    return list(
        CreditNote.objects.for_org(organization)
        .filter(customer_id=customer_id, status=Status.POSTED, amount_remaining__gt=0)
        .order_by("issue_date", "created_at", "id")
    )


def open_invoices_for(note: CreditNote) -> list[Invoice]:
    """The invoices the note may be applied to: open, of its customer and currency, owing
    something; oldest due first (the order the apply form prefills)."""
    return list(
        Invoice.objects.for_org(note.organization_id)
        .open()
        .filter(customer_id=note.customer_id, currency=note.currency, amount_due__gt=0)
        .order_by("due_date", "issue_date", "created_at", "id")
    )


def prefill_allocations(note: CreditNote, invoices: list[Invoice]) -> dict:
    """What the apply form suggests: the note's remainder spread over ``invoices`` in order
    (oldest first), each at most what it owes. ``{invoice id: amount}``."""
    left = note.amount_remaining
    suggested = {}
    for invoice in invoices:
        amount = min(left, invoice.amount_due)
        if amount <= 0:
            break
        suggested[invoice.pk] = amount
        left -= amount
    return suggested


# --- rendering (the API and webhooks) --------------------------------------------------------


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()


def render_credit_note(note: CreditNote) -> dict:
    """The note as the API and webhooks render it (money as Decimals: JSON numbers). Needs
    ``credit_note_list``'s joins (or reads them)."""
    return {
        "id": str(note.pk),
        "number": note.number,
        "customer_id": str(note.customer_id),
        "customer_name": note.customer.company_name,
        "currency": note.currency,
        "exchange_rate": None
        if note.exchange_rate is None
        else f"{note.exchange_rate.normalize():f}",
        "issue_date": note.issue_date.isoformat(),
        "invoice_id": None if note.invoice_id is None else str(note.invoice_id),
        "invoice_number": note.invoice.invoice_number if note.invoice_id else None,
        "memo": note.memo,
        "status": note.status,
        "amount": note.amount,
        "amount_applied": note.amount - note.amount_remaining,
        "amount_remaining": note.amount_remaining,
        "ar_account": {
            "id": str(note.ar_account.pk),
            "account_number": note.ar_account.account_number,
            "name": note.ar_account.name,
        },
        "journal_entry_id": None if note.journal_entry_id is None else str(note.journal_entry_id),
        "lines": [
            {
                "id": line.pk,
                "amount": line.amount,
                "description": line.description,
                "account": {
                    "id": str(line.account.pk),
                    "account_number": line.account.account_number,
                    "name": line.account.name,
                },
                "fund": {"id": line.fund.pk, "name": line.fund.name},
            }
            for line in note.lines.all()
        ],
        "allocations": [
            {
                "id": str(allocation.pk),
                "invoice_id": str(allocation.invoice_id),
                "invoice_number": allocation.invoice.invoice_number,
                "amount": allocation.amount,
                "created_at": _iso(allocation.created_at),
                "created_by": allocation.created_by,
                "unapplied_at": _iso(allocation.unapplied_at),
                "unapplied_by": allocation.unapplied_by or None,
            }
            for allocation in note.allocations.all()
        ],
        "posted_at": _iso(note.posted_at),
        "voided_at": _iso(note.voided_at),
        "created_at": _iso(note.created_at),
        "updated_at": _iso(note.updated_at),
    }


def _emit(note: CreditNote, event_type: str) -> None:
    if event_wanted(note.organization_id, event_type):
        rendered = credit_note_get(organization=note.organization_id, pk=note.pk)
        event_emit(
            organization_id=note.organization_id,
            event_type=event_type,
            data=render_credit_note(rendered),
        )


# --- helpers ----------------------------------------------------------------------------------


def _uuid_or_none(value):
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _note_for_update(organization, credit_note_id) -> CreditNote:
    pk = _uuid_or_none(credit_note_id)
    note = (
        CreditNote.objects.for_org(organization)
        .filter(pk=pk)
        .select_related("customer", "ar_account")
        .select_for_update(of=("self",))
        .first()
        if pk is not None
        else None
    )
    if note is None:
        raise NotFound("Not found.")
    return note


def _note_id_or_404(organization, credit_note_id):
    pk = _uuid_or_none(credit_note_id)
    if pk is None or not CreditNote.objects.for_org(organization).filter(pk=pk).exists():
        raise NotFound("Not found.")
    return pk


_NUMBERED = re.compile(rf"^{re.escape(NUMBER_PREFIX)}(\d+)$")


def _next_number(organization) -> str:
    """``CN-<n>``: one past the highest ``CN-<digits>`` of the organization."""
    taken = (
        CreditNote.objects.for_org(organization)
        .filter(number__startswith=NUMBER_PREFIX)
        .values_list("number", flat=True)
    )
    highest = max(
        (int(match.group(1)) for number in taken if (match := _NUMBERED.match(number))),
        default=0,
    )
    return f"{NUMBER_PREFIX}{highest + 1}"


def _number_taken(organization, number: str, exclude_pk=None) -> bool:
    qs = CreditNote.objects.for_org(organization).filter(number=number)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _number_conflict(number: str) -> Conflict:
    return Conflict(
        f"Credit note number {number!r} already exists.",
        fields={"number": ["A credit note with this number already exists."]},
    )


def _customer_of(organization, customer) -> Customer:
    if isinstance(customer, Customer):
        if customer.organization_id != organization.pk:
            raise ValidationFailed(
                "Unknown customer.", fields={"customer_id": ["Unknown customer."]}
            )
        return customer
    pk = _uuid_or_none(customer)
    found = Customer.objects.for_org(organization).filter(pk=pk).first() if pk else None
    if found is None:
        raise ValidationFailed("Unknown customer.", fields={"customer_id": ["Unknown customer."]})
    return found


def _against_invoice(organization, invoice_id, customer: Customer, currency: str):
    """The invoice a note is against: the organization's, of the same customer and currency
    (a 400 naming ``invoice_id`` otherwise)."""
    if invoice_id is None:
        return None
    pk = _uuid_or_none(getattr(invoice_id, "pk", invoice_id))
    invoice = Invoice.objects.for_org(organization).filter(pk=pk).first() if pk else None
    if invoice is None:
        raise ValidationFailed("Unknown invoice.", fields={"invoice_id": ["Unknown invoice."]})
    if invoice.customer_id != customer.pk:
        raise ValidationFailed(
            f"Invoice {invoice.invoice_number} is another customer's.",
            fields={"invoice_id": ["The invoice must be the credit note's customer's."]},
        )
    if invoice.currency != currency:
        raise ValidationFailed(
            f"Invoice {invoice.invoice_number} is in {invoice.currency}; the credit note is in "
            f"{currency}.",
            fields={"invoice_id": [f"The invoice must be in the note's currency ({currency})."]},
        )
    return invoice


def _resolved_lines(organization, lines, amount, currency: str, ar_account: Account):
    """The note's lines (defaults filled in) and total: the lines given (``amount``, if sent,
    their sum), or one line of ``amount`` to the sales-credits account. 400 naming the field
    for a missing, non-positive or over-precise amount, or a line on the receivable account."""
    org_id = organization.pk
    if lines:
        resolved = []
        for index, line in enumerate(lines):
            if line.account is not None and line.account.organization_id != org_id:
                raise ValidationFailed(
                    "Unknown account.", fields={f"lines.{index}.account": ["Unknown account."]}
                )
            if line.fund is not None and line.fund.organization_id != org_id:
                raise ValidationFailed(
                    "Unknown fund.", fields={f"lines.{index}.fund": ["Unknown fund."]}
                )
            resolved.append(line)
        total = sum((line.amount for line in resolved), ZERO)
        if amount is not None and amount != total:
            raise ValidationFailed(
                f"amount {amount} is not the sum of the lines ({total}).",
                fields={"amount": [f"Must equal the sum of the lines ({total})."]},
            )
    elif amount is None:
        raise ValidationFailed(
            "amount or lines are required.", fields={"amount": ["This field is required."]}
        )
    else:
        resolved, total = [LineInput(amount=amount)], amount
    for index, line in enumerate(resolved):
        amount_check(line.amount, currency, f"lines.{index}.amount" if lines else "amount")
        if line.amount <= 0:
            field = f"lines.{index}.amount" if lines else "amount"
            raise ValidationFailed(
                "Amounts must be greater than zero.", fields={field: ["Must be greater than zero."]}
            )
    needs_account = any(line.account is None for line in resolved)
    needs_fund = any(line.fund is None for line in resolved)
    account = credit_account(org_id) if needs_account else None
    fund = default_fund(org_id) if needs_fund else None
    for index, line in enumerate(resolved):
        line.account = line.account or account
        line.fund = line.fund or fund
        if line.account.pk == ar_account.pk:
            raise ValidationFailed(
                "A line cannot post to the receivable account.",
                fields={f"lines.{index}.account": ["This is the receivable account."]},
            )
    return resolved, total


def _save_lines(note: CreditNote, lines: list[LineInput]) -> list[CreditNoteLine]:
    note.lines.all().delete()
    return CreditNoteLine.objects.bulk_create(
        CreditNoteLine(
            organization_id=note.organization_id,
            credit_note=note,
            position=position,
            amount=line.amount,
            description=(line.description or "")[:500],
            account=line.account,
            fund=line.fund,
        )
        for position, line in enumerate(lines)
    )


def _ar_account(organization, ar_account: Account | None) -> Account:
    if ar_account is None:
        return default_account(organization, Account.Role.RECEIVABLE)
    if ar_account.organization_id != organization.pk or ar_account.type != Account.Type.ASSET:
        raise ValidationFailed(
            "The receivable account must be one of the organization's asset accounts.",
            fields={"ar_account": ["The receivable account must be an asset account."]},
        )
    return ar_account


def _money_moved(note: CreditNote, amount: Decimal, *, invoice=None, entry=None, extra=None):
    """Tell the accounting-change receivers (a pending ``credit_note`` change)."""
    payload = {
        "currency": note.currency,
        "credit_note_id": str(note.pk),
        "credit_note_number": note.number,
        **(extra or {}),
    }
    if entry is not None:
        payload["journal_entry_id"] = str(entry.pk)
    else:
        # Receivable to receivable: nothing posted, so no default lines either.
        payload["ledger_lines"] = "none"
    return hooks.dispatch(
        hooks.MoneyMoved(
            organization=note.organization,
            change_type=CHANGE_TYPE,
            amount=amount,
            invoice=invoice,
            customer=note.customer,
            payload=payload,
            entries=(entry,) if entry is not None else (),
        )
    )


def customer_deleting(event) -> None:
    """For ``hooks.CustomerDeleting`` (to be named in ``ARPILOT_HOOK_RECEIVERS``): a customer
    with a posted or voided credit note (its ledger entries stay) cannot be deleted (409);
    drafts go with the customer."""
    customer = event.customer
    held = (
        CreditNote.objects.for_org(customer.organization_id)
        .filter(customer=customer)
        .exclude(status=Status.DRAFT)
        .values_list("number", flat=True)
    )
    numbers = sorted(held[:6])
    if numbers:
        shown = ", ".join(numbers[:5]) + (" …" if len(numbers) > 5 else "")
        raise Conflict(
            f"Customer {customer.company_name} has credit note(s) {shown} in the ledger; a "
            "customer with credit notes cannot be deleted."
        )


# --- create, change, post, void ---------------------------------------------------------------


@transaction.atomic
def credit_note_create(
    *,
    organization,
    customer,
    number: str | None = None,
    currency: str | None = None,
    issue_date: date | None = None,
    invoice_id=None,
    memo: str = "",
    lines: list[LineInput] | None = None,
    amount: Decimal | None = None,
    ar_account: Account | None = None,
    exchange_rate: Decimal | None = None,
    status: str = Status.DRAFT,
    change_extra: dict | None = None,
) -> CreditNote:
    """Create a credit note (a draft; ``status="posted"`` posts it at once). ``customer``: a
    Customer or its id; 400 naming the field for an unknown customer or invoice, an invoice
    of another customer or currency, a bad currency or amount; 409 for a taken ``number``.
    ``change_extra``: more for the posting's accounting change payload (a deduction's id)."""
    if status not in (Status.DRAFT, Status.POSTED):
        raise ValidationFailed(
            "A credit note is created as a draft or posted.",
            fields={"status": ["One of draft, posted."]},
        )
    customer = _customer_of(organization, customer)
    currency = currency_validate(currency) if currency else (organization.currency or "USD")
    currency = currency.upper()
    invoice = _against_invoice(organization, invoice_id, customer, currency)
    ar_account = _ar_account(organization, ar_account)
    lines, total = _resolved_lines(organization, lines, amount, currency, ar_account)
    if number is not None:
        number = number.strip()
        if not number:
            raise ValidationFailed(
                "number may not be blank.", fields={"number": ["May not be blank."]}
            )
        if _number_taken(organization, number):
            raise _number_conflict(number)
    note = CreditNote(
        organization=organization,
        customer=customer,
        currency=currency,
        issue_date=issue_date or timezone.localdate(),
        invoice=invoice,
        memo=memo,
        status=Status.DRAFT,
        amount=total,
        amount_remaining=ZERO,
        ar_account=ar_account,
        exchange_rate=_rate_given(organization, currency, exchange_rate),
    )
    _insert(note, number)
    _save_lines(note, lines)
    _emit(note, "credit_note.created")
    if status == Status.POSTED:
        _post(note, change_extra=change_extra)
    return note


def _insert(note: CreditNote, number: str | None) -> None:
    """Insert with ``number``, or the next ``CN-<n>`` (again, if a concurrent create took it)."""
    for _attempt in range(5):
        note.number = number or _next_number(note.organization_id)
        try:
            with transaction.atomic():
                note.save(force_insert=True)
            return
        except IntegrityError:
            if number or not _number_taken(note.organization_id, note.number):
                raise _number_conflict(note.number) from None
    raise _number_conflict(note.number)


def _rate_given(organization, currency: str, exchange_rate) -> Decimal | None:
    """A rate sent with the note: positive, at most 10 places (400 naming ``exchange_rate``);
    in the base currency only 1 (kept as null)."""
    if exchange_rate is None:
        return None
    try:
        rate = rate_value(exchange_rate)
    except RateError as error:
        raise ValidationFailed(error.reason, fields={"exchange_rate": [error.reason]}) from None
    if currency == base_currency(organization):
        if rate != 1:
            message = f"The note is in the base currency ({currency}): its rate is always 1."
            raise ValidationFailed(message, fields={"exchange_rate": [message]})
        return None
    return rate


def _booked_rate(note: CreditNote) -> Decimal | None:
    """The rate the note is posted at (see the module); None in the base currency."""
    organization = note.organization
    base = base_currency(organization)
    if note.currency == base:
        return None
    if note.exchange_rate is not None:
        return note.exchange_rate
    if note.invoice_id is not None and note.invoice.exchange_rate is not None:
        return note.invoice.exchange_rate
    rate = rate_on(organization, note.currency, note.issue_date)
    if rate is None:
        message = (
            f"No {note.currency} rate on or before {note.issue_date}: send exchange_rate "
            f"({base} per {note.currency}) or record a rate (POST /api/v1/exchange-rates)."
        )
        raise ValidationFailed(message, fields={"exchange_rate": [message]})
    return rate


def _posting_lines(note: CreditNote, lines: list[CreditNoteLine], rate) -> list[Posting]:
    """Dr each line's account / Cr receivable per fund, in base at ``rate`` (each line
    converted, the rounding difference on the largest, so the receivable is exactly the
    note's amount at the rate), the note's currency and amounts beside them."""
    foreign = note.currency if rate is not None else ""
    unit = currency_unit(base_currency(note.organization))
    converted = [to_base(line.amount, rate, unit) for line in lines]
    difference = to_base(note.amount, rate, unit) - sum(converted, ZERO)
    if difference and converted:
        largest = max(range(len(lines)), key=lambda index: (lines[index].amount, -index))
        converted[largest] += difference
    receivable: dict[int, Decimal] = {}
    receivable_foreign: dict[int, Decimal] = {}
    funds: dict[int, Fund] = {}
    postings = []
    for line, base in zip(lines, converted, strict=True):
        receivable[line.fund.pk] = receivable.get(line.fund.pk, ZERO) + base
        receivable_foreign[line.fund.pk] = receivable_foreign.get(line.fund.pk, ZERO) + line.amount
        funds[line.fund.pk] = line.fund
        postings.append(
            Posting(
                account=line.account,
                fund=line.fund,
                debit=base,
                currency=foreign,
                amount_currency=line.amount if foreign else None,
            )
        )
    postings += [
        Posting(
            account=note.ar_account,
            fund=funds[fund_id],
            credit=amount,
            currency=foreign,
            amount_currency=-receivable_foreign[fund_id] if foreign else None,
        )
        for fund_id, amount in receivable.items()
    ]
    return postings


def _post(note: CreditNote, *, change_extra: dict | None = None) -> CreditNote:
    """Post a draft (locked by the caller): the entry, the change, ``credit_note.posted``.
    What the money-event receivers recorded (the pending accounting change) is kept on
    ``note.posting_recorded`` (not stored)."""
    lines = list(note.lines.select_related("account", "fund").order_by("position", "id"))
    rate = _booked_rate(note)
    postings = _posting_lines(note, lines, rate)
    memo = f"Credit note {note.number} posted for {note.customer.company_name}"
    entry = ledger_post(
        organization=note.organization_id,
        date=note.issue_date,
        kind=JournalEntry.Kind.ISSUE,
        lines=postings,
        memo=memo,
        source=SOURCE,
    )
    note.status = Status.POSTED
    note.exchange_rate = rate
    note.amount_remaining = note.amount
    note.journal_entry = entry
    note.posted_at = timezone.now()
    note.save()
    note.posting_recorded = tuple(
        _money_moved(
            note,
            note.amount,
            invoice=note.invoice,
            entry=entry,
            extra={"memo": memo, "credit_note_action": "posted", **(change_extra or {})},
        )
    )
    _emit(note, "credit_note.posted")
    return note


def _void(note: CreditNote) -> CreditNote:
    """Void a draft, or a posted note with nothing applied (its entry reversed)."""
    if note.status == Status.VOID:
        return note
    if note.status == Status.POSTED:
        if note.amount_remaining != note.amount:
            raise Conflict(
                f"Credit note {note.number} has {note.amount - note.amount_remaining} applied; "
                "unapply it before voiding the note."
            )
        memo = f"Credit note {note.number} voided"
        reversal = ledger_reverse(
            entry=note.journal_entry, date=timezone.localdate(), memo=memo, source=SOURCE
        )
        note.void_entry = reversal
        note.amount_remaining = ZERO
        _money_moved(
            note,
            -note.amount,
            invoice=note.invoice,
            entry=reversal,
            extra={"memo": memo, "credit_note_action": "voided"},
        )
    note.status = Status.VOID
    note.voided_at = timezone.now()
    note.save()
    _emit(note, "credit_note.voided")
    return note


@transaction.atomic
def credit_note_post(*, organization, credit_note_id) -> CreditNote:
    """Post a draft (a posted one is a 409, as is a void one)."""
    note = _note_for_update(organization, credit_note_id)
    if note.status != Status.DRAFT:
        raise Conflict(f"Credit note {note.number} is {note.status}; only a draft is posted.")
    return _post(note)


@transaction.atomic
def credit_note_void(*, organization, credit_note_id) -> CreditNote:
    """Void a draft or a posted note with nothing applied (409 otherwise)."""
    return _void(_note_for_update(organization, credit_note_id))


DRAFT_FIELDS = (
    "number",
    "customer",
    "currency",
    "issue_date",
    "invoice_id",
    "memo",
    "ar_account",
    "exchange_rate",
)


@transaction.atomic
def credit_note_update(
    *,
    organization,
    credit_note_id,
    changes: dict,
    lines: list[LineInput] | None = None,
) -> CreditNote:
    """Change a note. A draft: ``number``, ``customer``, ``currency``, ``issue_date``,
    ``invoice_id``, ``memo``, ``ar_account``, ``amount`` or ``lines``; a posted note: only
    ``memo`` (anything else is a 409); a void one: nothing but ``memo``. ``status``:
    ``posted`` posts a draft, ``void`` voids (see ``credit_note_void``)."""
    note = _note_for_update(organization, credit_note_id)
    changes = dict(changes)
    requested = changes.pop("status", None)
    if requested not in (None, *Status.values):
        raise ValidationFailed(
            f"Unknown status {requested!r}.", fields={"status": ["One of draft, posted, void."]}
        )
    structural = sorted(
        name for name in ({*DRAFT_FIELDS, "amount"} - {"memo"}) if name in changes
    ) + (["lines"] if lines is not None else [])
    if structural and note.status != Status.DRAFT:
        raise Conflict(
            f"Credit note {note.number} is {note.status}; only its memo can change "
            f"(not {', '.join(structural)})."
        )
    if requested == Status.DRAFT and note.status != Status.DRAFT:
        raise ValidationFailed(
            "A posted or void credit note cannot go back to draft.",
            fields={"status": [f"The note is {note.status}."]},
        )
    if requested == Status.POSTED and note.status == Status.VOID:
        raise Conflict(f"Credit note {note.number} is void.")
    if "memo" in changes:
        note.memo = changes["memo"]
    if note.status == Status.DRAFT and structural:
        _change_draft(organization, note, changes, lines)
    note.save()
    if requested == Status.POSTED and note.status == Status.DRAFT:
        return _post(note)
    if requested == Status.VOID:
        return _void(note)
    return note


def _change_draft(organization, note: CreditNote, changes: dict, lines) -> None:
    if "number" in changes:
        number = (changes["number"] or "").strip()
        if not number:
            raise ValidationFailed(
                "number may not be blank.", fields={"number": ["May not be blank."]}
            )
        if number != note.number and _number_taken(organization, number, note.pk):
            raise _number_conflict(number)
        note.number = number
    if "customer" in changes:
        note.customer = _customer_of(organization, changes["customer"])
    if "currency" in changes:
        note.currency = currency_validate(changes["currency"])
    if "issue_date" in changes:
        note.issue_date = changes["issue_date"]
    if "ar_account" in changes:
        note.ar_account = _ar_account(organization, changes["ar_account"])
    invoice_id = changes.get("invoice_id", note.invoice_id)
    note.invoice = _against_invoice(organization, invoice_id, note.customer, note.currency)
    if "exchange_rate" in changes or "currency" in changes:
        rate = changes.get("exchange_rate", note.exchange_rate)
        note.exchange_rate = _rate_given(organization, note.currency, rate)
    amount = changes.get("amount")
    if lines is None and (amount is not None or "currency" in changes or "ar_account" in changes):
        current = list(note.lines.select_related("account", "fund"))
        if amount is not None and amount != note.amount and len(current) != 1:
            raise ValidationFailed(
                "This credit note has several lines: send lines to change its amount.",
                fields={"amount": ["Must equal the sum of the lines; send lines instead."]},
            )
        lines = [
            LineInput(
                amount=amount if amount is not None and len(current) == 1 else line.amount,
                account=line.account,
                fund=line.fund,
                description=line.description,
            )
            for line in current
        ]
        amount = None
    if lines is not None:
        lines, total = _resolved_lines(organization, lines, amount, note.currency, note.ar_account)
        note.amount = total
        _save_lines(note, lines)
    try:
        with transaction.atomic():
            note.save()
    except IntegrityError:
        raise _number_conflict(note.number) from None


# --- apply and unapply ------------------------------------------------------------------------


def _allocation_inputs(allocations) -> list[AllocationInput]:
    items = [
        item
        if isinstance(item, AllocationInput)
        else AllocationInput(invoice_id=item["invoice_id"], amount=item["amount"])
        for item in allocations or []
    ]
    if not items:
        raise ValidationFailed(
            "At least one allocation is required.",
            fields={"allocations": ["At least one allocation."]},
        )
    return items


def _check_allocation(note: CreditNote, index: int, item: AllocationInput, invoice) -> None:
    field = f"allocations.{index}"
    if invoice is None:
        raise ValidationFailed(
            "Unknown invoice.", fields={f"{field}.invoice_id": ["Unknown invoice."]}
        )
    if invoice.customer_id != note.customer_id:
        raise ValidationFailed(
            f"Invoice {invoice.invoice_number} is another customer's.",
            fields={f"{field}.invoice_id": ["The invoice must be the credit note's customer's."]},
        )
    if invoice.currency != note.currency:
        raise ValidationFailed(
            f"Invoice {invoice.invoice_number} is in {invoice.currency}; the credit note is in "
            f"{note.currency}.",
            fields={
                f"{field}.invoice_id": [
                    f"The invoice must be in the note's currency ({note.currency})."
                ]
            },
        )
    if invoice.status not in Invoice.OPEN_STATUSES:
        raise Conflict(
            f"Invoice {invoice.invoice_number} is {invoice.status}; a credit note is applied "
            "only to open invoices.",
            fields={f"{field}.invoice_id": [f"The invoice is {invoice.status}."]},
        )
    amount_check(item.amount, note.currency, f"{field}.amount")
    if item.amount <= 0:
        raise ValidationFailed(
            "The amount must be greater than zero.",
            fields={f"{field}.amount": ["Must be greater than zero."]},
        )
    if item.amount > invoice.amount_due:
        raise ValidationFailed(
            f"{item.amount} exceeds invoice {invoice.invoice_number}'s open balance of "
            f"{invoice.amount_due}.",
            fields={
                f"{field}.amount": [f"Exceeds the invoice's open balance ({invoice.amount_due})."]
            },
        )


@transaction.atomic
def credit_note_apply(
    *, organization, credit_note_id, allocations, created_by: str = ""
) -> CreditNote:
    """Apply a posted note to open invoices of its customer and currency, all or nothing.

    ``allocations``: ``[{"invoice_id", "amount"}]`` (or ``AllocationInput``). Each amount
    above zero, in the currency's places, at most the invoice's ``amount_due``; together at
    most the note's ``amount_remaining`` (400 naming ``allocations.<i>.<field>``); an
    invoice that is not open is a 409; a draft or void note is a 409."""
    items = _allocation_inputs(allocations)
    note_pk = _note_id_or_404(organization, credit_note_id)
    ids = [_uuid_or_none(item.invoice_id) for item in items]
    invoices = {
        invoice.pk: invoice
        for invoice in invoice_locks.invoices_for_update(
            organization, sorted({pk for pk in ids if pk is not None})
        )
    }
    note = _note_for_update(organization, note_pk)
    if note.status != Status.POSTED:
        raise Conflict(f"Credit note {note.number} is {note.status}; only a posted one applies.")
    seen = set()
    for index, (item, pk) in enumerate(zip(items, ids, strict=True)):
        if pk in seen:
            raise ValidationFailed(
                "Each invoice once per request.",
                fields={f"allocations.{index}.invoice_id": ["This invoice is already listed."]},
            )
        seen.add(pk)
        _check_allocation(note, index, item, invoices.get(pk))
    total = sum((item.amount for item in items), ZERO)
    if total > note.amount_remaining:
        raise ValidationFailed(
            f"The allocations total {total}, more than the {note.amount_remaining} left on "
            f"credit note {note.number}.",
            fields={
                "allocations": [f"Exceeds the note's remaining amount ({note.amount_remaining})."]
            },
        )
    for item, pk in zip(items, ids, strict=True):
        _apply_one(note, invoices[pk], item.amount, created_by)
        # One allocation at a time: each one's exchange difference is figured from the
        # note's remainder before and after it.
        note.amount_remaining -= item.amount
    note.save(update_fields=["amount_remaining", "updated_at"])
    _emit(note, "credit_note.applied")
    return note


def _apply_one(note: CreditNote, invoice: Invoice, amount: Decimal, created_by: str) -> None:
    owed_before = invoice.amount_due
    with money_moving(invoice, locked=True):
        invoice.amount_due -= amount
    exchange = _exchange_difference(note, invoice, amount, owed_before)
    allocation = CreditNoteAllocation.objects.create(
        organization_id=note.organization_id,
        credit_note=note,
        invoice=invoice,
        amount=amount,
        exchange_entry=exchange,
        created_by=(created_by or "")[:150],
    )
    _money_moved(
        note,
        amount,
        invoice=invoice,
        entry=exchange,
        extra={
            "memo": f"Credit note {note.number} applied to invoice {invoice.invoice_number}",
            "credit_note_action": "applied",
            "credit_note_allocation_id": str(allocation.pk),
        },
    )


def _exchange_difference(note: CreditNote, invoice: Invoice, amount: Decimal, owed_before):
    """In another currency than the base: the receivable relieved on the invoice (its
    balance's value before less after, at its rate) less what the note held of it (its
    remainder's value before less after, at its rate) is a realised loss (Dr exchange / Cr
    receivable) or gain — or, at equal rates, the rounding of the two balances; the entry, or
    None. ``note.amount_remaining`` is still the remainder before this allocation."""
    if note.exchange_rate is None and invoice.exchange_rate is None:
        return None
    unit = currency_unit(base_currency(note.organization))

    def relieved(before: Decimal, rate) -> Decimal:
        return to_base(before, rate, unit) - to_base(before - amount, rate, unit)

    difference = relieved(owed_before, invoice.exchange_rate) - relieved(
        note.amount_remaining, note.exchange_rate
    )
    memo = f"Exchange difference: credit note {note.number} applied to invoice "
    return _post_exchange(note, invoice, difference, memo + invoice.invoice_number)


def _unapply_difference(note: CreditNote, invoice: Invoice, amount: Decimal, owed_before):
    """The mirror of ``_exchange_difference`` for taking ``amount`` back: the balances'
    values after less before (not the apply's entry reversed, which after other allocations
    came and went could leave a cent behind). ``note.amount_remaining``: before."""
    if note.exchange_rate is None and invoice.exchange_rate is None:
        return None
    unit = currency_unit(base_currency(note.organization))

    def added(before: Decimal, rate) -> Decimal:
        return to_base(before + amount, rate, unit) - to_base(before, rate, unit)

    difference = added(note.amount_remaining, note.exchange_rate) - added(
        owed_before, invoice.exchange_rate
    )
    memo = f"Exchange difference: credit note {note.number} taken back from invoice "
    return _post_exchange(note, invoice, difference, memo + invoice.invoice_number)


def _post_exchange(note: CreditNote, invoice: Invoice, difference: Decimal, memo: str):
    """``difference`` > 0: Cr receivable / Dr exchange (a loss); < 0 the other way."""
    if difference == 0:
        return None
    fund = default_fund(note.organization_id)
    size = abs(difference)
    receivable = Posting(
        account=invoice.ar_account,
        fund=fund,
        debit=ZERO if difference > 0 else size,
        credit=size if difference > 0 else ZERO,
        currency=note.currency,
        amount_currency=ZERO,
    )
    exchange = Posting(
        account=exchange_account(note.organization_id),
        fund=fund,
        debit=size if difference > 0 else ZERO,
        credit=ZERO if difference > 0 else size,
    )
    return ledger_post(
        organization=note.organization_id,
        date=timezone.localdate(),
        kind=JournalEntry.Kind.ISSUE,
        lines=[receivable, exchange],
        memo=memo,
        source=EXCHANGE_SOURCE,
    )


@transaction.atomic
def credit_note_unapply(
    *, organization, credit_note_id, allocation_ids, unapplied_by: str = ""
) -> CreditNote:
    """Take back applied allocations of the note, all or nothing: each is marked
    ``unapplied_at`` (kept), its invoice owes the amount again, the note has it left again.
    An id that is not an allocation of this note is a 400 naming ``allocation_ids``; one
    already unapplied is a 409."""
    note_pk = _note_id_or_404(organization, credit_note_id)
    wanted = [_uuid_or_none(value) for value in allocation_ids or []]
    if not wanted:
        raise ValidationFailed(
            "At least one allocation id is required.",
            fields={"allocation_ids": ["At least one allocation id."]},
        )
    if None in wanted or len(set(wanted)) != len(wanted):
        raise ValidationFailed(
            "Allocation ids must be distinct UUIDs.",
            fields={"allocation_ids": ["Distinct allocation UUIDs."]},
        )
    invoice_ids = (
        CreditNoteAllocation.objects.for_org(organization)
        .filter(credit_note_id=note_pk, pk__in=wanted)
        .values_list("invoice_id", flat=True)
    )
    invoices = {
        invoice.pk: invoice
        for invoice in invoice_locks.invoices_for_update(organization, sorted(set(invoice_ids)))
    }
    note = _note_for_update(organization, note_pk)
    found = {
        allocation.pk: allocation
        for allocation in CreditNoteAllocation.objects.for_org(organization).filter(
            credit_note=note, pk__in=wanted
        )
    }
    unknown = [str(pk) for pk in wanted if pk not in found]
    if unknown:
        raise ValidationFailed(
            f"Not an allocation of credit note {note.number}: {unknown[0]}.",
            fields={"allocation_ids": [f"Not an allocation of this credit note: {unknown[0]}."]},
        )
    done = [str(pk) for pk in wanted if found[pk].unapplied_at is not None]
    if done:
        raise Conflict(
            f"Allocation {done[0]} was already unapplied.",
            fields={"allocation_ids": [f"Already unapplied: {done[0]}."]},
        )
    now = timezone.now()
    for pk in wanted:
        allocation = found[pk]
        invoice = invoices[allocation.invoice_id]
        owed_before = invoice.amount_due
        with money_moving(invoice, locked=True):
            invoice.amount_due += allocation.amount
        allocation.unapplied_at = now
        allocation.unapplied_by = (unapplied_by or "")[:150]
        allocation.save(update_fields=["unapplied_at", "unapplied_by", "updated_at"])
        reversal = _unapply_difference(note, invoice, allocation.amount, owed_before)
        note.amount_remaining += allocation.amount
        _money_moved(
            note,
            -allocation.amount,
            invoice=invoice,
            entry=reversal,
            extra={
                "memo": f"Credit note {note.number} unapplied from invoice "
                f"{invoice.invoice_number}",
                "credit_note_action": "unapplied",
                "credit_note_allocation_id": str(allocation.pk),
            },
        )
    note.save(update_fields=["amount_remaining", "updated_at"])
    _emit(note, "credit_note.unapplied")
    return note
