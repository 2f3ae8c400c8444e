from mail.models import OutboundEmail, OutboundEmailAttachment

# What the list shows: never the bodies.
_LIST_FIELDS = (
    "id",
    "organization_id",
    "created_at",
    "kind",
    "to",
    "subject",
    "status",
    "attempt_count",
    "next_attempt_at",
    "sent_at",
)


def email_list(*, organization):
    """The organization's emails, newest first."""
    return (
        OutboundEmail.objects.for_org(organization)
        .only(*_LIST_FIELDS)
        .order_by("-created_at", "-id")
    )


def email_kinds(*, organization) -> list[str]:
    """The kinds of email the organization has sent, for the filter."""
    return list(
        OutboundEmail.objects.for_org(organization)
        .order_by("kind")
        .values_list("kind", flat=True)
        .distinct()
    )


def email_detail(*, organization):
    return OutboundEmail.objects.for_org(organization)


def attachment_list(*, email) -> list[OutboundEmailAttachment]:
    """The email's attachments, without their bytes."""
    return list(email.attachments.defer("content").order_by("position"))
