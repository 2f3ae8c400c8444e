"""What reconciliation does when a lower app tells it something (``arpilot.hooks``)."""

from arpilot import hooks
from reconciliation import services
from reconciliation.models import AccountingChange


def money_moved(event: hooks.MoneyMoved) -> AccountingChange:
    """A pending accounting change for the money that moved (returned to the sender)."""
    return services.change_record_from_event(event)


def payment_reviewed(event: hooks.PaymentReviewed) -> int:
    return services.changes_approve_for_payment(
        organization=event.organization, payment=event.payment
    )
