"""The email outbox: emails written in the caller's transaction, and a clerk's decisions.

Other apps call ``email_queue`` inside the transaction of the decision to write (a reminder
run, a statement): the email, its attachments and its Message-ID are stored with that
decision, and after commit a send task is queued (``queueing``). A rollback discards the
email; a lost task is found by the sweeper. ``email_resend``, ``email_mark_sent`` and
``email_cancel`` are what a clerk decides about an email that did not simply go out.
"""

from collections.abc import Sequence
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from arpilot import hooks
from arpilot.errors import Conflict, ValidationFailed
from arpilot.outbound.signing import json_safe
from mail import lock_objects
from mail.models import OutboundEmail, OutboundEmailAttachment
from mail.services.queueing import _send_many_on_commit, _send_on_commit

MAX_RECIPIENTS = 50
# What one email may carry in attachments, all together (most servers refuse above 25 MB,
# and base64 adds a third).
MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024

Attachment = tuple[str, bytes, str]  # (filename, content, mimetype)


def email_queue(**fields) -> OutboundEmail:
    """Store an email for sending after the caller's transaction commits.

    Call it inside the transaction of the decision: a rollback discards the email too. Takes
    the fields of ``email_prepare`` (``organization_id``, ``to``, ``subject``, ``body_text``,
    ``body_html``, ``attachments``, ``kind``, ``reference``, ``before_send``, ``reply_to``,
    ``from_email``): ``kind`` and ``reference`` (any JSON) let the caller find its emails
    later; ``before_send`` is the dotted path of a function called with the email right
    before it is sent, which cancels it by returning False. Raises ``ValidationFailed``
    naming the field for a bad address, subject or attachment.
    """
    email, files = email_prepare(**fields)
    _email_record(email, files)
    return email


PreparedEmail = tuple[OutboundEmail, list[Attachment]]


def email_prepare(
    *,
    organization_id: int,
    to: Sequence[str],
    subject: str,
    body_text: str,
    body_html: str = "",
    attachments: Sequence[Attachment] = (),
    kind: str,
    reference: dict | None = None,
    before_send: str = "",
    reply_to: Sequence[str] = (),
    from_email: str = "",
) -> PreparedEmail:
    """An email checked as ``email_queue`` checks it (``ValidationFailed`` naming the field),
    not yet written: hand a list of them to ``emails_queue``. Its ``pk`` is already set."""
    organization_id = getattr(organization_id, "pk", organization_id)
    to = _addresses("to", to, required=True)
    reply_to = _addresses("reply_to", reply_to, required=False)
    from_email = from_email or settings.DEFAULT_FROM_EMAIL
    _address_check("from_email", parseaddr(from_email)[1])
    subject = _subject(subject)
    files = _attachments(attachments)
    _kind_check(kind)
    _before_send_check(before_send)
    email = OutboundEmail(
        organization_id=organization_id,
        kind=kind,
        reference=json_safe(reference) if reference is not None else None,
        from_email=from_email,
        to=to,
        reply_to=reply_to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        before_send=before_send,
    )
    email.message_id = _message_id(email)
    email.next_attempt_at = timezone.now()
    return email, files


@transaction.atomic(savepoint=False)  # part of the caller's transaction, no savepoint
def emails_queue(prepared: Sequence[PreparedEmail]) -> list[OutboundEmail]:
    """Store many prepared emails (``email_prepare``) at once, in the caller's transaction:
    one INSERT for the emails, one for their attachments, and after commit one task that
    queues their sends (a batch job such as the dunning run writes thousands)."""
    emails = [email for email, _ in prepared]
    OutboundEmail.objects.bulk_create(emails)
    OutboundEmailAttachment.objects.bulk_create(
        OutboundEmailAttachment(
            email=email,
            position=position,
            filename=filename,
            mimetype=mimetype,
            size=len(content),
            content=content,
        )
        for email, files in prepared
        for position, (filename, content, mimetype) in enumerate(files)
    )
    _send_many_on_commit([email.pk for email in emails])
    return emails


@transaction.atomic(savepoint=False)  # part of the caller's transaction, no savepoint
def _email_record(email: OutboundEmail, files: list[Attachment]) -> None:
    email.save(force_insert=True)
    OutboundEmailAttachment.objects.bulk_create(
        OutboundEmailAttachment(
            email=email,
            position=position,
            filename=filename,
            mimetype=mimetype,
            size=len(content),
            content=content,
        )
        for position, (filename, content, mimetype) in enumerate(files)
    )
    _send_on_commit(email.pk)


def _message_id(email: OutboundEmail) -> str:
    """``<row id@sender's domain>``: the same on every attempt, and it names its row."""
    domain = parseaddr(email.from_email)[1].rpartition("@")[2] or "arpilot.invalid"
    return f"<{email.pk.hex}@{domain}>"


def _address_check(field: str, address: str) -> None:
    try:
        validate_email(address)
    except ValidationError as exc:
        raise ValidationFailed(
            f"{address!r} is not an email address.", fields={field: ["Not an email address."]}
        ) from exc


