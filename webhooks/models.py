import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from arpilot.actors import current_request
from arpilot.models import OrgQuerySet, OrgScopedModel, SigningSecretFields

# The request's memo of each organization's active endpoints (``services.outbox``).
SUBSCRIPTIONS_MEMO = "_arpilot_webhook_subscriptions"


def subscriptions_forget() -> None:
    """Drop the current request's memo of subscriptions (an endpoint changed)."""
    request = current_request()
    if request is not None and hasattr(request, SUBSCRIPTIONS_MEMO):
        delattr(request, SUBSCRIPTIONS_MEMO)


def events_include(events: list, event_type: str) -> bool:
    """Whether an endpoint subscribed to ``events`` (event types, or ``"*"`` for all) gets
    ``event_type``."""
    return "*" in events or event_type in events


class EndpointQuerySet(OrgQuerySet):
    def update(self, **kwargs):
        subscriptions_forget()
        return super().update(**kwargs)

    def delete(self):
        subscriptions_forget()
        return super().delete()


class WebhookEndpoint(OrgScopedModel, SigningSecretFields):
    """A URL of the organization's that receives the events it subscribes to, signed."""

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True, default="")
    events = models.JSONField(default=list, help_text='Event types, or ["*"] for all')
    is_active = models.BooleanField(default=True)
    # Set at the first failed attempt after a success; cleared by the next success.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["organization", "is_active"])]

    def __str__(self) -> str:
        return self.url

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        subscriptions_forget()

    def delete(self, *args, **kwargs):
        subscriptions_forget()
        return super().delete(*args, **kwargs)

    def subscribes_to(self, event_type: str) -> bool:
        return events_include(self.events, event_type)


class WebhookEvent(OrgScopedModel):
    """One event in the outbox: written in the transaction of the change that caused it."""

    # Not auto_now_add: the payload's created_at is this very value.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField(help_text="The body sent: {id, type, created_at, data}")

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["organization", "event_type", "created_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.pk}"


class DeliveryQuerySet(OrgQuerySet):
    def due(self, now, *, due_before=None):
        """Pending, due (at ``due_before``, default ``now``), and not leased by a worker at
        ``now`` (or its lease ran out)."""
        return self.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now),
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now if due_before is None else due_before,
        )


class WebhookDelivery(OrgScopedModel):
    """One event on its way to one endpoint, retried until it succeeds or gives up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    # No single-column indexes: (endpoint, status, created_at) and the unique (event, endpoint)
    # serve lookups by either, and every index costs each of a delivery's three writes.
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the delivery until then; past it, the sweeper hands it to another.
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "status", "created_at"]),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due_idx",
            ),
            models.Index(
                fields=["endpoint", "next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_ep_due_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class WebhookDeliveryAttempt(models.Model):
    """One HTTP request of a delivery and what came back."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    response_snippet = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery", "created_at", "number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error[:40]}"
