"""Money on invoices: payments applied and unapplied, offline payments recorded and
reversed, the Aplos ``receive``."""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from arpilot.errors import Conflict, NotFound, ValidationFailed
from arpilot.money import ZERO
from receivables.models import (
    Account,
    Fund,
    Invoice,
    InvoiceOfflinePayment,
    JournalEntry,
    JournalLine,
)
from receivables.services.ledger import (
    Posting,
    _allocate,
    default_account,
    ledger_post,
    ledger_reverse,
)
from receivables.services.state import (
    Status,
    _lock,
    _money_event,
    money_moving,
)

_CASH_COLUMNS = ("pk", "account_number", "name", "type")


def _receivable_lines(invoice: Invoice, with_cash_account: bool):
    """The invoice's receivable lines as (fund id, fund name, debit, credit), and with
    ``with_cash_account`` the organization's cash account riding along each row (its
    ``_CASH_COLUMNS``, None when it has none yet): one statement for both."""
    lines = JournalLine.objects.filter(entry__invoice=invoice, account_id=invoice.ar_account_id)
    columns = ["fund", "fund__name", "debit", "credit"]
    if with_cash_account:
        # As ``default_account`` finds it: the lowest-numbered account with the cash role.
        cash = (
            Account.objects.for_org(invoice.organization_id)
            .filter(role=Account.Role.CASH)
            .order_by("account_number")
        )
        lines = lines.annotate(
            **{f"cash_{name}": Subquery(cash.values(name)[:1]) for name in _CASH_COLUMNS}
        )
        columns += [f"cash_{name}" for name in _CASH_COLUMNS]
    return lines.values_list(*columns)


def _apply_money(
    invoice: Invoice,
    *,
    amount: Decimal,
    entry_date: date,
    cash_account: Account | None,
    source: str,
    memo: str,
) -> JournalEntry:
    """Post the payment (Dr ``cash_account`` / Cr receivable, split over the funds). Without
    ``cash_account``, the organization's cash account (read with the invoice's lines)."""
    # Summed here, not with SUM(): SQLite aggregates decimals as floats.
    # The funds come with the lines (id and name: what postings and payloads use).
    open_by_fund: dict[int, Decimal] = defaultdict(Decimal)
    funds: dict[int, Fund] = {}
    cash_row = None
    for fund_id, fund_name, debit, credit, *cash in _receivable_lines(
        invoice, cash_account is None
    ):
        open_by_fund[fund_id] += debit - credit
        funds.setdefault(
            fund_id, Fund(id=fund_id, organization_id=invoice.organization_id, name=fund_name)
        )
        cash_row = cash_row or cash
    if cash_account is None:
        if cash_row and cash_row[0] is not None:
            pk, number, name, type_ = cash_row
            cash_account = Account(
                id=pk, organization_id=invoice.organization_id, account_number=number,
                name=name, type=type_, role=Account.Role.CASH,
            )  # fmt: skip
        else:  # no lines, or no cash account yet (seeded on demand)
            cash_account = default_account(invoice.organization_id, Account.Role.CASH)
    shares = _allocate(amount, open_by_fund)
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


@transaction.atomic(savepoint=False)  # a failure ends the caller's transaction too
def invoice_apply_payment(
    *,
    invoice: Invoice,
    amount: Decimal,
    received_date: date | None = None,
    cash_account: Account | None = None,
    source: str = "payment",
    memo: str = "",
    field_name: str = "amount",
    locked: bool = False,
) -> JournalEntry:
    """Apply money received to the invoice: lower ``amount_due``, post Dr cash / Cr AR.

    Returns the payment's journal entry (keep it to unapply with ``invoice_unapply_payment``).
    """
    with money_moving(invoice, locked=locked):
        _check_can_receive(invoice, amount, field_name)
        entry = _apply_money(
            invoice,
            amount=amount,
            entry_date=received_date or timezone.localdate(),
            cash_account=cash_account,
            source=source,
            memo=memo,
        )
    return entry


@transaction.atomic(savepoint=False)  # a failure ends the caller's transaction too
def invoice_unapply_payment(
    *,
    invoice: Invoice,
    entry: JournalEntry,
    source: str = "payment",
    memo: str = "",
    locked: bool = False,
) -> JournalEntry:
    """Take back a payment applied with ``invoice_apply_payment``: reverse its entry and
    raise ``amount_due`` by its amount."""
    with money_moving(invoice, locked=locked):
        if entry.invoice_id != invoice.pk or entry.kind != JournalEntry.Kind.PAYMENT:
            raise ValueError("Not a payment entry of this invoice.")
        amount = sum((line.debit for line in entry.lines.all()), ZERO)
        reversal = ledger_reverse(entry=entry, date=timezone.localdate(), memo=memo, source=source)
        invoice.amount_due += amount
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
    with money_moving(invoice):
        payment = _record_offline(
            invoice,
            amount=amount,
            received_date=received_date or timezone.localdate(),
            cash_account=cash_account,
            source=source,
        )
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
    with money_moving(invoice):  # every reversal of the invoice's payments locks it first
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