def _addresses(field: str, addresses, *, required: bool) -> list[str]:
    if isinstance(addresses, str):  # a bare string would be read letter by letter
        raise ValidationFailed(
            f"{field} must be a list of addresses.", fields={field: ["A list of addresses."]}
        )
    addresses = [str(address).strip() for address in addresses]
    if required and not addresses:
        raise ValidationFailed(
            f"{field} needs at least one address.", fields={field: ["At least one address."]}
        )
    if len(addresses) > MAX_RECIPIENTS:
        raise ValidationFailed(
            f"{field} has more than {MAX_RECIPIENTS} addresses.",
            fields={field: [f"At most {MAX_RECIPIENTS} addresses."]},
        )
    for address in addresses:
        _address_check(field, address)
    return addresses


def _subject(subject: str) -> str:
    subject = " ".join(str(subject).split())  # no line breaks: one header line
    if not subject:
        raise ValidationFailed("The subject is empty.", fields={"subject": ["Required."]})
    if len(subject) > OutboundEmail._meta.get_field("subject").max_length:
        raise ValidationFailed("The subject is too long.", fields={"subject": ["Too long."]})
    return subject


def _attachments(attachments) -> list[Attachment]:
    files, total = [], 0
    for item in attachments:
        try:
            filename, content, mimetype = item
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(
                "Each attachment is (filename, bytes, mimetype).",
                fields={"attachments": ["Each is (filename, bytes, mimetype)."]},
            ) from exc
        filename = str(filename).replace("/", "_").replace("\\", "_").strip()
        if not filename or not isinstance(content, bytes | bytearray) or "/" not in mimetype:
            raise ValidationFailed(
                "An attachment needs a file name, bytes and a MIME type such as application/pdf.",
                fields={"attachments": ["A file name, bytes and a MIME type."]},
            )
        total += len(content)
        files.append((filename[:255], bytes(content), mimetype))
    if total > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed(
            f"The attachments add up to more than {MAX_ATTACHMENT_BYTES // 2**20} MB.",
            fields={"attachments": ["Too large."]},
        )
    return files


def _kind_check(kind: str) -> None:
    if not kind or len(kind) > OutboundEmail._meta.get_field("kind").max_length:
        raise ValueError(f"An email kind is a short name such as 'reminder', got {kind!r}")


def _before_send_check(before_send: str) -> None:
    """A programming error, found when queueing rather than when sending."""
    if before_send and not callable(import_string(before_send)):
        raise ValueError(f"before_send {before_send!r} is not a function")


_RESENDABLE = {
    OutboundEmail.Status.UNCONFIRMED,
    OutboundEmail.Status.FAILED,
    OutboundEmail.Status.CANCELLED,
}


@transaction.atomic
def email_resend(*, email: OutboundEmail) -> OutboundEmail:
    """Send an unconfirmed, failed or cancelled email again: the same Message-ID (a copy
    that arrives twice is recognisable), a fresh set of attempts, ``before_send`` asked
    again."""
    email = lock_objects.email_for_update(email.pk).get()
    if email.status not in _RESENDABLE:
        raise Conflict(f"This email is {email.get_status_display().lower()}; it is not resent.")
    now = timezone.now()
    email.status = OutboundEmail.Status.QUEUED
    email.attempt_count = 0
    email.next_attempt_at = now
    email.locked_until = None
    email.handed_over_at = None
    email.save()
    _send_on_commit(email.pk)
    return email


@transaction.atomic
def email_mark_sent(*, email: OutboundEmail) -> OutboundEmail:
    """A clerk found that an unconfirmed email did arrive."""
    email = lock_objects.email_for_update(email.pk).get()
    if email.status != OutboundEmail.Status.UNCONFIRMED:
        raise Conflict("Only an unconfirmed email can be marked sent.")
    email.status = OutboundEmail.Status.SENT
    email.sent_at = email.handed_over_at or timezone.now()
    email.locked_until = None
    email.last_error = "Marked sent: the recipient got it."
    email.save()
    hooks.dispatch(hooks.EmailSent(organization=email.organization, email=email))
    return email


@transaction.atomic
def email_cancel(*, email: OutboundEmail) -> OutboundEmail:
    """Never send a queued or unconfirmed email (one being sent cannot be stopped); the app
    that queued it is told (``arpilot.hooks.EmailGaveUp``, in this transaction)."""
    email = lock_objects.email_for_update(email.pk).get()
    if email.status not in {OutboundEmail.Status.QUEUED, OutboundEmail.Status.UNCONFIRMED}:
        raise Conflict(f"This email is {email.get_status_display().lower()}; it is not cancelled.")
    email.status = OutboundEmail.Status.CANCELLED
    email.next_attempt_at = None
    email.locked_until = None
    email.last_error = "Cancelled by a clerk."
    email.save()
    # The app that queued it decides what an email that will never go means (a reminder).
    hooks.dispatch(hooks.EmailGaveUp(organization=email.organization, email=email))
    return email
