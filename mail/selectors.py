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


def email_list_referencing(*, organization, kind: str, key: str, value, status: str = ""):
    """The organization's emails of ``kind`` whose ``reference`` names ``value`` under
    ``key`` (e.g. statements of one customer: kind "statement", key "customer_id"; a list of
    values names any of them), newest
    first, optionally only those in ``status``; without the bodies. A queryset: slice it and
    count it.

    For ``key`` "customer_id" an index on (organization, kind, reference -> customer_id,
    created_at) serves the filter, the count and the order (read backwards from the newest);
    for other keys the (organization, kind, created_at) index does, the reference checked on
    the rows it finds.
    """
    if not key.isidentifier() or "__" in key:  # a JSON key, never a lookup
        raise ValueError(f"A reference key is a plain name, got {key!r}")
    lookup = (
        f"reference__{key}__in" if isinstance(value, list | tuple | set) else f"reference__{key}"
    )
    emails = OutboundEmail.objects.for_org(organization).filter(kind=kind, **{lookup: value})
    if status:
        emails = emails.filter(status=status)
    return emails.only(*_LIST_FIELDS, "reference").order_by("-created_at", "-id")
