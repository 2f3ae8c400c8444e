"""The mechanics under the money services: locking a payment's invoices, applying and
unapplying one allocation (each posting its journal entry and telling the money-event
receivers), checking and resolving a requested spread, writing off a short-payment, and opening
deductions for one beyond the tolerance.

Callers hold the payment's lock (``lock_objects.payment_for_update``) and take the
invoices' locks through ``lock_invoices``, in that order (see ``money``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from arpilot import hooks
from arpilot.currencies import amount_check
from arpilot.errors import ValidationFailed
from credits.services import deduction_open
from payments import lock_objects
from payments.models import ZERO, Payment, PaymentAllocation
from payments.services.common import organization_currency, payment_settings_get
from receivables import lock_objects as invoice_locks
from receivables.models import Account, Invoice
from receivables.selectors import rate_on
from receivables.services import account_create, invoice_apply_payment, invoice_unapply_payment
from receivables.services.invoice_money import Received
from receivables.services.ledger import currency_unit, to_base
from receivables.services.rates import RATE_PLACES, RateError, rate_value

RATE_UNIT = Decimal(1).scaleb(-RATE_PLACES)

WRITE_OFF_ACCOUNT_NUMBER = 6950
WRITE_OFF_ACCOUNT_NAME = "Short-payment write-offs"


@dataclass(frozen=True)
class AllocationSpec:
    """Apply ``amount`` (None: as much as the invoice's open balance takes) to the invoice;
    across currencies at ``exchange_rate`` (invoice currency per unit of the payment's;
    None: the organization's rates of the payment date)."""

    invoice_id: object
    amount: Decimal | None
    field: str  # the request field to name in errors
    exchange_rate: Decimal | None = None
    rate_field: str = "exchange_rate"


# --- currencies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """How a payment's money meets an invoice of another currency, or of the same foreign
    currency: ``rate`` is the invoice's currency per unit of the payment's (1 for the same
    currency); ``base_rate`` what one unit of the payment's currency is worth in the base
    currency on the payment date (None: the payment is in the base currency)."""

    paid_in: str
    invoice_currency: str
    rate: Decimal
    base_rate: Decimal | None
    base: str

    def settled(self, amount: Decimal) -> Decimal:
        """``amount`` of the payment in the invoice's currency (rounded half up to its unit)."""
        return (amount * self.rate).quantize(
            currency_unit(self.invoice_currency), rounding=ROUND_HALF_UP
        )

    def covering(self, due: Decimal) -> Decimal:
        """The least amount of the payment that settles ``due`` of the invoice."""
        unit = currency_unit(self.paid_in)
        amount = (due / self.rate).quantize(unit, rounding=ROUND_CEILING)
        while amount > unit and self.settled(amount - unit) >= due:
            amount -= unit
        return amount

    def received(self, amount: Decimal) -> Received:
        """The money, for the ledger: in its currency and worth in the base currency."""
        if self.base_rate is None:
            return Received(currency="", amount=amount, base_amount=amount)
        base_amount = (amount * self.base_rate).quantize(
            currency_unit(self.base), rounding=ROUND_HALF_UP
        )
        return Received(currency=self.paid_in, amount=amount, base_amount=base_amount)


def _rate_refused(field: str, reason: str):
    return ValidationFailed(reason, fields={field: [reason]})


def _given_rate(value, field: str) -> Decimal:
    try:
        return rate_value(value)
    except RateError as error:
        raise _rate_refused(field, error.reason) from None


def _quantized_rate(value: Decimal) -> Decimal:
    return value.quantize(RATE_UNIT, rounding=ROUND_HALF_UP)


def payment_conversion(
    payment: Payment, invoice: Invoice, exchange_rate=None, field: str = "exchange_rate"
) -> Conversion | None:
    """How the payment's money meets the invoice (None: both in the base currency, as
    always). Across currencies the rate is ``exchange_rate`` (invoice currency per unit of
    the payment's) or the organization's rates of the payment date, both currencies known
    against the base; without either, a 400 naming ``field``. The money is valued in the
    base currency at the table's rate of its currency on the payment date (else at the rate
    given, or at the invoice's booked rate: then there is no exchange difference)."""
    base = organization_currency(payment.organization)
    paid_in = (payment.currency or "").upper() or base
    invoice_in = (invoice.currency or "").upper() or base
    if paid_in == invoice_in == base and invoice.exchange_rate is None:
        if exchange_rate is not None and _given_rate(exchange_rate, field) != 1:
            raise _rate_refused(field, f"The payment and the invoice are in {base}: the rate is 1.")
        return None
    organization, day = payment.organization, payment.payment_date
    table_paid = None if paid_in == base else rate_on(organization, paid_in, day)
    if paid_in == invoice_in:
        if exchange_rate is not None and _given_rate(exchange_rate, field) != 1:
            raise _rate_refused(
                field, f"The payment and the invoice are both in {paid_in}: the rate is 1."
            )
        rate = Decimal(1)
    elif exchange_rate is not None:
        rate = _given_rate(exchange_rate, field)
    else:
        table_invoice = Decimal(1) if invoice_in == base else rate_on(organization, invoice_in, day)
        known_paid = Decimal(1) if paid_in == base else table_paid
        if known_paid is None or table_invoice is None:
            missing = paid_in if known_paid is None else invoice_in
            raise _rate_refused(
                field,
                f"This payment is in {paid_in}; the invoice is in {invoice_in}. Send "
                f"exchange_rate ({invoice_in} per {paid_in}) or record a {missing} rate on or "
                f"before {day} (POST /api/v1/exchange-rates).",
            )
        rate = _quantized_rate(known_paid / table_invoice)
    if paid_in == base:
        base_rate = None
    elif table_paid is not None:
        base_rate = table_paid
    elif invoice_in == base:
        base_rate = rate
    else:  # no rate of the payment's currency: at the invoice's booked rate
        base_rate = _quantized_rate((invoice.exchange_rate or Decimal(1)) * rate)
    return Conversion(
        paid_in=paid_in, invoice_currency=invoice_in, rate=rate, base_rate=base_rate, base=base
    )


def active_allocations(payment: Payment) -> list[PaymentAllocation]:
    return list(
        PaymentAllocation.objects.filter(payment=payment, unapplied_at__isnull=True)
        .select_related("journal_entry", "write_off_entry")
        .order_by("invoice_id")
    )


def lock_invoices(payment: Payment, active, extra_ids=()) -> dict:
    ids = {allocation.invoice_id for allocation in active} | {i for i in extra_ids if i}
    locked = invoice_locks.invoices_for_update(payment.organization_id, list(ids))
    return {invoice.pk: invoice for invoice in locked}


def save_money(payment: Payment) -> None:
    payment.status = payment.derived_status()
    payment.save(
        update_fields=[
            "applied_amount",
            "written_off_amount",
            "status",
            "auto_applied",
            "unapplied_by_clerk",
            "updated_at",
        ]
    )


# --- one allocation ---------------------------------------------------------------------------


def _customer_of(invoice: Invoice):
    return invoice.customer


def _money_event(
    payment: Payment,
    change_type: str,
    amount: Decimal,
    invoice: Invoice,
    payload: dict,
    entries: tuple = (),
) -> list:
    """Tell the receivers (accounting changes) that money moved; what they recorded."""
    return hooks.dispatch(
        hooks.MoneyMoved(
            entries=entries,
            organization=payment.organization,
            change_type=change_type,
            amount=amount,
            invoice=invoice,
            customer=_customer_of(invoice),
            payment=payment,
            payload={
                "payment_id": str(payment.pk),
                "invoice_id": str(invoice.pk),
                "invoice_number": invoice.invoice_number,
                "customer_id": str(invoice.customer_id),
                "payment_date": payment.payment_date.isoformat(),
                **payload,
            },
        )
    )


def _lines_of(entry) -> list:
    """The entry's lines: as just posted when the ledger kept them, else read."""
    posted = getattr(entry, "posted_lines", None)
    if posted is not None:
        return sorted(posted, key=lambda line: line.id)
    return list(entry.lines.select_related("account").order_by("id"))


def _entry_payload(entry) -> dict:
    lines = [
        {
            "account_number": line.account.account_number,
            "account_name": line.account.name,
            "fund_id": line.fund_id,
            "debit": str(line.debit),
            "credit": str(line.credit),
        }
        for line in _lines_of(entry)
    ]
    return {"journal_entry_id": str(entry.pk), "date": entry.date.isoformat(), "lines": lines}


_CONVERT = object()


def _exchange_payload(conversion: Conversion, allocation: PaymentAllocation, entry) -> dict:
    """What an accounting change of money across currencies carries (money as strings)."""
    difference = allocation.exchange_difference
    return {
        "exchange": {
            "currency": conversion.paid_in,
            "invoice_currency": conversion.invoice_currency,
            "base_currency": conversion.base,
            "amount": str(allocation.amount),
            "invoice_amount": str(allocation.invoice_amount),
            "exchange_rate": f"{conversion.rate.normalize():f}",
            "payment_base_rate": (
                f"{conversion.base_rate.normalize():f}" if conversion.base_rate else "1"
            ),
            "invoice_exchange_rate": (
                f"{Decimal(allocation.invoice.exchange_rate).normalize():f}"
                if allocation.invoice.exchange_rate is not None
                else "1"
            ),
            "received_base": str(allocation.base_amount),
            "receivable_base": str(entry.receivable_base),
            "gain_loss": str(difference),
            "kind": "gain" if difference > 0 else "loss" if difference < 0 else "none",
        }
    }


def allocation_apply(
    payment: Payment,
    invoice: Invoice,
    amount: Decimal,
    *,
    applied_by: str,
    field: str,
    conversion=_CONVERT,
) -> PaymentAllocation:
    """Apply ``amount`` of the payment (its currency) to the invoice. Across currencies (or
    in a foreign one) ``conversion`` (default: ``payment_conversion`` from the organization's
    rates) settles the invoice in its currency and posts the realised exchange difference."""
    if conversion is _CONVERT:
        conversion = payment_conversion(payment, invoice, field=field)
    settled = amount if conversion is None else _settled_within(conversion, amount, invoice, field)
    entry = invoice_apply_payment(
        invoice=invoice,
        amount=settled,
        received_date=payment.payment_date,
        source="payment",
        memo=f"Payment from {payment.payer_name or 'unknown payer'} applied to invoice "
        f"{invoice.invoice_number}",
        field_name=field,
        locked=True,  # by lock_invoices, in this transaction
        received=None if conversion is None else conversion.received(amount),
    )
    exchange = {}
    if conversion is not None:
        exchange = {
            "invoice_amount": settled,
            "exchange_rate": conversion.rate,
            "base_amount": entry.received_base,
            "exchange_difference": entry.exchange_difference,
        }
    allocation = PaymentAllocation.objects.create(
        organization_id=payment.organization_id,
        payment=payment,
        invoice=invoice,
        amount=amount,
        applied_by=applied_by,
        journal_entry=entry,
        **exchange,
    )
    payment.applied_amount += amount
    _money_event(
        payment,
        "payment_applied",
        amount,
        invoice,
        {
            "allocation_id": str(allocation.pk),
            "applied_by": applied_by,
            **_entry_payload(entry),
            **(_exchange_payload(conversion, allocation, entry) if conversion else {}),
        },
        entries=(entry,),
    )
    return allocation


def _settled_within(conversion: Conversion, amount: Decimal, invoice: Invoice, field: str):
    """What ``amount`` of the payment settles on the invoice: converted, or all it owes when
    ``amount`` is the least that covers it (a rounding over, never money over)."""
    settled = conversion.settled(amount)
    if settled <= invoice.amount_due:
        return settled
    if amount == conversion.covering(invoice.amount_due):
        return invoice.amount_due
    amount_field = field.rsplit(".", 1)[0] + ".amount" if "." in field else field
    raise ValidationFailed(
        f"{amount} {conversion.paid_in} at {conversion.rate} is {settled} "
        f"{conversion.invoice_currency}, more than invoice {invoice.invoice_number} owes "
        f"({invoice.amount_due}).",
        fields={amount_field: [f"Exceeds the invoice's open balance ({invoice.amount_due})."]},
    )


def allocation_unapply(
    payment: Payment,
    allocation: PaymentAllocation,
    invoice: Invoice,
    *,
    by_clerk: bool,
    reason: str = "",
) -> list:
    """Undo one allocation; what the money-event receivers recorded for it."""
    reversal = invoice_unapply_payment(
        invoice=invoice,
        entry=allocation.journal_entry,
        source="payment",
        memo=f"Payment from {payment.payer_name or 'unknown payer'} unapplied from invoice "
        f"{invoice.invoice_number}",
        locked=True,  # by lock_invoices, in this transaction
    )
    payload = {"allocation_id": str(allocation.pk), "reason": reason, **_entry_payload(reversal)}
    if allocation.exchange_rate is not None:
        payload["exchange"] = {
            "currency": (payment.currency or "").upper(),
            "invoice_currency": invoice.currency,
            "amount": str(allocation.amount),
            "invoice_amount": str(allocation.invoice_amount),
            "exchange_rate": f"{allocation.exchange_rate.normalize():f}",
            "received_base": str(allocation.base_amount),
            "gain_loss_reversed": str(allocation.exchange_difference),
            "rounding": str(getattr(reversal, "rounding", ZERO)),
        }
    if allocation.write_off_entry_id:
        write_off_reversal = invoice_unapply_payment(
            invoice=invoice,
            entry=allocation.write_off_entry,
            source="write_off",
            memo=f"Write-off on invoice {invoice.invoice_number} reversed",
            locked=True,
        )
        payload["write_off_reversed"] = str(allocation.write_off_amount)
        payload["write_off_reversal"] = _entry_payload(write_off_reversal)
    allocation.unapplied_at = timezone.now()
    allocation.unapplied_by_clerk = by_clerk
    allocation.unapply_reason = reason[:500]
    allocation.save(
        update_fields=["unapplied_at", "unapplied_by_clerk", "unapply_reason", "updated_at"]
    )
    payment.applied_amount -= allocation.amount
    payment.written_off_amount -= allocation.write_off_amount
    if by_clerk:
        payment.unapplied_by_clerk = True
    return _money_event(payment, "payment_unapplied", allocation.amount, invoice, payload)


# --- checking a requested spread --------------------------------------------------------------


def payment_currency_mismatch(payment: Payment, organization_currency: str) -> str:
    """Why the payment cannot be applied to the organization's invoices ("" when it can).

    Kept for its callers: a payment in any currency may be applied now — to an invoice of
    another currency at a rate (given, or the organization's), the difference a realised
    exchange gain or loss — so this is always ""."""
    return ""


def check_currency(payment: Payment, organization, field: str) -> None:
    """Kept for its callers: payments in any currency apply (see ``payment_conversion``)."""


def _check_invoice(invoice: Invoice | None, field: str) -> Invoice:
    """The invoice money may be applied to."""
    if invoice is None:
        raise ValidationFailed("Unknown invoice.", fields={field: ["Unknown invoice."]})
    if invoice.status in (Invoice.Status.DRAFT, Invoice.Status.VOID):
        raise ValidationFailed(
            f"Invoice {invoice.invoice_number} is {invoice.status}; money cannot be applied to it.",
            fields={field: [f"The invoice is {invoice.status}."]},
        )
    return invoice


@dataclass(frozen=True)
class Target:
    """What the payment should hold on one invoice: ``amount`` of its money, and how it
    meets the invoice (``conversion``; None within the base currency)."""

    amount: Decimal
    conversion: Conversion | None = None

    def holds(self, allocation: PaymentAllocation) -> bool:
        """Whether ``allocation`` already is this (same amount, at the same rate)."""
        rate = None if self.conversion is None else self.conversion.rate
        return allocation.amount == self.amount and allocation.exchange_rate == rate


def applicable_amount(payment: Payment) -> Decimal:
    """What of the payment may be applied at all: its amount less what was refunded of it
    (``payments.services.credit.credit_refund``)."""
    return payment.amount - payment.refunded_amount


def _nothing_left(payment: Payment, field: str) -> ValidationFailed:
    message = f"Nothing of the payment is left to apply: {payment.refunded_amount} was refunded."
    return ValidationFailed(message, fields={field: [message]})


def _target_amount(
    payment: Payment, spec: AllocationSpec, invoice: Invoice, available, conversion
) -> Decimal:
    """What ``spec`` asks to apply to ``invoice`` (which has ``available`` open for it, in
    its currency), in the payment's currency."""
    if spec.amount is None:
        if applicable_amount(payment) <= 0:
            raise _nothing_left(payment, spec.field)
        reach = available if conversion is None else conversion.covering(available)
        amount = min(applicable_amount(payment), reach) if available > 0 else ZERO
        if amount <= 0:
            raise ValidationFailed(
                f"Invoice {invoice.invoice_number} has no open balance.",
                fields={spec.field: ["The invoice has no open balance."]},
            )
        return amount
    amount = spec.amount
    amount_field = spec.field.rsplit(".", 1)[0] + ".amount"
    if amount <= 0:
        raise ValidationFailed(
            "Allocation amounts must be greater than zero.",
            fields={amount_field: ["Must be greater than zero."]},
        )
    amount_check(
        amount, invoice.currency if conversion is None else conversion.paid_in, amount_field
    )
    if conversion is not None:
        fits = conversion.settled(amount) <= available or amount == conversion.covering(available)
        if not fits:
            raise ValidationFailed(
                f"{amount} {conversion.paid_in} at {conversion.rate} is "
                f"{conversion.settled(amount)} {conversion.invoice_currency}, more than the open "
                f"balance of invoice {invoice.invoice_number} ({available}).",
                fields={amount_field: [f"Exceeds the invoice's open balance ({available})."]},
            )
        return amount
    if amount > available:
        raise ValidationFailed(
            f"{amount} exceeds the open balance of invoice {invoice.invoice_number} ({available}).",
            fields={amount_field: [f"Exceeds the invoice's open balance ({available})."]},
        )
    return amount


def resolve_targets(
    payment: Payment, specs: list[AllocationSpec], active, invoices
) -> dict[object, Target]:
    """{invoice_pk: Target} the payment should end up applied with."""
    held = {allocation.invoice_id: allocation for allocation in active}
    targets: dict = {}
    explicit_total = ZERO
    over = None  # the first allocation that takes the total past what the payment has
    for spec in specs:
        invoice = _check_invoice(invoices.get(spec.invoice_id), spec.field)
        if invoice.pk in targets:
            raise ValidationFailed(
                f"Invoice {invoice.invoice_number} is listed twice.",
                fields={spec.field: ["Each invoice may appear once."]},
            )
        conversion = payment_conversion(payment, invoice, spec.exchange_rate, spec.rate_field)
        mine = held.get(invoice.pk)
        available = invoice.amount_due + (
            mine.settled_amount + mine.write_off_amount if mine else ZERO
        )
        amount = _target_amount(payment, spec, invoice, available, conversion)
        targets[invoice.pk] = Target(amount=amount, conversion=conversion)
        if spec.amount is not None:
            explicit_total += amount
            if over is None and explicit_total > applicable_amount(payment):
                over = spec
    if over is not None:
        raise _over_the_payment(payment, explicit_total, over)
    return targets


def _over_the_payment(payment: Payment, total: Decimal, over: AllocationSpec):
    """The allocations total more than the payment has to apply: named on the list and on
    the amount of the allocation that went past it."""
    if payment.refunded_amount:
        left = applicable_amount(payment)
        message = (
            f"The allocations total {total}, more than is left of the payment's "
            f"{payment.amount} after {payment.refunded_amount} refunded ({left})."
        )
        reason = f"The total exceeds what is left of the payment ({left}: the rest was refunded)."
    else:
        message = f"The allocations total {total}, more than the payment's {payment.amount}."
        reason = f"The total exceeds the payment amount ({payment.amount})."
    amount_field = over.field.rsplit(".", 1)[0] + ".amount"
    return ValidationFailed(message, fields={"allocations": [reason], amount_field: [reason]})


def allocations_set(
    payment: Payment,
    targets: dict,
    active,
    invoices,
    *,
    applied_by: str,
    fields: dict,
    reason: str = "",
) -> bool:
    """Make the payment's active allocations equal ``targets`` ({invoice_pk: Target}, or an
    amount within the base currency); True if anything changed."""
    targets = {
        pk: target if isinstance(target, Target) else Target(amount=target)
        for pk, target in targets.items()
    }
    changed = False
    kept = set()
    for allocation in active:
        target = targets.get(allocation.invoice_id)
        if target is not None and target.holds(allocation):
            kept.add(allocation.invoice_id)
            continue
        allocation_unapply(
            payment,
            allocation,
            invoices[allocation.invoice_id],
            by_clerk=applied_by == PaymentAllocation.AppliedBy.CLERK,
            reason=reason,
        )
        changed = True
    for invoice_id, target in targets.items():
        if invoice_id in kept:
            continue
        allocation_apply(
            payment,
            invoices[invoice_id],
            target.amount,
            applied_by=applied_by,
            field=fields[invoice_id],
            conversion=target.conversion,
        )
        changed = True
    return changed


# --- write-offs -------------------------------------------------------------------------------


def _write_off_account(organization) -> Account:
    """The expense account write-offs post to (6950 "Short-payment write-offs", created once)."""
    org_id = getattr(organization, "pk", organization)
    payment_settings_get(organization=org_id)
    locked = lock_objects.payment_settings_for_update(org_id)
    if locked.write_off_account_id is not None:
        return locked.write_off_account
    account = (
        Account.objects.for_org(org_id).filter(account_number=WRITE_OFF_ACCOUNT_NUMBER).first()
    )
    if account is None or account.type != Account.Type.EXPENSE:
        number = WRITE_OFF_ACCOUNT_NUMBER
        while Account.objects.for_org(org_id).filter(account_number=number).exists():
            number += 1
        account = account_create(
            organization=locked.organization,
            account_number=number,
            name=WRITE_OFF_ACCOUNT_NAME,
            type=Account.Type.EXPENSE,
        )
    locked.write_off_account = account
    locked.save(update_fields=["write_off_account"])
    return account


def write_off_short(payment: Payment, invoices: dict, tolerance: Decimal) -> bool:
    """Write off what the payment's invoices still owe, if within ``tolerance`` in total."""
    field = "write_off_short_payment"
    if payment.unapplied_amount > 0:
        raise ValidationFailed(
            f"The payment still has {payment.unapplied_amount} unapplied; a short-payment is "
            "written off only once all of the payment is applied.",
            fields={field: [f"{payment.unapplied_amount} of the payment is still unapplied."]},
        )
    active = active_allocations(payment)
    short = [
        (allocation, invoices[allocation.invoice_id])
        for allocation in active
        if allocation.write_off_entry_id is None
        and invoices[allocation.invoice_id].amount_due > 0
        and invoices[allocation.invoice_id].status in Invoice.OPEN_STATUSES
    ]
    # The tolerance is in the base currency: a foreign invoice's short at its booked rate.
    total = sum(
        (
            invoice.amount_due
            if invoice.exchange_rate is None
            else to_base(
                invoice.amount_due,
                invoice.exchange_rate,
                currency_unit(organization_currency(invoice.organization)),
            )
            for _, invoice in short
        ),
        ZERO,
    )
    if not short:
        return False
    if total > tolerance:
        raise ValidationFailed(
            f"The short-payment of {total} exceeds the write-off tolerance of {tolerance}.",
            fields={field: [f"Short by {total}; at most {tolerance} may be written off."]},
        )
    account = _write_off_account(payment.organization_id)
    for allocation, invoice in short:
        amount = invoice.amount_due
        entry = invoice_apply_payment(
            invoice=invoice,
            amount=amount,
            received_date=timezone.localdate(),
            cash_account=account,
            source="write_off",
            memo=f"Short-payment on invoice {invoice.invoice_number} written off",
            field_name=field,
        )
        allocation.write_off_amount = amount
        allocation.write_off_entry = entry
        allocation.save(update_fields=["write_off_amount", "write_off_entry", "updated_at"])
        payment.written_off_amount += amount
        _money_event(
            payment,
            "write_off",
            amount,
            invoice,
            {
                "allocation_id": str(allocation.pk),
                "write_off_account_number": account.account_number,
                **_entry_payload(entry),
            },
        )
    return True


# --- deductions -------------------------------------------------------------------------------


def deduct_short(
    payment: Payment, invoices: dict, reason_code: str, *, note: str = "", field: str
) -> list:
    """Open a deduction (``credits``) for what each of the payment's invoices still owes,
    with ``reason_code``: the short pay beyond the write-off tolerance. Nothing moves: the
    remainder stays on the invoice as the deduction, out of dunning until resolved. The
    invoices are locked by the caller. 400 naming ``field`` while some of the payment is
    unapplied, for an unknown reason, or with nothing short; 409 for an invoice that already
    has an open deduction."""
    if payment.unapplied_amount > 0:
        raise ValidationFailed(
            f"The payment still has {payment.unapplied_amount} unapplied; a short-payment "
            "becomes a deduction only once all of the payment is applied.",
            fields={field: [f"{payment.unapplied_amount} of the payment is still unapplied."]},
        )
    short = [
        invoices[allocation.invoice_id]
        for allocation in active_allocations(payment)
        if invoices[allocation.invoice_id].amount_due > 0
        and invoices[allocation.invoice_id].status in Invoice.OPEN_STATUSES
    ]
    if not short:
        raise ValidationFailed(
            "The payment's invoices owe nothing: there is no short-payment.",
            fields={field: ["Nothing is short."]},
        )
    return [
        deduction_open(
            organization=payment.organization,
            invoice=invoice,
            amount=invoice.amount_due,
            reason_code=reason_code,
            payment=payment,
            note=note,
            reason_field=field,
        )
        for invoice in short
    ]


@transaction.atomic
def payment_deduct_short(
    *,
    organization,
    payment_id,
    reason_code: str,
    note: str = "",
    field: str = "deduction_reason_code",
) -> list:
    """A clerk's "short pay → deduction": the payment locked, then its invoices (the order of
    the money services), and a deduction opened for each invoice it leaves short."""
    payment = lock_objects.payment_for_update(organization, payment_id)
    invoices = lock_invoices(payment, active_allocations(payment))
    return deduct_short(payment, invoices, reason_code, note=note, field=field)
