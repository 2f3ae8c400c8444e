"""Disputes: an invoice leaves dunning while its customer disputes it, until resolved.

Resolutions are recorded, and move no money: ``credit_note`` because credit notes do not
exist yet, ``write_off`` because no service writes off an invoice's balance outside a
payment's short-pay (``payments.services.allocations.write_off_short``). The clerk books
either in the accounting system for now.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from arpilot.errors import Conflict, NotFound, ValidationFailed
from dunning import lock_objects
from dunning.models import Dispute, DisputeReason
from dunning.rendering import render_dispute
from receivables import lock_objects as invoice_locks
from receivables.models import Invoice
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


@transaction.atomic
def dispute_resolve(*, organization, invoice_id, resolution: str, note: str = "") -> Dispute:
    """Resolve the invoice's open dispute: withdrawn, credit_note or write_off (recorded)."""
    invoice = _invoice_locked(organization, invoice_id)
    dispute = lock_objects.open_dispute_for_update(organization, invoice.pk).first()
    if dispute is None:
        raise Conflict("This invoice has no open dispute.")
    dispute.status = Dispute.Status.RESOLVED
    dispute.resolution = resolution
    dispute.resolution_note = note
    dispute.resolved_at = timezone.now()
    dispute.save()
    _emit(dispute, "dispute.resolved")
    return dispute
