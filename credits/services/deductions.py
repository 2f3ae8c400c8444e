"""Deductions: a short payment with a reason. The invoice's remainder is the deduction, not
overdue debt: dunning skips an invoice while its deduction is open.

Opened for an amount above zero and at most what the invoice still owes, one open per
invoice (a second is a 409); ``deduction.opened`` goes out. Resolved as:

* ``write_off``   the amount comes off the invoice through receivables' ``invoice_write_off``
                  to the reason's account (Dr reason account / Cr receivable);
* ``credit_note`` a credit note document (``credit_notes``): created against the invoice, in
                  its currency and at its booked rate, one line to the reason's account
                  (Dr reason account / Cr receivable), posted, and applied to the invoice,
                  so the customer has the document (its statement lists it);
* ``rebill``      credited on the original invoice like a credit note, and billed again as
                  a new invoice (one line on the original's revenue account and fund, due
                  after as many days as the original's terms); the deduction keeps it;
* ``collected``   nothing moves: the customer paid the remainder, or a clerk says it will
                  be paid; the invoice simply returns to normal dunning if still owed.

Each money-moving resolution posts its entry and records a pending accounting change
(receivables' adjustments tell ``MoneyMoved``; a credit note's posting records a
``credit_note`` change, and its application one more with no ledger lines); the deduction
keeps the amount, the entry (the note's posting) and the change (the posting's), and
``deduction.resolved`` carries them. The amount moved is the deduction's,
or what the invoice still owes if that is less (paid meanwhile); nothing owed is a 409 for
a money-moving resolution (resolve it as ``collected``).
"""

from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from arpilot.currencies import amount_check
from arpilot.errors import Conflict, NotFound, ValidationFailed
from credits import lock_objects
from credits.models import CreditNote, Deduction, DeductionReason
from credits.rendering import render_deduction
from credits.services.credit_notes import (
    AllocationInput,
    LineInput,
    credit_note_apply,
    credit_note_create,
)
from credits.services.reasons import reasons_ensure
from receivables import lock_objects as invoice_locks
from receivables.models import Account, Invoice
from receivables.services import LineSpec, default_account, default_fund, invoice_create
from receivables.services.adjustments import Adjustment, invoice_credit, invoice_write_off
from webhooks.services import event_emit, event_wanted

ACCOUNTING_CHANGE_LABEL = "reconciliation.AccountingChange"  # a higher app's model


def _emit(deduction: Deduction, event_type: str) -> None:
    if event_wanted(deduction.organization_id, event_type):
        event_emit(
            organization_id=deduction.organization_id,
            event_type=event_type,
            data=render_deduction(deduction),
        )


def _invoice_locked(organization, invoice_id, field: str | None = None) -> Invoice:
    found = invoice_locks.invoices_for_update(organization, [invoice_id])
    if not found:
        if field:
            raise ValidationFailed("Unknown invoice.", fields={field: ["Unknown invoice."]})
        raise NotFound("Not found.")
    return found[0]


def reason_by_code(organization, code: str, field: str = "reason_code") -> DeductionReason:
    """The organization's active reason ``code`` (a 400 naming ``field`` otherwise)."""
    reasons_ensure(organization)
    reason = (
        DeductionReason.objects.for_org(organization)
        .filter(code=code, is_active=True)
        .select_related("account")
        .first()
    )
    if reason is None:
        active = DeductionReason.objects.for_org(organization).filter(is_active=True)
        known = ", ".join(sorted(active.values_list("code", flat=True)))
        raise ValidationFailed(
            f"Unknown {field} {code!r}.",
            fields={field: [f"Not one of the organization's reasons: {known}."]},
        )
    return reason


