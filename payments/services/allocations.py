"""The mechanics under the money services: locking a payment's invoices, applying and
unapplying one allocation (each posting its journal entry and telling the money-event
receivers), checking and resolving a requested spread, writing off a short-payment, and opening
deductions for one beyond the tolerance.

Callers hold the payment's lock (``lock_objects.payment_for_update``) and take the
invoices' locks through ``lock_invoices``, in that order (see ``money``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from arpilot import hooks
from arpilot.currencies import cross_currency_reason
from arpilot.errors import ValidationFailed
from credits.services import deduction_open
from payments import lock_objects
from payments.models import ZERO, Payment, PaymentAllocation
from payments.services.common import organization_currency, payment_settings_get
from receivables import lock_objects as invoice_locks
from receivables.models import Account, Invoice
from receivables.services import account_create, invoice_apply_payment, invoice_unapply_payment

WRITE_OFF_ACCOUNT_NUMBER = 6950
WRITE_OFF_ACCOUNT_NAME = "Short-payment write-offs"


@dataclass(frozen=True)
class AllocationSpec:
    """Apply ``amount`` (None: as much as the invoice's open balance takes) to the invoice."""

    invoice_id: object
    amount: Decimal | None
    field: str  # the request field to name in errors


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


def allocation_apply(
    payment: Payment, invoice: Invoice, amount: Decimal, *, applied_by: str, field: str
) -> PaymentAllocation:
    entry = invoice_apply_payment(
        invoice=invoice,
        amount=amount,
        received_date=payment.payment_date,
        source="payment",
        memo=f"Payment from {payment.payer_name or 'unknown payer'} applied to invoice "
        f"{invoice.invoice_number}",
        field_name=field,
        locked=True,  # by lock_invoices, in this transaction
    )
    allocation = PaymentAllocation.objects.create(
        organization_id=payment.organization_id,
        payment=payment,
        invoice=invoice,
        amount=amount,
        applied_by=applied_by,
        journal_entry=entry,
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
        },
        entries=(entry,),
    )
    return allocation


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

    Invoices are in the organization's currency; a payment applies only to invoices of its
    own currency (an empty payment currency is the organization's)."""
    invoices_in = (organization_currency or "").upper()
    paid_in = (payment.currency or "").upper() or invoices_in
    if paid_in == invoices_in:
        return ""
    return (
        f"This payment is in {paid_in}; invoices are in {invoices_in}. "
        "A payment applies only to invoices of its own currency."
    )


def check_currency(payment: Payment, organization, field: str) -> None:
    """Refuse to apply a payment to invoices of another currency (a 400 naming ``field``)."""
    reason = payment_currency_mismatch(payment, organization_currency(organization))
    if reason:
        raise ValidationFailed(reason, fields={field: [reason]})


def _check_invoice(invoice: Invoice | None, field: str, paid_in: str = "") -> Invoice:
    """The invoice money may be applied to (``paid_in``: the payment's currency)."""
    if invoice is None:
        raise ValidationFailed("Unknown invoice.", fields={field: ["Unknown invoice."]})
    reason = cross_currency_reason(paid_in, invoice.currency) if paid_in else ""
    if reason:  # a rate would be needed (the realised gain or loss is not built yet)
        raise ValidationFailed(reason, fields={field: [reason], "exchange_rate": [reason]})
    if invoice.status in (Invoice.Status.DRAFT, Invoice.Status.VOID):
        raise ValidationFailed(
            f"Invoice {invoice.invoice_number} is {invoice.status}; money cannot be applied to it.",
            fields={field: [f"The invoice is {invoice.status}."]},
        )
    return invoice


def _target_amount(payment: Payment, spec: AllocationSpec, invoice: Invoice, available) -> Decimal:
    """What ``spec`` asks to apply to ``invoice`` (which has ``available`` open for it)."""
    if spec.amount is None:
        amount = min(payment.amount, available)
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
    if amount > available:
        raise ValidationFailed(
            f"{amount} exceeds the open balance of invoice {invoice.invoice_number} ({available}).",
            fields={amount_field: [f"Exceeds the invoice's open balance ({available})."]},
        )
    return amount


def resolve_targets(payment: Payment, specs: list[AllocationSpec], active, invoices) -> dict:
    """{invoice_pk: amount} the payment should end up applied with."""
    held = {allocation.invoice_id: allocation for allocation in active}
    # A payment without a currency (recorded before payments carried one) is in the base.
    paid_in = (payment.currency or "").upper() or organization_currency(payment.organization)
    targets: dict = {}
    explicit_total = ZERO
    for spec in specs:
        invoice = _check_invoice(invoices.get(spec.invoice_id), spec.field, paid_in)
        if invoice.pk in targets:
            raise ValidationFailed(
                f"Invoice {invoice.invoice_number} is listed twice.",
                fields={spec.field: ["Each invoice may appear once."]},
            )
        mine = held.get(invoice.pk)
        available = invoice.amount_due + (mine.amount + mine.write_off_amount if mine else ZERO)
        targets[invoice.pk] = _target_amount(payment, spec, invoice, available)
        if spec.amount is not None:
            explicit_total += targets[invoice.pk]
    if explicit_total > payment.amount:
        raise ValidationFailed(
            f"The allocations total {explicit_total}, more than the payment's {payment.amount}.",
            fields={"allocations": [f"The total exceeds the payment amount ({payment.amount})."]},
        )
    return targets


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
    """Make the payment's active allocations equal ``targets``; True if anything changed."""
    changed = False
    kept = set()
    for allocation in active:
        target = targets.get(allocation.invoice_id)
        if target is not None and target == allocation.amount:
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
    for invoice_id, amount in targets.items():
        if invoice_id in kept:
            continue
        allocation_apply(
            payment, invoices[invoice_id], amount, applied_by=applied_by, field=fields[invoice_id]
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
    total = sum((invoice.amount_due for _, invoice in short), ZERO)
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
