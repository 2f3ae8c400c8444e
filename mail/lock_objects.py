"""The mail app's row locks: one email at a time, by primary key."""

from mail.models import OutboundEmail


def email_claimable(email_id, *, now, due_before):
    """The email, if it is queued and due and no other worker is taking it."""
    return (
        OutboundEmail.objects.due(now, due_before=due_before)
        .filter(pk=email_id)
        .select_for_update(skip_locked=True)
    )


def email_for_update(email_id):
    return OutboundEmail.objects.filter(pk=email_id).select_for_update()
