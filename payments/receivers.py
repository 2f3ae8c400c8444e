"""What payments does when a lower app tells it something (``arpilot.hooks``)."""

from arpilot.hooks import InvoiceIssued
from payments.services.credit import auto_apply_credit_on, invoice_settle_from_credit


def invoice_issued(event: InvoiceIssued) -> list:
    """A new invoice: settled from its customer's on-account credit when the organization
    turns ``auto_apply_credit`` on (read from the cache: no query while it is off)."""
    if not auto_apply_credit_on(event.organization.pk):
        return []
    return invoice_settle_from_credit(organization=event.organization, invoice=event.invoice)
