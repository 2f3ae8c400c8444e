import uuid

from django.db import models
from django.db.models import F, Q
from django.db.models.fields.json import KeyTransform

from arpilot.models import OrgQuerySet, OrgScopedModel


class OutboundEmailQuerySet(OrgQuerySet):
    def due(self, now, *, due_before=None):
        """Queued and due (at ``due_before``, default ``now``)."""
        return self.filter(
            status=OutboundEmail.Status.QUEUED,
            next_attempt_at__lte=now if due_before is None else due_before,
        )

    def lease_expired(self, now):
        """Being sent by a worker whose lease ran out (it died, or hangs)."""
        return self.filter(status=OutboundEmail.Status.SENDING, locked_until__lt=now)


class OutboundEmail(OrgScopedModel):
    """One email in the outbox: written in the transaction of the decision to send it, sent
    by a worker after commit, at most once (``mail.services.sending`` says how)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # The worker died (or the connection broke) after the SMTP transaction began: the
        # server may have accepted it. Not retried by itself; a clerk decides.
        UNCONFIRMED = "unconfirmed", "Unconfirmed"

    kind = models.CharField(max_length=64, help_text='What the email is, e.g. "reminder"')
    reference = models.JSONField(
        null=True, blank=True, help_text="The caller's own note of what the email is about"
    )
    # Set once, when queued; every attempt sends the same, so a duplicate is recognisable.
    message_id = models.CharField(max_length=255, unique=True, editable=False)
    from_email = models.CharField(max_length=320)
    to = models.JSONField(default=list)
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998)
    body_text = models.TextField()
    body_html = models.TextField(blank=True, default="")
    before_send = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Dotted path of a function called with the email just before it is sent; "
        "returning False cancels it",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the email until then; past it, the sweeper decides (see ``sending``).
    locked_until = models.DateTimeField(null=True, blank=True)
    # When the worker's SMTP transaction (MAIL FROM) of the current attempt began: from then
    # on the server may accept the message at any moment.
    handed_over_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    objects = OutboundEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["organization", "created_at"]),
            models.Index(fields=["organization", "status", "created_at"]),
            models.Index(fields=["organization", "kind", "created_at"]),
            # A customer's statements on its activity timeline (counted and read by
            # ``selectors.email_list_referencing``).
            models.Index(
                F("organization"),
                F("kind"),
                KeyTransform("customer_id", "reference"),
                F("created_at"),
                name="mail_outbound_ref_customer_idx",
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="queued"),
                name="mail_outbound_due_idx",
            ),
            models.Index(
                fields=["locked_until"],
                condition=Q(status="sending"),
                name="mail_outbound_leased_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {', '.join(self.to)}: {self.subject}"


class OutboundEmailAttachment(models.Model):
    """A file sent with an email, kept with it (a retry sends the same bytes)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.ForeignKey(
        OutboundEmail, on_delete=models.CASCADE, related_name="attachments", db_index=False
    )
    position = models.PositiveSmallIntegerField()
    filename = models.CharField(max_length=255)
    mimetype = models.CharField(max_length=127)
    size = models.PositiveIntegerField()
    content = models.BinaryField()

    class Meta:
        ordering = ["email", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["email", "position"], name="mail_attachment_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.filename
