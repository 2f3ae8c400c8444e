"""Money on invoices: payments applied and unapplied, offline payments recorded and
reversed, the Aplos ``receive``."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from arpilot.compiled import CompiledRows, Slot, organization_slot
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
    base_currency,
    currency_unit,
    default_account,
    exchange_account,
    ledger_post,
    ledger_reverse,
    to_base,
)
from receivables.services.state import (
    Status,
    _lock,
    _money_event,
    money_moving,
)

_CASH_COLUMNS = ("pk", "account_number", "name", "type")


def _receivable_lines_query(with_cash_account: bool) -> CompiledRows:
    """The invoice's receivable lines as (fund id, fund name, debit, credit), and with
    ``with_cash_account`` the organization's cash account riding along each row (its
    ``_CASH_COLUMNS``, None when it has none yet): one statement for both, compiled once."""

    def build(invoice, ar_account, organization=None):
        lines = JournalLine.objects.filter(entry__invoice__eq=invoice, account__eq=ar_account)
        columns = ["fund", "fund__name", "debit", "credit"]
        if with_cash_account:
            # As ``default_account`` finds it: the lowest-numbered account with the cash role.
            cash = (
                Account.objects.for_org(organization)
                .filter(role=Account.Role.CASH)
                .order_by("account_number")
            )
            lines = lines.annotate(
                **{f"cash_{name}": Subquery(cash.values(name)[:1]) for name in _CASH_COLUMNS}
            )
            columns += [f"cash_{name}" for name in _CASH_COLUMNS]
        return lines.values_list(*columns)

    slots = [Slot("invoice"), Slot("ar_account")]
    if with_cash_account:
        slots.append(organization_slot())
    return CompiledRows(JournalLine, build, *slots)


_RECEIVABLE_LINES = {True: _receivable_lines_query(True), False: _receivable_lines_query(False)}


def _receivable_lines(invoice: Invoice, with_cash_account: bool) -> list[tuple]:
    values = {"invoice": invoice.pk, "ar_account": invoice.ar_account_id}
    if with_cash_account:
        values["organization"] = invoice.organization_id
    return _RECEIVABLE_LINES[with_cash_account].rows(**values)


@dataclass(frozen=True)
class Received:
    """Money received in another currency than the invoice's, or in a foreign currency at
    the payment's rate: ``amount`` in ``currency`` ("" for the base currency), worth
    ``base_amount`` in the base currency at the payment's rate."""

    currency: str
    amount: Decimal
    base_amount: Decimal


def _receivable_open(invoice: Invoice, with_cash_account: bool):
    """The invoice's receivable still open per fund in base ({fund id: amount}), its funds
    ({id: Fund}) and the organization's cash account row riding along (or None)."""
    # Summed here, not with SUM(): SQLite aggregates decimals as floats.
    # The funds come with the lines (id and name: what postings and payloads use).
    open_by_fund: dict[int, Decimal] = defaultdict(Decimal)
    funds: dict[int, Fund] = {}
    cash_row = None
    for fund_id, fund_name, debit, credit, *cash in _receivable_lines(invoice, with_cash_account):
        open_by_fund[fund_id] += debit - credit
        funds.setdefault(
            fund_id, Fund(id=fund_id, organization_id=invoice.organization_id, name=fund_name)
        )
        cash_row = cash_row or cash
    return open_by_fund, funds, cash_row


def _cash_account(invoice: Invoice, cash_row) -> Account:
    if cash_row and cash_row[0] is not None:
        pk, number, name, type_ = cash_row
        return Account(
            id=pk, organization_id=invoice.organization_id, account_number=number,
            name=name, type=type_, role=Account.Role.CASH,
        )  # fmt: skip
    # no lines, or no cash account yet (seeded on demand)
    return default_account(invoice.organization_id, Account.Role.CASH)


