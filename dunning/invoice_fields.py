"""Fields collections adds to invoice JSON (``arpilot.hooks.InvoicesDescribed``)."""

from dunning.selectors import invoice_open_disputes


def render_invoice_dispute(row: tuple) -> dict:
    """The open dispute (a row of ``OPEN_DISPUTE_FIELDS``) as an invoice shows it (names as
    ``rendering.render_dispute``; ``opened_at`` is the dispute's ``created_at``, in the same
    format)."""
    _invoice_id, pk, reason_code, reason_label, note, created_at = row
    return {
        "id": str(pk),
        "reason_code": reason_code,
        "reason": reason_label,
        "note": note,
        "opened_at": created_at.isoformat(),
    }


def invoices_described(event) -> dict:
    """``{invoice id: {"dispute": …}}`` for every invoice of the page: its open dispute, or
    None. One query for the whole page."""
    if not event.invoice_ids:
        return {}
    if event.created:  # nobody can have disputed an invoice this request created
        return {invoice_id: {"dispute": None} for invoice_id in event.invoice_ids}
    disputes = {
        str(invoice_id): dispute
        for invoice_id, dispute in invoice_open_disputes(
            organization=event.organization, invoice_ids=event.invoice_ids
        ).items()
    }
    described = {}
    for invoice_id in event.invoice_ids:
        dispute = disputes.get(str(invoice_id))
        described[invoice_id] = {
            "dispute": render_invoice_dispute(dispute) if dispute is not None else None
        }
    return described
