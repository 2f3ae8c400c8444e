"""What reconciliation does when a lower app tells it something (``arpilot.hooks``)."""

from arpilot import hooks
from reconciliation import services
from reconciliation.models import AccountingChange

# The attribute of the reviewed payment that carries how many changes its review approved:
# ``payment_mark_reviewed`` returns that payment, and the clerk's page says the number.
APPROVED_ON_REVIEW = "changes_approved_on_review"


def money_moved(event: hooks.MoneyMoved) -> AccountingChange:
    """A pending accounting change for the money that moved (returned to the sender)."""
    return services.change_record_from_event(event)


def payment_reviewed(event: hooks.PaymentReviewed) -> int:
    """Approve the reviewed payment's pending changes; the number approved is returned and
    also left on the payment (``APPROVED_ON_REVIEW``) for the page that marked it."""
    approved = services.changes_approve_for_payment(
        organization=event.organization, payment=event.payment
    )
    if event.payment is not None:
        setattr(event.payment, APPROVED_ON_REVIEW, approved)
    return approved