def _apply_money(
    invoice: Invoice,
    *,
    amount: Decimal,
    entry_date: date,
    cash_account: Account | None,
    source: str,
    memo: str,
    received: Received | None = None,
) -> JournalEntry:
    """Post the payment (Dr ``cash_account`` / Cr receivable, split over the funds). Without
    ``cash_account``, the organization's cash account (read with the invoice's lines).

    ``amount`` is in the invoice's currency. An invoice in another currency than the base
    is relieved at its booked rate; ``received`` (money in another currency, or valued at
    the payment's rate) is debited at what it is worth, and the difference is a realised
    exchange gain (credit) or loss (debit) on ``ledger.exchange_account``."""
    open_by_fund, funds, cash_row = _receivable_open(invoice, cash_account is None)
    if cash_account is None:
        cash_account = _cash_account(invoice, cash_row)
    if invoice.exchange_rate is None and received is None:
        shares = _allocate(amount, open_by_fund, currency_unit(invoice.currency))
        postings = []
        for fund_id, share in shares.items():
            postings.append(Posting(account=cash_account, fund=funds[fund_id], debit=share))
            postings.append(Posting(account=invoice.ar_account, fund=funds[fund_id], credit=share))
        relieved = received_base = amount
    else:
        postings, relieved, received_base = _foreign_postings(
            invoice, amount, open_by_fund, funds, cash_account, received
        )
    entry = ledger_post(
        organization=invoice.organization_id,
        date=entry_date,
        kind=JournalEntry.Kind.PAYMENT,
        lines=postings,
        memo=memo or f"Payment on invoice {invoice.invoice_number}",
        source=source,
        invoice=invoice,
    )
    # What the entry did, for the caller's accounting change (in the base currency).
    entry.receivable_base = relieved
    entry.received_base = received_base
    entry.exchange_difference = received_base - relieved  # a gain when positive
    invoice.amount_due -= amount
    return entry


def _signed(account: Account, fund: Fund, base: Decimal, currency: str, foreign) -> Posting:
    """A posting of ``base`` (debit when positive, credit when negative) with its signed
    amount in ``currency`` (none when blank)."""
    return Posting(
        account=account,
        fund=fund,
        debit=base if base > 0 else ZERO,
        credit=-base if base < 0 else ZERO,
        currency=currency,
        amount_currency=foreign if currency else None,
    )


