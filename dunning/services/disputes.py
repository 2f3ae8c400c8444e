"""Disputes: an invoice leaves dunning while its customer disputes it, until resolved.

A resolution is recorded with its note; ``credit_note`` and ``write_off`` also move money:
``amount`` (default: all the invoice still owes) comes off its balance through receivables
(``invoice_credit``: Dr sales credits / Cr receivable; ``invoice_write_off``: Dr the
write-off expense account / Cr receivable), which posts the ledger entry and records a
pending accounting change (``credit_note`` or ``write_off``) for the approval flow. The
dispute keeps the amount, the entry and the change; ``dispute.resolved`` carries them.
"""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from arpilot.errors import Conflict, NotFound, ValidationFailed
from dunning import lock_objects
from dunning.models import Dispute, DisputeReason
from dunning.rendering import render_dispute
from receivables import lock_objects as invoice_locks
from receivables.models import Invoice
from receivables.services import Adjustment, invoice_credit, invoice_write_off
from reconciliation.models import AccountingChange
from webhooks.services import event_emit, event_wanted


def _invoice_locked(organization, invoice_id) -> Invoice:
    found = invoice_locks.invoices_for_update(organization, [invoice_id])
    if not found:
        raise NotFound("Not found.")
    return found[0]


def _emit(dispute: Dispute, event_type: str) -> None:
    if event_wanted(dispute.organization_id, event_type):
        event_emit(
            organization_id=dispute.organization_id,
            event_type=event_type,
            data=render_dispute(dispute),
        )


@transaction.atomic
def dispute_open(*, organization, invoice_id, reason_code: str, note: str = "") -> Dispute:
    """Open the invoice's dispute (one open at a time; 409 for a second or a closed invoice)."""
    invoice = _invoice_locked(organization, invoice_id)
    if invoice.status not in Invoice.OPEN_STATUSES:
        raise Conflict(f"This invoice is {invoice.status}; only an open invoice is disputed.")
    reason = (
        DisputeReason.objects.for_org(organization).filter(code=reason_code, is_active=True).first()
    )
    if reason is None:
        codes = DisputeReason.objects.for_org(organization).filter(is_active=True)
        known = ", ".join(codes.values_list("code", flat=True))
        raise ValidationFailed(
            f"Unknown reason_code {reason_code!r}.",
            fields={"reason_code": [f"Not one of the organization's reasons: {known}."]},
        )
    if Dispute.objects.filter(invoice=invoice, status=Dispute.Status.OPEN).exists():
        raise Conflict("This invoice already has an open dispute.")
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(
                organization_id=organization.pk, invoice=invoice, reason=reason, note=note
            )
    except IntegrityError:
        raise Conflict("This invoice already has an open dispute.") from None
    _emit(dispute, "dispute.opened")
    return dispute


_ADJUSTMENTS = {
    Dispute.Resolution.CREDIT_NOTE: invoice_credit,
    Dispute.Resolution.WRITE_OFF: invoice_write_off,
}


def _adjust(dispute: Dispute, invoice: Invoice, resolution: str, amount, note: str) -> Adjustment:
    label = "Credit note" if resolution == Dispute.Resolution.CREDIT_NOTE else "Write-off"
    memo = f"{label} on disputed invoice {invoice.invoice_number} ({dispute.reason.label})"
    if note:
        memo = f"{memo}: {note}"
    return _ADJUSTMENTS[resolution](
        invoice=invoice,
        amount=amount,
        memo=memo[:500],
        field_name="amount",
        locked=True,  # by _invoice_locked, in this transaction
        extra={"dispute_id": str(dispute.pk), "dispute_reason": dispute.reason.code},
    )


@transaction.atomic
def dispute_resolve(
    *,
    organization,
    invoice_id,
    resolution: str,
    note: str = "",
    amount: Decimal | None = None,
) -> Dispute:
    """Resolve the invoice's open dispute: ``withdrawn`` (recorded), or ``credit_note`` /
    ``write_off`` of ``amount`` (default: what the invoice owes; above zero and at most that,
    else a 400 naming ``amount``), posted and recorded for approval. 409 without an open
    dispute; ``amount`` with ``withdrawn`` is a 400."""
    invoice = _invoice_locked(organization, invoice_id)
    dispute = lock_objects.open_dispute_for_update(organization, invoice.pk).first()
    if dispute is None:
        raise Conflict("This invoice has no open dispute.")
    if resolution in _ADJUSTMENTS:
        adjustment = _adjust(dispute, invoice, resolution, amount, note)
        dispute.resolution_amount = adjustment.amount
        dispute.journal_entry = adjustment.entry
        dispute.accounting_change = next(
            (item for item in adjustment.recorded if isinstance(item, AccountingChange)), None
        )
    elif amount is not None:
        message = "Only a credit_note or write_off resolution takes an amount."
        raise ValidationFailed(message, fields={"amount": [message]})
    dispute.status = Dispute.Status.RESOLVED
    dispute.resolution = resolution
    dispute.resolution_note = note
    dispute.resolved_at = timezone.now()
    dispute.save()
    _emit(dispute, "dispute.resolved")
    return dispute
