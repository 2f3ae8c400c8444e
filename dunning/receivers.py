"""What collections does when a lower app tells it something (``arpilot.hooks``)."""

from arpilot.hooks import OrganizationCreated
from dunning.services import organization_seed


def organization_created(event: OrganizationCreated) -> None:
    """A new organization starts with the default dunning policy and dispute reasons."""
    organization_seed(organization=event.organization)


def email_gave_up(event) -> None:
    """An email will not be sent (``arpilot.hooks.EmailGaveUp``): to be implemented."""
    return None