def _foreign_postings(
    invoice: Invoice,
    amount: Decimal,
    open_by_fund: dict,
    funds: dict,
    cash_account: Account,
    received: Received | None,
) -> tuple[list[Posting], Decimal, Decimal]:
    """The postings of money on an invoice in another currency, or of money in another
    currency (see ``_apply_money``), the receivable relieved and the money's value (base)."""
    unit = currency_unit(base_currency(invoice.organization))
    invoice_currency = invoice.currency if invoice.exchange_rate is not None else ""
    rate = invoice.exchange_rate
    # The receivable relieved at the booked rate: the open balance's value before less its
    # value after, so what stays open is exactly the rest at that rate (no cent left behind
    # on a paid invoice, whatever the partial payments were).
    relief = to_base(invoice.amount_due, rate, unit) - to_base(
        invoice.amount_due - amount, rate, unit
    )
    if received is None:  # money in the invoice's currency at its booked rate
        received = Received(currency=invoice_currency, amount=amount, base_amount=relief)
    if not any(weight > 0 for weight in open_by_fund.values()) and funds:
        # What is still open is worth nothing in the base currency (the last yen of a
        # balance booked at a tiny rate): the money goes to the invoice's first fund.
        open_by_fund = {next(iter(funds)): Decimal(1)}
    relief_by_fund = _allocate(relief, open_by_fund, unit) if relief > 0 else {}
    invoice_unit = currency_unit(invoice.currency)
    foreign_by_fund = _allocate(amount, open_by_fund, invoice_unit) if invoice_currency else {}
    cash_by_fund = _allocate(received.base_amount, open_by_fund, unit)
    received_by_fund = (
        _allocate(received.amount, open_by_fund, currency_unit(received.currency))
        if received.currency
        else {}
    )
    exchange = None
    postings = []
    for fund_id, fund in funds.items():
        ar = relief_by_fund.get(fund_id, ZERO)
        cash = cash_by_fund.get(fund_id, ZERO)
        if cash or received_by_fund.get(fund_id):
            postings.append(
                _signed(cash_account, fund, cash, received.currency, received_by_fund.get(fund_id))
            )
        if ar or foreign_by_fund.get(fund_id):
            foreign = -foreign_by_fund.get(fund_id, ZERO)
            postings.append(_signed(invoice.ar_account, fund, -ar, invoice_currency, foreign))
        if cash != ar:
            exchange = exchange or exchange_account(invoice.organization)
            postings.append(_signed(exchange, fund, ar - cash, "", None))
    return postings, relief, received.base_amount


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
    received: Received | None = None,
) -> JournalEntry:
    """Apply money received to the invoice: lower ``amount_due``, post Dr cash / Cr AR.

    ``amount`` is in the invoice's currency. ``received``: the money, when it is in another
    currency or valued at the payment's rate (the realised exchange difference is posted in
    the same entry; see ``_apply_money``). Returns the payment's journal entry (keep it to
    unapply with ``invoice_unapply_payment``), carrying ``receivable_base``,
    ``received_base`` and ``exchange_difference`` (base; a gain when positive).
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
            received=received,
        )
    return entry


def _settled_amount(invoice: Invoice, lines) -> Decimal:
    """What a payment entry took off the invoice's balance, in the invoice's currency."""
    receivable = [line for line in lines if line.account_id == invoice.ar_account_id]
    if invoice.exchange_rate is not None:
        return -sum((line.amount_currency or ZERO for line in receivable), ZERO)
    return sum((line.credit - line.debit for line in receivable), ZERO)


def _rounding_postings(invoice: Invoice, lines, due_before: Decimal, amount: Decimal):
    """What keeps a foreign invoice's receivable exactly its open balance at the booked rate
    when a payment is reversed out of order (each relief was the balance's value before less
    its value after, on the day it was applied): the cent or so to the receivable, against
    the exchange account, in the fund of the entry's largest receivable line."""
    if invoice.exchange_rate is None:
        return []
    receivable = [line for line in lines if line.account_id == invoice.ar_account_id]
    reversed_base = sum((line.credit - line.debit for line in receivable), ZERO)
    unit = currency_unit(base_currency(invoice.organization))
    rate = invoice.exchange_rate
    wanted = to_base(due_before + amount, rate, unit) - to_base(due_before, rate, unit)
    difference = wanted - reversed_base
    if not difference or not receivable:
        return []
    fund = max(receivable, key=lambda line: (line.credit, -line.pk)).fund
    return [
        _signed(invoice.ar_account, fund, difference, invoice.currency, ZERO),
        _signed(exchange_account(invoice.organization), fund, -difference, "", None),
    ]


def _reverse_money(
    invoice: Invoice, entry: JournalEntry, amount: Decimal, lines=None, **options
) -> JournalEntry:
    """Reverse a money entry of the invoice exactly, plus any rounding difference that keeps
    a foreign receivable at its booked rate (``_rounding_postings``)."""
    if lines is None:
        lines = list(entry.lines.select_related("account", "fund"))
    extra = _rounding_postings(invoice, lines, invoice.amount_due, amount)
    reversal = ledger_reverse(entry=entry, lines=lines, extra=extra, **options)
    reversal.rounding = sum((line.debit - line.credit for line in extra[:1]), ZERO)
    return reversal


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
        lines = list(entry.lines.select_related("account", "fund"))
        amount = _settled_amount(invoice, lines)
        reversal = _reverse_money(
            invoice, entry, amount, lines, date=timezone.localdate(), memo=memo, source=source
        )
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
        reversal = _reverse_money(
            invoice,
            offline.journal_entry,
            offline.amount,
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
