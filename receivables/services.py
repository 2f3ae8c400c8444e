"""Invoices, the chart of accounts, funds and the double-entry AR ledger.

Every money event posts one balanced journal entry (and balanced per fund):

* issue          Dr receivable account (per fund of the lines) / Cr each line's account
* payment        Dr cash / Cr receivable, split across funds in proportion to what each
                 fund still has open on the invoice
* *_reversal     the mirror image of the entry it reverses (``reverses``)

Entries are never changed or deleted: a change of lines or amount, a void and the deletion
of an invoice that never moved money all post a reversal of the current issue entry.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from arpilot import hooks
from arpilot.db import conflict, unique_or_conflict
from arpilot.errors import Conflict, NotFound, ValidationFailed
from customers.models import Customer
from receivables import lock_objects
from receivables.models import (
    ZERO,
    Account,
    AplosContact,
    Fund,
    Invoice,
    InvoiceLine,
    InvoiceOfflinePayment,
    JournalEntry,
    JournalLine,
    ReceivablesCounter,
)
from receivables.rendering import event_payload
from webhooks.services import event_emit

CENT = Decimal("0.01")
Status = Invoice.Status

DEFAULT_ACCOUNTS = (
    (1000, "Cash", Account.Type.ASSET, Account.Role.CASH),
    (1100, "Accounts Receivable", Account.Type.ASSET, Account.Role.RECEIVABLE),
    (4000, "Revenue", Account.Type.INCOME, Account.Role.REVENUE),
)
DEFAULT_FUND_NAME = "General Fund"


# --- organization setup, accounts, funds ------------------------------------------------


@transaction.atomic
def organization_ledger_setup(*, organization) -> None:
    """Seed a new organization's chart of accounts, its General Fund and id counter."""
    for number, name, type_, role in DEFAULT_ACCOUNTS:
        Account.objects.get_or_create(
            organization=organization,
            account_number=number,
            defaults={"name": name, "type": type_, "role": role},
        )
    if not Fund.objects.for_org(organization).filter(is_default=True).exists():
        Fund.objects.create(organization=organization, name=DEFAULT_FUND_NAME, is_default=True)
    ReceivablesCounter.objects.get_or_create(organization=organization)


def default_account(organization, role: str) -> Account:
    """The organization's account for ``role``; seeded on demand for older organizations."""
    account = Account.objects.for_org(organization).filter(role=role).first()
    if account is None:
        organization_ledger_setup(organization=organization)
        account = Account.objects.for_org(organization).get(role=role)
    return account


def default_fund(organization) -> Fund:
    fund = Fund.objects.for_org(organization).filter(is_default=True).first()
    if fund is None:
        organization_ledger_setup(organization=organization)
        fund = Fund.objects.for_org(organization).get(is_default=True)
    return fund


def _account_number_holder(organization, number: int, exclude_pk=None):
    qs = Account.objects.for_org(organization).filter(account_number=number)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.values_list("pk", flat=True).first()


def _account_number_conflict(organization, number: int, exclude_pk=None):
    """The 409 for a taken account number (``existing_id`` names the holder), or None."""
    existing = _account_number_holder(organization, number, exclude_pk)
    if existing is None:
        return None
    return conflict(
        f"Account number {number} already exists.",
        field="account_number",
        existing_id=existing,
        detail="An account with this number already exists.",
    )


@transaction.atomic
def account_create(*, organization, account_number: int, name: str, type: str) -> Account:
    clash = _account_number_conflict(organization, account_number)
    if clash is not None:
        raise clash
    with unique_or_conflict(
        lambda: _account_number_holder(organization, account_number),
        f"Account number {account_number} already exists.",
        field="account_number",
        detail="An account with this number already exists.",
    ):
        return Account.objects.create(
            organization=organization, account_number=account_number, name=name, type=type
        )


@transaction.atomic
def account_update(*, account: Account, **changes) -> Account:
    number = changes.get("account_number")
    if number is not None and number != account.account_number:
        clash = _account_number_conflict(account.organization_id, number, exclude_pk=account.pk)
        if clash is not None:
            raise clash
    new_type = changes.get("type")
    if new_type and new_type != account.type and account.role is not None:
        raise ValidationFailed(
            f"The type of the default {account.get_role_display().lower()} account is fixed.",
            fields={"type": ["Cannot change the type of a default account."]},
        )
    for name, value in changes.items():
        setattr(account, name, value)
    with unique_or_conflict(
        lambda: _account_number_holder(
            account.organization_id, account.account_number, exclude_pk=account.pk
        ),
        f"Account number {account.account_number} already exists.",
        field="account_number",
        detail="An account with this number already exists.",
    ):
        account.save()
    return account