@transaction.atomic
def deduction_open(
    *,
    organization,
    invoice_id=None,
    amount: Decimal,
    reason_code: str,
    payment=None,
    note: str = "",
    invoice: Invoice | None = None,
    reason_field: str = "reason_code",
) -> Deduction:
    """Open the invoice's deduction of ``amount`` for ``reason_code``.

    ``invoice``: already locked by the caller in this transaction (the payments' short pay),
    instead of ``invoice_id``. 400 naming ``amount`` when it is not above zero or exceeds
    what the invoice owes, naming ``reason_field`` for an unknown reason; 409 for an invoice
    that is not open or already has an open deduction."""
    if invoice is None:
        invoice = _invoice_locked(organization, invoice_id)
    reason = reason_by_code(organization, reason_code, reason_field)
    if invoice.status not in Invoice.OPEN_STATUSES:
        raise Conflict(f"This invoice is {invoice.status}; only an open invoice has deductions.")
    if amount <= 0:
        raise ValidationFailed(
            "The amount must be greater than zero.",
            fields={"amount": ["Must be greater than zero."]},
        )
    if amount > invoice.amount_due:
        raise ValidationFailed(
            f"{amount} exceeds the open balance of {invoice.amount_due}.",
            fields={"amount": [f"Exceeds the open balance ({invoice.amount_due})."]},
        )
    if Deduction.objects.filter(invoice=invoice, status=Deduction.Status.OPEN).exists():
        raise Conflict(f"Invoice {invoice.invoice_number} already has an open deduction.")
    try:
        with transaction.atomic():
            deduction = Deduction.objects.create(
                organization_id=invoice.organization_id,
                invoice=invoice,
                customer_id=invoice.customer_id,
                payment=payment,
                amount=amount,
                reason=reason,
                note=note,
            )
    except IntegrityError:
        raise Conflict(f"Invoice {invoice.invoice_number} already has an open deduction.") from None
    _emit(deduction, "deduction.opened")
    return deduction


@transaction.atomic
def deduction_update(*, organization, deduction_id, **changes) -> Deduction:
    """Change an open deduction's ``note`` or ``reason_code`` (a resolved one is a 409)."""
    deduction = lock_objects.deduction_for_update(organization, deduction_id)
    if deduction is None:
        raise NotFound("Not found.")
    if deduction.status != Deduction.Status.OPEN:
        raise Conflict("This deduction is resolved; only an open deduction changes.")
    if "reason_code" in changes:
        deduction.reason = reason_by_code(organization, changes.pop("reason_code"))
    if "note" in changes:
        deduction.note = changes.pop("note")
    deduction.save()
    return deduction


def _rebill(deduction: Deduction, invoice: Invoice, amount: Decimal, note: str) -> Invoice:
    """A new invoice for ``amount``: one line on the original's revenue account and fund,
    issued today and due after the original's terms."""
    line = invoice.lines.select_related("account", "fund").order_by("position", "id").first()
    organization = invoice.organization
    if line is not None and line.account.type == Account.Type.INCOME:
        account, fund = line.account, line.fund
    else:
        account = default_account(organization, Account.Role.REVENUE)
        fund = line.fund if line is not None else default_fund(organization)
    today = timezone.localdate()
    terms = max((invoice.due_date - invoice.issue_date).days, 0)
    text = f"Re-bill of the {deduction.reason.name.lower()} deduction on {invoice.invoice_number}"
    return invoice_create(
        organization=organization,
        customer=invoice.customer,
        invoice_number=_rebill_number(invoice),
        due_date=today + timedelta(days=terms),
        issue_date=today,
        customer_name=invoice.customer_name,
        customer_address=invoice.customer_address,
        notes=(f"{text}: {note}" if note else text)[:2000],
        lines=[LineSpec(amount=amount, account=account, fund=fund, note=text[:500])],
        ar_account=invoice.ar_account,
        # In the deduction's money, at the rate the original was booked at: what comes off
        # the original goes onto the new one, with no exchange difference between them.
        currency=invoice.currency,
        exchange_rate=invoice.exchange_rate,
    )


def _rebill_number(invoice: Invoice) -> str:
    """``<original>-R``, then ``-R2``, ``-R3``… (the first free one)."""
    base = f"{invoice.invoice_number}-R"[:100]
    taken = set(
        Invoice.objects.for_org(invoice.organization_id)
        .filter(invoice_number__startswith=base)
        .values_list("invoice_number", flat=True)
    )
    number, n = base, 1
    while number in taken:
        n += 1
        number = f"{base}{n}"
    return number


def _amount_to_move(deduction: Deduction, invoice: Invoice) -> Decimal:
    """The deduction's amount, or what the invoice still owes if less; a 409 when it owes
    nothing (or is not open)."""
    amount = min(deduction.amount, invoice.amount_due)
    if invoice.status not in Invoice.OPEN_STATUSES or amount <= 0:
        raise Conflict(
            f"Invoice {invoice.invoice_number} owes nothing now; resolve the deduction as "
            "collected."
        )
    return amount


def _memo(deduction: Deduction, invoice: Invoice, resolution: str, note: str) -> str:
    label = {
        Deduction.Resolution.WRITE_OFF: "Deduction written off",
        Deduction.Resolution.CREDIT_NOTE: "Credit note for a deduction",
        Deduction.Resolution.REBILL: "Deduction re-billed",
    }[resolution]
    memo = f"{label} on invoice {invoice.invoice_number} ({deduction.reason.name})"
    return f"{memo}: {note}" if note else memo


