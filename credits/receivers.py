"""What credits does when a lower app tells it something (``arpilot.hooks``)."""

from arpilot.hooks import OrganizationCreated
from credits.services import reasons_seed


def organization_created(event: OrganizationCreated) -> None:
    """A new organization starts with the default deduction reasons (and their accounts)."""
    reasons_seed(organization=event.organization)


def invoice_issued(event) -> None:
    """A new invoice: the customer's on-account credit settles it when the organization
    turns auto-apply of credit on (filled in by the customer-credit work)."""
    return None