def _fund_name_holder(organization, name: str, exclude_pk=None):
    """The id of the fund named ``name`` (case-insensitively), or None."""
    qs = Fund.objects.for_org(organization).filter(name__iexact=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.values_list("pk", flat=True).first()


def _fund_name_guard(organization, name: str, exclude_pk=None):
    """Check first (a friendly 409), then the write inside: the Lower(name) constraint turns a
    concurrent duplicate into the same 409."""
    message = f"A fund named {name!r} already exists."
    detail = "A fund with this name already exists."
    existing = _fund_name_holder(organization, name, exclude_pk)
    if existing is not None:
        raise conflict(message, field="name", existing_id=existing, detail=detail)
    return unique_or_conflict(
        lambda: _fund_name_holder(organization, name, exclude_pk),
        message,
        field="name",
        detail=detail,
    )


@transaction.atomic
def fund_create(*, organization, name: str) -> Fund:
    with _fund_name_guard(organization, name):
        return Fund.objects.create(organization=organization, name=name)


@transaction.atomic
def fund_update(*, fund: Fund, name: str | None = None) -> Fund:
    if name is not None and name != fund.name:
        with _fund_name_guard(fund.organization_id, name, exclude_pk=fund.pk):
            fund.name = name
            fund.save(update_fields=["name", "updated_at"])
    return fund


# --- the ledger ------------------------------------------------------------------------


@dataclass(frozen=True)
class Posting:
    account: Account
    fund: Fund
    debit: Decimal = ZERO
    credit: Decimal = ZERO


@transaction.atomic
def ledger_post(
    *,
    organization,
    date: date,
    kind: str,
    lines: list[Posting],
    memo: str = "",
    source: str = "",
    invoice: Invoice | None = None,
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Write one journal entry; it must balance in total and within every fund."""
    org_id = getattr(organization, "pk", organization)
    if len(lines) < 2:
        raise ValueError("A journal entry needs at least two lines.")
    per_fund: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        debit, credit = line.debit, line.credit
        if debit.quantize(CENT) != debit or credit.quantize(CENT) != credit:
            raise ValueError("Ledger amounts have two decimal places.")
        if not ((debit > 0 and credit == 0) or (credit > 0 and debit == 0)):
            raise ValueError("Each ledger line is a positive debit or a positive credit.")
        if line.account.organization_id != org_id or line.fund.organization_id != org_id:
            raise ValueError("Ledger lines must use the entry's organization's accounts.")
        per_fund[line.fund.pk] += debit - credit
    unbalanced = {fund: amount for fund, amount in per_fund.items() if amount != 0}
    if unbalanced:
        raise ValueError(f"Journal entry does not balance per fund: {unbalanced}")
    entry = JournalEntry.objects.create(
        organization_id=org_id,
        date=date,
        kind=kind,
        memo=memo[:500],
        source=source,
        invoice=invoice,
        reverses=reverses,
    )
    JournalLine.objects.bulk_create(
        JournalLine(
            organization_id=org_id,
            entry=entry,
            account=line.account,
            fund=line.fund,
            debit=line.debit,
            credit=line.credit,
        )
        for line in lines
    )
    return entry


REVERSAL_KIND = {
    JournalEntry.Kind.ISSUE: JournalEntry.Kind.ISSUE_REVERSAL,
    JournalEntry.Kind.PAYMENT: JournalEntry.Kind.PAYMENT_REVERSAL,
}


@transaction.atomic
def ledger_reverse(
    *, entry: JournalEntry, date: date, memo: str = "", source: str = ""
) -> JournalEntry:
    """Post the mirror image of ``entry`` (each entry is reversed at most once)."""
    if entry.kind not in REVERSAL_KIND:
        raise ValueError(f"A {entry.kind} entry cannot be reversed.")
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise Conflict("This ledger entry has already been reversed.")
    lines = [
        Posting(account=line.account, fund=line.fund, debit=line.credit, credit=line.debit)
        for line in entry.lines.select_related("account", "fund")
    ]
    return ledger_post(
        organization=entry.organization_id,
        date=date,
        kind=REVERSAL_KIND[entry.kind],
        lines=lines,
        memo=memo or f"Reversal of: {entry.memo}",
        source=source,
        invoice=entry.invoice,
        reverses=entry,
    )


def _allocate(amount: Decimal, weights: dict) -> dict:
    """Split ``amount`` in proportion to positive ``weights`` to the cent (largest remainder)."""
    positive = {key: weight for key, weight in weights.items() if weight > 0}
    total = sum(positive.values(), ZERO)
    if total <= 0:
        raise ValueError("Nothing to allocate against.")
    cents = int(amount / CENT)
    shares = {}
    remainders = []
    for key, weight in positive.items():
        exact = Decimal(cents) * weight / total
        whole = int(exact)
        shares[key] = whole
        remainders.append((exact - whole, str(key), key))
    left = cents - sum(shares.values())
    for _, _, key in sorted(remainders, reverse=True)[:left]:
        shares[key] += 1
    return {key: Decimal(share) * CENT for key, share in shares.items() if share}


# --- invoices: helpers --------------------------------------------------------------------


@dataclass
class LineSpec:
    """A line as the caller asks for it (accounts and funds already resolved)."""

    amount: Decimal
    account: Account
    fund: Fund
    note: str = ""
    id: int | None = None


@dataclass
class _Changes:
    events: list[str] = field(default_factory=list)


def customer_today(customer: Customer) -> date:
    """Today's date where the customer is (its IANA timezone; UTC if that is invalid)."""
    try:
        tz = ZoneInfo(customer.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return timezone.now().astimezone(tz).date()


def derive_status(invoice: Invoice, today: date | None = None) -> str:
    """The status the money and the dates give (draft and void are kept as they are)."""
    if invoice.status in (Status.DRAFT, Status.VOID):
        return invoice.status
    if invoice.amount_due == 0:
        return Status.PAID
    if invoice.due_date < (today or customer_today(invoice.customer)):
        return Status.OVERDUE
    if invoice.amount_due < invoice.amount:
        return Status.PARTIAL
    return Status.PENDING


def _next_aplos_id(organization) -> int:
    org_id = getattr(organization, "pk", organization)
    updated = ReceivablesCounter.objects.filter(pk=org_id).update(
        last_invoice_aplos_id=F("last_invoice_aplos_id") + 1
    )
    if not updated:
        ReceivablesCounter.objects.get_or_create(organization_id=org_id)
        ReceivablesCounter.objects.filter(pk=org_id).update(
            last_invoice_aplos_id=F("last_invoice_aplos_id") + 1
        )
    return ReceivablesCounter.objects.values_list("last_invoice_aplos_id", flat=True).get(pk=org_id)


def aplos_contact_for(customer: Customer, *, type: str | None = None) -> AplosContact:
    """The customer's Aplos-face contact id (created on first use)."""
    contact, created = AplosContact.objects.get_or_create(
        customer=customer,
        defaults={
            "organization_id": customer.organization_id,
            "type": type or AplosContact.Type.COMPANY,
        },
    )
    if type and not created and contact.type != type:
        contact.type = type
        contact.save(update_fields=["type"])
    return contact


def _check_number_free(organization, invoice_number: str, exclude_pk=None) -> None:
    qs = Invoice.objects.for_org(organization).filter(invoice_number=invoice_number)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict(
            f"Invoice number {invoice_number!r} already exists.",
            fields={"invoice_number": ["An invoice with this number already exists."]},
        )


def _lines_total(lines: list[LineSpec]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def _validate_lines(lines: list[LineSpec], ar_account: Account, field_name: str) -> None:
    if not lines:
        raise ValidationFailed(
            "An invoice needs at least one line.", fields={field_name: ["At least one line."]}
        )
    for index, line in enumerate(lines):
        if line.amount <= 0:
            raise ValidationFailed(
                "Line amounts must be greater than zero.",
                fields={f"{field_name}.{index}.amount": ["Must be greater than zero."]},
            )
        if line.account.pk == ar_account.pk:
            raise ValidationFailed(
                "A line cannot post to the invoice's receivable account.",
                fields={f"{field_name}.{index}.account": ["This is the receivable account."]},
            )


def _validate_ar_account(account: Account, field_name: str = "ar_account") -> None:
    if account.type != Account.Type.ASSET:
        raise ValidationFailed(
            f"Account {account.account_number} is not an asset account.",
            fields={field_name: ["The receivable account must be an asset account."]},
        )


def _issue_postings(invoice: Invoice, lines: list[InvoiceLine]) -> list[Posting]:
    receivable: dict[int, Decimal] = defaultdict(Decimal)
    funds: dict[int, Fund] = {}
    postings = []
    for line in lines:
        receivable[line.fund.pk] += line.amount
        funds[line.fund.pk] = line.fund
        postings.append(Posting(account=line.account, fund=line.fund, credit=line.amount))
    debits = [
        Posting(account=invoice.ar_account, fund=funds[fund_id], debit=amount)
        for fund_id, amount in receivable.items()
    ]
    return debits + postings


def _post_issue(invoice: Invoice, lines: list[InvoiceLine], entry_date: date) -> JournalEntry:
    return ledger_post(
        organization=invoice.organization_id,
        date=entry_date,
        kind=JournalEntry.Kind.ISSUE,
        lines=_issue_postings(invoice, lines),
        memo=f"Invoice {invoice.invoice_number} issued",
        source="invoice",
        invoice=invoice,
    )


def _active_issue_entry(invoice: Invoice) -> JournalEntry | None:
    return (
        JournalEntry.objects.filter(
            invoice=invoice, kind=JournalEntry.Kind.ISSUE, reversed_by__isnull=True
        )
        .order_by("-created_at")
        .first()
    )


def _reverse_issue(invoice: Invoice, memo: str) -> JournalEntry | None:
    entry = _active_issue_entry(invoice)
    if entry is None:
        return None
    return ledger_reverse(entry=entry, date=timezone.localdate(), memo=memo, source="invoice")


def _money_event(
    invoice: Invoice, change_type: str, amount: Decimal, *entries, extra: dict | None = None
) -> None:
    """Tell the accounting-change receivers, naming the ledger entries just posted."""
    ids = [str(entry.pk) for entry in entries if entry is not None]
    payload = {"journal_entry_ids": ids} if len(ids) > 1 else {"journal_entry_id": ids[0]}
    payload.update(extra or {})
    hooks.dispatch(
        hooks.MoneyMoved(
            organization=invoice.organization,
            change_type=change_type,
            amount=amount,
            invoice=invoice,
            customer=invoice.customer,
            payload=payload,
        )
    )


def invoice_has_moved_money(invoice: Invoice) -> bool:
    """Whether money was ever received on the invoice (even if later reversed)."""
    return (
        invoice.amount_due != invoice.amount
        or JournalEntry.objects.filter(invoice=invoice, kind__in=JournalEntry.MONEY_KINDS).exists()
    )


def _save_lines(invoice: Invoice, specs: list[LineSpec]) -> list[InvoiceLine]:
    """Replace the invoice's lines with ``specs``, reusing existing rows (and their ids)."""
    existing = list(invoice.lines.order_by("position", "id"))
    by_id = {line.id: line for line in existing}
    claimed = {spec.id for spec in specs if spec.id is not None}
    unknown = claimed - by_id.keys()
    if unknown:
        raise ValidationFailed(
            f"Line {sorted(unknown)[0]} is not a line of this invoice.",
            fields={"lines": [f"Unknown line id {sorted(unknown)[0]}."]},
        )
    spare = [line for line in existing if line.id not in claimed]
    saved = []
    for position, spec in enumerate(specs):
        line = by_id[spec.id] if spec.id is not None else (spare.pop(0) if spare else None)
        if line is None:
            line = InvoiceLine(organization_id=invoice.organization_id, invoice=invoice)
        line.position = position
        line.amount = spec.amount
        line.note = spec.note
        line.account = spec.account
        line.fund = spec.fund
        line.save()
        saved.append(line)
    if spare:
        InvoiceLine.objects.filter(pk__in=[line.pk for line in spare]).delete()
    return saved


def _emit(invoice: Invoice, event_types: list[str]) -> None:
    if not event_types:
        return
    from receivables.selectors import invoice_get

    data = event_payload(invoice_get(organization=invoice.organization_id, pk=invoice.pk))
    for event_type in dict.fromkeys(event_types):
        event_emit(organization_id=invoice.organization_id, event_type=event_type, data=data)


def _status_events(before: str, after: str) -> list[str]:
    if before == after:
        return []
    return {
        Status.PAID: ["invoice.paid"],
        Status.OVERDUE: ["invoice.overdue"],
        Status.VOID: ["invoice.voided"],
    }.get(after, [])


def _check_requested_status(invoice: Invoice, requested: str | None) -> None:
    """An explicit status must agree with the money and dates ("pending" means "open")."""
    if requested is None or requested == invoice.status:
        return
    if requested == Status.PENDING and invoice.status in Invoice.OPEN_STATUSES:
        return
    raise ValidationFailed(
        f"status {requested!r} contradicts the invoice: with amount {invoice.amount}, "
        f"amount_due {invoice.amount_due} and due date {invoice.due_date} it is "
        f"{invoice.status!r}.",
        fields={"status": [f"The invoice is {invoice.status!r}; status is derived."]},
    )


# --- invoices: services ---------------------------------------------------------------------


@transaction.atomic
def invoice_create(
    *,
    organization,
    customer: Customer,
    invoice_number: str | None,
    due_date: date,
    amount: Decimal | None = None,
    amount_due: Decimal | None = None,
    issue_date: date | None = None,
    customer_name: str = "",
    customer_address: str = "",
    notes: str = "",
    status: str | None = None,
    lines: list[LineSpec] | None = None,
    ar_account: Account | None = None,
    cash_account: Account | None = None,
) -> Invoice:
    """Create an invoice; unless it is a draft, issue it to the ledger.

    Without ``invoice_number`` the invoice is numbered with its Aplos-face id.
    """
    if customer.organization_id != organization.pk:
        raise ValidationFailed("Unknown customer.", fields={"customer_id": ["Unknown customer."]})
    aplos_id = _next_aplos_id(organization)
    invoice_number = invoice_number or str(aplos_id)
    _check_number_free(organization, invoice_number)
    ar_account = ar_account or default_account(organization, Account.Role.RECEIVABLE)
    _validate_ar_account(ar_account)
    if lines:
        total = _lines_total(lines)
        if amount is not None and amount != total:
            raise ValidationFailed(
                f"amount {amount} is not the sum of the lines ({total}).",
                fields={"amount": [f"Must equal the sum of the lines ({total})."]},
            )
        amount = total
    elif amount is None:
        raise ValidationFailed(
            "amount is required.", fields={"amount": ["This field is required."]}
        )
    else:
        lines = [
            LineSpec(
                amount=amount,
                account=default_account(organization, Account.Role.REVENUE),
                fund=default_fund(organization),
            )
        ]
    if amount <= 0:
        raise ValidationFailed(
            "amount must be greater than zero.", fields={"amount": ["Must be greater than zero."]}
        )
    _validate_lines(lines, ar_account, "lines")
    amount_due = amount if amount_due is None else amount_due
    if amount_due > amount:
        raise ValidationFailed(
            "amount_due cannot exceed amount.", fields={"amount_due": ["Cannot exceed amount."]}
        )
    if status == Status.VOID:
        raise ValidationFailed(
            "An invoice cannot be created void.",
            fields={"status": ["An invoice cannot be created void."]},
        )
    is_draft = status == Status.DRAFT
    if is_draft and amount_due != amount:
        raise ValidationFailed(
            "A draft has received no money: amount_due must equal amount.",
            fields={"amount_due": ["A draft's amount_due equals its amount."]},
        )
    issue_date = issue_date or timezone.localdate()
    if due_date < issue_date:
        raise ValidationFailed(
            "due_date is before issue_date.",
            fields={"due_date": ["Must not be before issue_date."]},
        )

    invoice = Invoice(
        organization=organization,
        aplos_id=aplos_id,
        invoice_number=invoice_number,
        customer=customer,
        customer_name=customer_name,
        customer_address=customer_address,
        amount=amount,
        amount_due=amount,
        issue_date=issue_date,
        due_date=due_date,
        status=Status.DRAFT if is_draft else Status.PENDING,
        notes=notes,
        ar_account=ar_account,
    )
    try:
        with transaction.atomic():
            invoice.save(force_insert=True)
    except IntegrityError:
        raise Conflict(
            f"Invoice number {invoice_number!r} already exists.",
            fields={"invoice_number": ["An invoice with this number already exists."]},
        ) from None
    aplos_contact_for(customer)
    saved_lines = _save_lines(invoice, lines)
    events = ["invoice.created"]
    if not is_draft:
        entry = _post_issue(invoice, saved_lines, issue_date)
        _money_event(invoice, "invoice_created", invoice.amount, entry)
        if amount_due < amount:
            _record_offline(
                invoice,
                amount=amount - amount_due,
                received_date=issue_date,
                cash_account=cash_account,
                source=InvoiceOfflinePayment.Source.OPENING,
            )
        invoice.status = derive_status(invoice)
        invoice.save(update_fields=["amount_due", "status", "updated_at"])
    _check_requested_status(invoice, status)
    if invoice.status == Status.OVERDUE:
        events.append("invoice.overdue")
    _emit(invoice, events)
    return invoice


def _apply_money(
    invoice: Invoice,
    *,
    amount: Decimal,
    entry_date: date,
    cash_account: Account,
    source: str,
    memo: str,
) -> JournalEntry:
    # Summed here, not with SUM(): SQLite aggregates decimals as floats.
    open_by_fund: dict[int, Decimal] = defaultdict(Decimal)
    for fund_id, debit, credit in JournalLine.objects.filter(
        entry__invoice=invoice, account=invoice.ar_account
    ).values_list("fund", "debit", "credit"):
        open_by_fund[fund_id] += debit - credit
    shares = _allocate(amount, open_by_fund)
    funds = Fund.objects.in_bulk(list(shares))
    postings = []
    for fund_id, share in shares.items():
        postings.append(Posting(account=cash_account, fund=funds[fund_id], debit=share))
        postings.append(Posting(account=invoice.ar_account, fund=funds[fund_id], credit=share))
    entry = ledger_post(
        organization=invoice.organization_id,
        date=entry_date,
        kind=JournalEntry.Kind.PAYMENT,
        lines=postings,
        memo=memo or f"Payment on invoice {invoice.invoice_number}",
        source=source,
        invoice=invoice,
    )
    invoice.amount_due -= amount
    return entry


def _lock(invoice: Invoice) -> Invoice:
    lock_objects.invoices_for_update(invoice.organization_id, [invoice.pk])
    invoice.refresh_from_db()
    return invoice


def _check_can_receive(invoice: Invoice, amount: Decimal, field_name: str) -> None:
    if invoice.status == Status.DRAFT:
        raise Conflict(
            f"Invoice {invoice.invoice_number} is a draft; issue it before recording money."
        )
    if invoice.status == Status.VOID:
        raise Conflict(f"Invoice {invoice.invoice_number} is void.")
    if amount <= 0:
        raise ValidationFailed(
            "The amount must be greater than zero.",
            fields={field_name: ["Must be greater than zero."]},
        )
    if amount > invoice.amount_due:
        raise ValidationFailed(
            f"{amount} exceeds the open balance of {invoice.amount_due}.",
            fields={field_name: [f"Exceeds the open balance ({invoice.amount_due})."]},
        )


@transaction.atomic
def invoice_apply_payment(
    *,
    invoice: Invoice,
    amount: Decimal,
    received_date: date | None = None,
    cash_account: Account | None = None,
    source: str = "payment",
    memo: str = "",
    field_name: str = "amount",
) -> JournalEntry:
    """Apply money received to the invoice: lower ``amount_due``, post Dr cash / Cr AR.

    Returns the payment's journal entry (keep it to unapply with ``invoice_unapply_payment``).
    """
    _lock(invoice)
    _check_can_receive(invoice, amount, field_name)
    cash_account = cash_account or default_account(invoice.organization_id, Account.Role.CASH)
    before = invoice.status
    entry = _apply_money(
        invoice,
        amount=amount,
        entry_date=received_date or timezone.localdate(),
        cash_account=cash_account,
        source=source,
        memo=memo,
    )
    invoice.status = derive_status(invoice)
    invoice.save(update_fields=["amount_due", "status", "updated_at"])
    _emit(invoice, ["invoice.updated", *_status_events(before, invoice.status)])
    return entry


@transaction.atomic
def invoice_unapply_payment(
    *, invoice: Invoice, entry: JournalEntry, source: str = "payment", memo: str = ""
) -> JournalEntry:
    """Take back a payment applied with ``invoice_apply_payment``: reverse its entry and
    raise ``amount_due`` by its amount."""
    _lock(invoice)
    if entry.invoice_id != invoice.pk or entry.kind != JournalEntry.Kind.PAYMENT:
        raise ValueError("Not a payment entry of this invoice.")
    amount = sum((line.debit for line in entry.lines.all()), ZERO)
    reversal = ledger_reverse(entry=entry, date=timezone.localdate(), memo=memo, source=source)
    before = invoice.status
    invoice.amount_due += amount
    invoice.status = derive_status(invoice)
    invoice.save(update_fields=["amount_due", "status", "updated_at"])
    _emit(invoice, ["invoice.updated", *_status_events(before, invoice.status)])
    return reversal


def _record_offline(
    invoice: Invoice,
    *,
    amount: Decimal,
    received_date: date,
    cash_account: Account | None,
    source: str,
    field_name: str = "external_payment_amount",
) -> InvoiceOfflinePayment:
    _check_can_receive(invoice, amount, field_name)
    cash_account = cash_account or default_account(invoice.organization_id, Account.Role.CASH)
    entry = _apply_money(
        invoice,
        amount=amount,
        entry_date=received_date,
        cash_account=cash_account,
        source=source,
        memo=f"Paid outside ARPilot on invoice {invoice.invoice_number}",
    )
    offline = InvoiceOfflinePayment.objects.create(
        organization_id=invoice.organization_id,
        invoice=invoice,
        amount=amount,
        received_date=received_date,
        source=source,
        journal_entry=entry,
    )
    _money_event(
        invoice, "offline_payment", amount, entry, extra={"offline_payment_id": str(offline.pk)}
    )
    return offline


@transaction.atomic
def invoice_record_offline_payment(
    *,
    invoice: Invoice,
    amount: Decimal,
    received_date: date | None = None,
    cash_account: Account | None = None,
    source: str = InvoiceOfflinePayment.Source.EXTERNAL,
) -> InvoiceOfflinePayment:
    """Record money paid outside ARPilot (a row of its own and a ledger entry)."""
    _lock(invoice)
    before = invoice.status
    payment = _record_offline(
        invoice,
        amount=amount,
        received_date=received_date or timezone.localdate(),
        cash_account=cash_account,
        source=source,
    )
    invoice.status = derive_status(invoice)
    invoice.save(update_fields=["amount_due", "status", "updated_at"])
    _emit(invoice, ["invoice.updated", *_status_events(before, invoice.status)])
    return payment


@transaction.atomic
def invoice_offline_payment_reverse(
    *, invoice: Invoice, offline_payment_id, reason: str, reversed_by: str
) -> InvoiceOfflinePayment:
    """Reverse a mistaken offline payment of ``invoice`` (``InvoiceOfflinePayment`` id).

    Posts the mirror image of its payment entry (``payment_reversal``), raises
    ``amount_due`` by its amount and re-derives the status, records when, who and why on the
    offline payment, emits ``invoice.updated`` (and a status event) and tells the money-event
    receivers: ``change_type="payment_unapplied"`` (money received, taken back) with
    ``payload`` ``journal_entry_id`` (the reversal), ``offline_payment_id``,
    ``reversed_journal_entry_id``, ``reason``, ``reversed_by``. A second reversal is a 409;
    an unknown id (or another invoice's) is a 404; a blank reason is a 400 naming ``reason``.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "A reason is required to reverse an offline payment.",
            fields={"reason": ["This field is required."]},
        )
    _lock(invoice)  # every reversal of the invoice's payments locks the invoice first
    pk = _uuid_or_none(offline_payment_id)
    offline = (
        InvoiceOfflinePayment.objects.for_org(invoice.organization_id)
        .filter(pk=pk, invoice=invoice)
        .select_related("journal_entry")
        .first()
        if pk is not None
        else None
    )
    if offline is None:
        raise NotFound(
            "Offline payment not found on this invoice.",
            fields={"offline_payment_id": ["Not an offline payment of this invoice."]},
        )
    if offline.reversed_at is not None:
        raise Conflict(
            f"This offline payment was already reversed by {offline.reversed_by or 'someone'} "
            f"on {offline.reversed_at:%Y-%m-%d}.",
            extra={"offline_payment_id": str(offline.pk)},
        )
    before = invoice.status
    reversal = ledger_reverse(
        entry=offline.journal_entry,
        date=timezone.localdate(),
        memo=f"Offline payment on invoice {invoice.invoice_number} reversed: {reason}",
        source=offline.source,
    )
    offline.reversed_at = timezone.now()
    offline.reversed_by = (reversed_by or "")[:150]
    offline.reversal_reason = reason
    offline.reversal_entry = reversal
    offline.save(
        update_fields=[
            "reversed_at",
            "reversed_by",
            "reversal_reason",
            "reversal_entry",
            "updated_at",
        ]
    )
    invoice.amount_due += offline.amount
    invoice.status = derive_status(invoice)
    invoice.save(update_fields=["amount_due", "status", "updated_at"])
    _money_event(
        invoice,
        "payment_unapplied",
        offline.amount,
        reversal,
        extra={
            "offline_payment_id": str(offline.pk),
            "reversed_journal_entry_id": str(offline.journal_entry_id),
            "reason": reason,
            "reversed_by": offline.reversed_by,
            "memo": f"Offline payment reversed on invoice {invoice.invoice_number}: {reason}",
        },
    )
    _emit(invoice, ["invoice.updated", *_status_events(before, invoice.status)])
    return offline


def _uuid_or_none(value):
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


@transaction.atomic
def invoice_receive(
    *, invoice: Invoice, received_date: date | None = None, cash_account: Account | None = None
) -> Invoice:
    """Aplos ``receive``: the whole open balance received on ``received_date``."""
    _lock(invoice)
    if invoice.status in (Status.PAID, Status.VOID, Status.DRAFT):
        raise Conflict(
            f"Receivable {invoice.aplos_id} is {invoice.status}; there is no open balance."
        )
    if cash_account is not None and cash_account.type != Account.Type.ASSET:
        raise ValidationFailed(
            f"Account {cash_account.account_number} is not an asset account.",
            fields={"cash_account.account_number": ["Must be an asset account."]},
        )
    invoice_record_offline_payment(
        invoice=invoice,
        amount=invoice.amount_due,
        received_date=received_date,
        cash_account=cash_account,
        source=InvoiceOfflinePayment.Source.APLOS_RECEIVE,
    )
    return invoice


@transaction.atomic
def invoice_void(*, invoice: Invoice) -> Invoice:
    """Void an invoice that has received no money: its issue entry is reversed."""
    _lock(invoice)
    if invoice.status == Status.VOID:
        return invoice
    if invoice_has_moved_money(invoice):
        raise Conflict(
            f"Invoice {invoice.invoice_number} has received money; reverse the payments "
            "before voiding it."
        )
    reversal = _reverse_issue(invoice, f"Invoice {invoice.invoice_number} voided")
    if reversal is not None:
        _money_event(invoice, "invoice_voided", invoice.amount, reversal)
    invoice.status = Status.VOID
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "voided_at", "updated_at"])
    _emit(invoice, ["invoice.voided"])
    return invoice


@transaction.atomic
def invoice_update(
    *,
    invoice: Invoice,
    changes: dict,
    lines: list[LineSpec] | None = None,
    external_payment_amount: Decimal | None = None,
    cash_account: Account | None = None,
) -> Invoice:
    """Apply a partial update.

    ``changes`` may hold invoice_number, customer, customer_name, customer_address, notes,
    issue_date, due_date, amount, amount_due, ar_account and status. Amount, lines, customer
    and receivable account change only while no money has been received (the issue entry is
    then reversed and re-posted). ``external_payment_amount`` records one offline payment
    of that amount; ``amount_due`` sent with it must be the balance that payment leaves (400
    naming ``amount_due`` otherwise, nothing changed). ``amount_due`` alone, lowered, records
    the difference as one offline payment. ``status: "void"`` voids.
    """
    _lock(invoice)
    changes = dict(changes)
    requested_status = changes.pop("status", None)
    before = invoice.status
    events = ["invoice.updated"]

    if invoice.status == Status.VOID:
        allowed = {"notes", "customer_name", "customer_address"}
        blocked = sorted(set(changes) - allowed)
        if (
            blocked
            or lines is not None
            or external_payment_amount
            or requested_status not in (None, Status.VOID)
        ):
            raise Conflict(
                f"Invoice {invoice.invoice_number} is void; only notes and the customer "
                "name and address can change."
            )

    structural = {"amount", "customer", "ar_account"} & set(changes)
    structural = {name for name in structural if changes[name] != getattr(invoice, name)} | (
        {"lines"} if lines is not None else set()
    )
    if structural and invoice_has_moved_money(invoice):
        raise Conflict(
            f"Invoice {invoice.invoice_number} has received money; its "
            f"{', '.join(sorted(structural))} can no longer change."
        )

    if "invoice_number" in changes and changes["invoice_number"] != invoice.invoice_number:
        _check_number_free(invoice.organization_id, changes["invoice_number"], invoice.pk)
    customer = changes.get("customer")
    if customer is not None and customer.organization_id != invoice.organization_id:
        raise ValidationFailed("Unknown customer.", fields={"customer_id": ["Unknown customer."]})
    if "ar_account" in changes:
        _validate_ar_account(changes["ar_account"])

    for name in ("invoice_number", "customer", "customer_name", "customer_address", "notes"):
        if name in changes:
            setattr(invoice, name, changes[name])
    for name in ("issue_date", "due_date", "ar_account"):
        if name in changes:
            setattr(invoice, name, changes[name])
    if invoice.due_date < invoice.issue_date:
        raise ValidationFailed(
            "due_date is before issue_date.",
            fields={"due_date": ["Must not be before issue_date."]},
        )

    new_amount = changes.get("amount")
    if lines is None and new_amount is not None and new_amount != invoice.amount:
        current = list(invoice.lines.select_related("account", "fund"))
        if len(current) != 1:
            raise ValidationFailed(
                "This invoice has several lines: send lines to change its amount.",
                fields={"amount": ["Must equal the sum of the lines; send lines instead."]},
            )
        only = current[0]
        lines = [
            LineSpec(
                amount=new_amount, account=only.account, fund=only.fund, note=only.note, id=only.id
            )
        ]
    if lines is not None:
        total = _lines_total(lines)
        if new_amount is not None and new_amount != total:
            raise ValidationFailed(
                f"amount {new_amount} is not the sum of the lines ({total}).",
                fields={"amount": [f"Must equal the sum of the lines ({total})."]},
            )
        if total <= 0:
            raise ValidationFailed(
                "amount must be greater than zero.",
                fields={"amount": ["Must be greater than zero."]},
            )
        _validate_lines(lines, invoice.ar_account, "lines")
        invoice.amount = total
        invoice.amount_due = total
    invoice.save()
    reversal = None
    if structural and invoice.status != Status.DRAFT:
        reversal = _reverse_issue(invoice, f"Invoice {invoice.invoice_number} changed")
    saved_lines = _save_lines(invoice, lines) if lines is not None else None
    if structural and invoice.status != Status.DRAFT:
        reissue = _post_issue(
            invoice,
            saved_lines or list(invoice.lines.select_related("account", "fund")),
            timezone.localdate(),
        )
        _money_event(invoice, "invoice_changed", invoice.amount, reversal, reissue)

    issuing = invoice.status == Status.DRAFT and requested_status not in (
        None,
        Status.DRAFT,
        Status.VOID,
    )
    if requested_status == Status.DRAFT and invoice.status != Status.DRAFT:
        raise ValidationFailed(
            "An issued invoice cannot go back to draft; void it instead.",
            fields={"status": ["An issued invoice cannot go back to draft."]},
        )
    if issuing:
        invoice.status = Status.PENDING
        entry = _post_issue(
            invoice, list(invoice.lines.select_related("account", "fund")), invoice.issue_date
        )
        _money_event(invoice, "invoice_created", invoice.amount, entry)

    new_due = changes.get("amount_due")
    paid_now = ZERO
    if external_payment_amount is not None and new_due is not None:
        # One payment per update: amount_due, sent along, states the balance it leaves.
        if external_payment_amount:
            _check_can_receive(invoice, external_payment_amount, "external_payment_amount")
        expected = invoice.amount_due - external_payment_amount
        if new_due != expected:
            raise ValidationFailed(
                f"amount_due {new_due} is not the open balance after the external payment of "
                f"{external_payment_amount} ({expected}); each update records one payment.",
                fields={
                    "amount_due": [
                        f"Must equal the open balance after external_payment_amount ({expected})."
                    ]
                },
            )
    elif new_due is not None and new_due != invoice.amount_due:
        if new_due > invoice.amount_due:
            raise ValidationFailed(
                f"amount_due cannot rise above the open balance ({invoice.amount_due}); "
                "money received is not taken back by editing the balance.",
                fields={"amount_due": [f"Cannot exceed the open balance ({invoice.amount_due})."]},
            )
        paid_now = invoice.amount_due - new_due
    if paid_now or external_payment_amount:
        if invoice.status == Status.DRAFT:
            raise Conflict(
                f"Invoice {invoice.invoice_number} is a draft; issue it before recording money."
            )
        if paid_now:
            _record_offline(
                invoice,
                amount=paid_now,
                received_date=timezone.localdate(),
                cash_account=cash_account,
                source=InvoiceOfflinePayment.Source.EXTERNAL,
                field_name="amount_due",
            )
        if external_payment_amount:
            _record_offline(
                invoice,
                amount=external_payment_amount,
                received_date=timezone.localdate(),
                cash_account=cash_account,
                source=InvoiceOfflinePayment.Source.EXTERNAL,
            )

    if requested_status == Status.VOID:
        invoice.save()
        if invoice.status != Status.VOID:
            invoice_void(invoice=invoice)  # emits invoice.voided
        _emit(invoice, events)
        return invoice

    invoice.status = derive_status(invoice)
    invoice.save()
    _check_requested_status(invoice, requested_status)
    _emit(invoice, events + _status_events(before, invoice.status))
    return invoice


@transaction.atomic
def invoice_delete(*, invoice: Invoice) -> None:
    """Delete an invoice that never received money; its issue entry is reversed, the
    ledger entries stay (unlinked)."""
    _lock(invoice)
    if invoice_has_moved_money(invoice):
        raise Conflict(
            f"Invoice {invoice.invoice_number} has received money and cannot be deleted; "
            "void it instead (after reversing the payments)."
        )
    if invoice.status != Status.VOID:
        _reverse_issue(invoice, f"Invoice {invoice.invoice_number} deleted")
    invoice.lines.all().delete()
    invoice.delete()


def customer_delete_hook(*, customer: Customer) -> None:
    """On ``hooks.CustomerDeleting``: delete the customer's invoices, all or none.

    Every invoice that never received money goes (its issue entry reversed, see
    ``invoice_delete``). If any invoice ever received money — an applied payment, an offline
    payment, an Aplos receive, even one later reversed — nothing is deleted and the customer
    delete is a 409: the ledger is never rewritten.
    """
    invoices = lock_objects.invoices_for_update(
        customer.organization_id,
        list(Invoice.objects.filter(customer=customer).values_list("pk", flat=True)),
    )
    moved = [invoice.invoice_number for invoice in invoices if invoice_has_moved_money(invoice)]
    if moved:
        shown = ", ".join(sorted(moved)[:5]) + (" …" if len(moved) > 5 else "")
        raise Conflict(
            f"Customer {customer.company_name} has received money on invoice(s) {shown}; "
            "a customer with payment history cannot be deleted."
        )
    for invoice in invoices:
        invoice_delete(invoice=invoice)


# --- overdue ---------------------------------------------------------------------------------

OVERDUE_BATCH = 5000


def invoices_mark_overdue(*, batch_size: int = OVERDUE_BATCH, today_utc: date | None = None) -> int:
    """Mark open invoices whose due date has passed (in the customer's timezone) overdue.

    Idempotent. Due dates two or more days before today in UTC have passed in every timezone
    and are updated in batches of ``batch_size`` (a transaction each); the two days around
    today are checked one customer timezone at a time.
    """
    from datetime import timedelta

    today_utc = today_utc or timezone.now().date()
    surely_past = today_utc - timedelta(days=1)
    marked = 0
    open_statuses = [Status.PENDING, Status.PARTIAL]
    while True:
        with transaction.atomic():
            ids = list(
                Invoice.objects.filter(status__in=open_statuses, due_date__lt=surely_past)
                .order_by()
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            marked += _mark_overdue(ids)
    borderline = (
        Invoice.objects.filter(
            status__in=open_statuses,
            due_date__gte=surely_past,
            due_date__lt=today_utc + timedelta(days=1),
        )
        .order_by()
        .values_list("pk", "due_date", "customer__timezone")
    )
    due_ids = []
    today_in: dict[str, date] = {}
    for pk, due_date, tz_name in borderline.iterator(chunk_size=batch_size):
        if tz_name not in today_in:
            today_in[tz_name] = customer_today(Customer(timezone=tz_name))
        if due_date < today_in[tz_name]:
            due_ids.append(pk)
    for start in range(0, len(due_ids), batch_size):
        with transaction.atomic():
            marked += _mark_overdue(due_ids[start : start + batch_size])
    return marked


def _mark_overdue(ids: list) -> int:
    from receivables.selectors import invoices_by_ids

    locked = [
        invoice.pk
        for invoice in Invoice.objects.filter(
            pk__in=ids, status__in=[Status.PENDING, Status.PARTIAL]
        )
        .order_by("pk")
        .select_for_update()
        .only("pk")
    ]
    if not locked:
        return 0
    updated = Invoice.objects.filter(pk__in=locked).update(
        status=Status.OVERDUE, updated_at=timezone.now()
    )
    for invoice in invoices_by_ids(locked):
        event_emit(
            organization_id=invoice.organization_id,
            event_type="invoice.overdue",
            data=event_payload(invoice),
        )
    return updated
