"""What collections does when a lower app tells it something (``arpilot.hooks``)."""

from arpilot.hooks import EmailGaveUp, EmailSent, OrganizationCreated
from dunning.services import organization_seed
from dunning.services.reminders import reminder_email_gave_up, reminder_email_sent

# The kind ``dunning.services.run`` queues reminders as.
REMINDER_EMAIL_KIND = "reminder"


def organization_created(event: OrganizationCreated) -> None:
    """A new organization starts with the default dunning policy and dispute reasons."""
    organization_seed(organization=event.organization)


def email_gave_up(event: EmailGaveUp):
    """An email will not be sent (``arpilot.hooks.EmailGaveUp``): a reminder it carried
    becomes ``failed`` (or ``cancelled``, when a clerk cancelled it) and releases its
    invoices' level; the reminder is returned (None for other emails)."""
    if event.email.kind != REMINDER_EMAIL_KIND:
        return None
    return reminder_email_gave_up(event.email)


def email_sent(event: EmailSent):
    """An email was sent (``arpilot.hooks.EmailSent``): a reminder it carried becomes
    ``sent`` and ``reminder.sent`` goes out; the reminder is returned (None for others)."""
    if event.email.kind != REMINDER_EMAIL_KIND:
        return None
    return reminder_email_sent(event.email)
