"""What credits does when a lower app tells it something (``arpilot.hooks``)."""

from arpilot.hooks import CustomerDeleting, OrganizationCreated
from credits.services import credit_notes, reasons_seed


def organization_created(event: OrganizationCreated) -> None:
    """A new organization starts with the default deduction reasons (and their accounts)."""
    reasons_seed(organization=event.organization)


def customer_deleting(event: CustomerDeleting) -> None:
    """A customer with a posted or voided credit note (its ledger entries stay) cannot be
    deleted (409); its drafts go with it."""
    credit_notes.customer_deleting(event)
