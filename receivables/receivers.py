"""What receivables does when a lower app tells it something (``arpilot.hooks``)."""

from arpilot import hooks
from receivables import services


def organization_created(event: hooks.OrganizationCreated) -> None:
    services.organization_ledger_setup(organization=event.organization)


def customer_deleting(event: hooks.CustomerDeleting) -> None:
    services.customer_delete_hook(customer=event.customer)
