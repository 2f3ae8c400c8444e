"""Webhook endpoints: registration (its URL checked against SSRF), changes, deletion,
secret rotation, and the test event."""

from django.db import transaction
from django.utils import timezone

from arpilot.outbound import signing, ssrf
from webhooks import lock_objects
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.services.outbox import _event_record
from webhooks.services.queueing import _send_on_commit

# The secrets that sign an endpoint's deliveries now (its own, and its previous one for a
# while after a rotation): one rule for every signed POST.
endpoint_signing_secrets = signing.signing_secrets


@transaction.atomic
def endpoint_create(
    *,
    organization,
    url: str,
    events: list[str],
    description: str = "",
    is_active: bool = True,
) -> WebhookEndpoint:
    """Register an endpoint; its ``secret`` is readable on the returned instance this once."""
    ssrf.url_validate(url)
    return WebhookEndpoint.objects.create(
        organization=organization,
        url=url,
        events=events,
        description=description,
        is_active=is_active,
        secret=signing.secret_generate(),
    )


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """Change url, events, description or is_active; resuming sends what waited."""
    allowed = {"url", "events", "description", "is_active"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"endpoint_update() got unexpected fields {sorted(unknown)}")
    if "url" in changes and changes["url"] != endpoint.url:
        ssrf.url_validate(changes["url"])
    resuming = changes.get("is_active") is True and not endpoint.is_active
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if resuming:
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
    endpoint.save()
    if resuming:
        now = timezone.now()
        pending = endpoint.deliveries.filter(status=WebhookDelivery.Status.PENDING)
        pending.filter(next_attempt_at__lt=now).update(next_attempt_at=now)
        _send_on_commit(endpoint.pk)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint, its deliveries and attempts, and events left with no delivery."""
    event_ids = list(endpoint.deliveries.values_list("event_id", flat=True))
    endpoint.delete()
    WebhookEvent.objects.filter(pk__in=event_ids, deliveries__isnull=True).delete()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret; the old one still signs (beside the new) for ``signing.SECRET_OVERLAP``."""
    endpoint = lock_objects.endpoint_for_update(endpoint.pk).get()
    endpoint.save(update_fields=[*signing.secret_rotate(endpoint), "updated_at"])
    return endpoint


@transaction.atomic
def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookEvent:
    """Queue a ``webhook.test`` event to this endpoint only (sent once it is active)."""
    return _event_record(
        organization_id=endpoint.organization_id,
        event_type="webhook.test",
        data={"endpoint_id": str(endpoint.pk), "message": "This is a test event from ARPilot."},
        endpoints=[endpoint],
    )