def _credit_note(deduction: Deduction, invoice: Invoice, note: str) -> tuple[CreditNote, object]:
    """A posted credit note for the deduction (see the module), applied to the invoice; the
    note (its ``amount`` what came off the invoice) and the posting's accounting change."""
    amount = _amount_to_move(deduction, invoice)
    amount_check(amount, invoice.currency, "resolution")
    memo = _memo(deduction, invoice, Deduction.Resolution.CREDIT_NOTE, note)
    first = invoice.lines.select_related("fund").order_by("position", "id").first()
    credit_note = credit_note_create(
        organization=invoice.organization,
        customer=invoice.customer,
        currency=invoice.currency,
        issue_date=timezone.localdate(),
        invoice_id=invoice,
        memo=memo[:2000],
        lines=[
            LineInput(
                amount=amount,
                account=deduction.reason.account,
                fund=first.fund if first is not None else None,
                description=f"{deduction.reason.name} deduction on {invoice.invoice_number}"[:500],
            )
        ],
        ar_account=invoice.ar_account,
        status=CreditNote.Status.POSTED,
        change_extra={
            "deduction_id": str(deduction.pk),
            "deduction_reason": deduction.reason.code,
        },
    )
    change = _accounting_change(credit_note.posting_recorded)
    credit_note_apply(
        organization=invoice.organization,
        credit_note_id=credit_note.pk,
        allocations=[AllocationInput(invoice_id=invoice.pk, amount=amount)],
    )
    invoice.refresh_from_db()  # the apply read (and changed) its own copy
    return credit_note, change


def _accounting_change(recorded):
    """The pending accounting change among what the money-event receivers recorded."""
    return next(
        (
            item
            for item in recorded
            if getattr(getattr(item, "_meta", None), "label", "") == ACCOUNTING_CHANGE_LABEL
        ),
        None,
    )


def _move_money(deduction: Deduction, invoice: Invoice, resolution: str, note: str) -> Adjustment:
    amount = _amount_to_move(deduction, invoice)
    memo = _memo(deduction, invoice, resolution, note)
    options = {
        "invoice": invoice,
        "amount": amount,
        "memo": memo[:500],
        "field_name": "resolution",
        "locked": True,  # by _invoice_locked, in this transaction
        "extra": {"deduction_id": str(deduction.pk), "deduction_reason": deduction.reason.code},
    }
    if resolution == Deduction.Resolution.WRITE_OFF:
        return invoice_write_off(account=deduction.reason.account, **options)
    return invoice_credit(**options)


@transaction.atomic
def deduction_resolve(*, organization, deduction_id, resolution: str, note: str = "") -> Deduction:
    """Resolve an open deduction (``write_off``, ``credit_note``, ``rebill`` or
    ``collected``; see the module). 404 for another organization's; 409 when resolved."""
    invoice_id = (
        Deduction.objects.for_org(organization)
        .filter(pk=deduction_id)
        .values_list("invoice_id", flat=True)
        .first()
    )
    if invoice_id is None:
        raise NotFound("Not found.")
    invoice = _invoice_locked(organization, invoice_id)  # the invoice first, like payments
    deduction = lock_objects.deduction_for_update(organization, deduction_id)
    if deduction is None:
        raise NotFound("Not found.")
    if deduction.status != Deduction.Status.OPEN:
        raise Conflict("This deduction is already resolved.")
    if resolution not in Deduction.Resolution.values:
        raise ValidationFailed(
            f"Unknown resolution {resolution!r}.",
            fields={"resolution": [f"One of {', '.join(Deduction.Resolution.values)}."]},
        )
    if resolution == Deduction.Resolution.CREDIT_NOTE:
        credit_note, change = _credit_note(deduction, invoice, note)
        deduction.resolution_amount = credit_note.amount
        deduction.journal_entry = credit_note.journal_entry
        deduction.accounting_change = change
    elif resolution != Deduction.Resolution.COLLECTED:
        adjustment = _move_money(deduction, invoice, resolution, note)
        deduction.resolution_amount = adjustment.amount
        deduction.journal_entry = adjustment.entry
        deduction.accounting_change = _accounting_change(adjustment.recorded)
        if resolution == Deduction.Resolution.REBILL:
            deduction.rebill_invoice = _rebill(deduction, invoice, adjustment.amount, note)
    deduction.invoice = invoice
    deduction.status = Deduction.Status.RESOLVED
    deduction.resolution = resolution
    deduction.resolution_note = note
    deduction.resolved_at = timezone.now()
    deduction.save()
    _emit(deduction, "deduction.resolved")
    return deduction
