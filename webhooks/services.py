"""Webhook endpoints, the event outbox and delivery.

Domain apps call ``event_emit`` inside their own transaction: the event and one delivery per
subscribed active endpoint are written with their change, and sent after commit by
``deliver_task``. A failed send or a lost task (Redis down, worker killed) leaves a pending
delivery that ``deliveries_requeue_due`` (beat, every minute) hands to a worker again.
"""

import json
import logging
import random
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from arpilot.errors import Conflict, ValidationFailed
from webhooks import lock_objects, ssrf, transport
from webhooks.events import EVENT_TYPES
from webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

# Delay after attempt n (1-based) before attempt n+1, jittered by ±10 %: ten attempts over
# about 3.9 days (never less than 3.4).
RETRY_DELAYS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
    timedelta(hours=24),
    timedelta(hours=24),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1
# A worker holds a claimed delivery this long (well past the 15 s connect + 15 s read
# timeouts); if it dies, the sweeper hands the delivery to another once this has passed.
LEASE = timedelta(minutes=2)
# Countdowns and clocks may fire a little early; a delivery this close to due is due.
DUE_TOLERANCE = timedelta(seconds=2)
# The sweeper leaves a delivery to the task already sent for it until it has been due this
# long (a queue backlog is not a lost task), and waits as long again after re-queueing it.
SWEEP_GRACE = timedelta(minutes=3)
SWEEP_BATCH = 5000
MAX_RETRY_AFTER = timedelta(hours=24)
MIN_DELAY = timedelta(seconds=1)
DISABLE_AFTER_FAILING = timedelta(days=5)
SECRET_OVERLAP = timedelta(hours=24)
RETRY_AFTER_STATUSES = {429, 503}
BROKER_BACKOFF = 30.0


# --- Events ---------------------------------------------------------------------------------


def _json_safe(data: dict) -> dict:
    """``data`` as the API renders it (UUIDs and dates as strings, Decimals as numbers)."""
    return json.loads(json.dumps(data, cls=JSONEncoder))


def event_emit(*, organization_id: int, event_type: str, data: dict) -> WebhookEvent | None:
    """Record an event for delivery to the organization's subscribed active endpoints.

    Call it inside the transaction of the change: a rollback discards the event too. Returns
    None when no endpoint subscribes (nothing is stored).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}")
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.for_org(organization_id).filter(is_active=True)
        if endpoint.subscribes_to(event_type)
    ]
    if not endpoints:
        return None
    return _event_record(
        organization_id=organization_id, event_type=event_type, data=data, endpoints=endpoints
    )


@transaction.atomic(savepoint=False)  # part of the caller's transaction, no savepoint
def _event_record(*, organization_id, event_type, data, endpoints) -> WebhookEvent:
    event = WebhookEvent(organization_id=organization_id, event_type=event_type)
    event.created_at = timezone.now()
    event.payload = {
        "id": str(event.id),
        "type": event_type,
        "created_at": event.created_at.isoformat(),
        "data": _json_safe(data),
    }
    event.save(force_insert=True)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            organization_id=organization_id,
            endpoint=endpoint,
            event=event,
            next_attempt_at=event.created_at,
        )
        for endpoint in endpoints
    )
    for delivery in deliveries:
        _enqueue_on_commit(delivery.pk)
    return event


_broker_down_until = 0.0


def _enqueue(delivery_id, countdown: float | None = None, *, force: bool = False) -> bool:
    """Send the delivery's task; if the broker is away the sweeper sends it later.

    After a failed send, sends from this process are skipped for ``BROKER_BACKOFF`` seconds
    (unless ``force``) so that requests do not each wait on a broker that is down.
    """
    global _broker_down_until
    from webhooks.tasks import deliver_task

    if not force and time.monotonic() < _broker_down_until:
        return False
    try:
        deliver_task.apply_async(args=[str(delivery_id)], countdown=countdown, retry=False)
    except Exception as exc:
        _broker_down_until = time.monotonic() + BROKER_BACKOFF
        logger.warning("webhook delivery %s not queued (%s); the sweeper will", delivery_id, exc)
        return False
    return True


def _enqueue_on_commit(delivery_id, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _enqueue(delivery_id, countdown))


# --- Endpoints ------------------------------------------------------------------------------


def _url_validate(url: str) -> None:
    try:
        ssrf.url_check(url)
    except ssrf.UnsafeURL as exc:
        raise ValidationFailed(f"Invalid input: url: {exc}", fields={"url": [str(exc)]}) from exc


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
    _url_validate(url)
    return WebhookEndpoint.objects.create(
        organization=organization,
        url=url,
        events=events,
        description=description,
        is_active=is_active,
        secret=transport.secret_generate(),
    )


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """Change url, events, description or is_active; resuming sends what waited."""
    allowed = {"url", "events", "description", "is_active"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"endpoint_update() got unexpected fields {sorted(unknown)}")
    if "url" in changes and changes["url"] != endpoint.url:
        _url_validate(changes["url"])
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
        for delivery_id in pending.values_list("pk", flat=True):
            _enqueue_on_commit(delivery_id)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint, its deliveries and attempts, and events left with no delivery."""
    event_ids = list(endpoint.deliveries.values_list("event_id", flat=True))
    endpoint.delete()
    WebhookEvent.objects.filter(pk__in=event_ids, deliveries__isnull=True).delete()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret; the old one still signs (beside the new) for ``SECRET_OVERLAP``."""
    endpoint = lock_objects.endpoint_for_update(endpoint.pk).get()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
    endpoint.secret = transport.secret_generate()
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return endpoint


def endpoint_signing_secrets(endpoint: WebhookEndpoint, *, now=None) -> list[str]:
    now = now or timezone.now()
    secrets_ = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        secrets_.append(endpoint.previous_secret)
    return secrets_


@transaction.atomic
def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookEvent:
    """Queue a ``webhook.test`` event to this endpoint only (sent once it is active)."""
    return _event_record(
        organization_id=endpoint.organization_id,
        event_type="webhook.test",
        data={"endpoint_id": str(endpoint.pk), "message": "This is a test event from ARPilot."},
        endpoints=[endpoint],
    )


def _endpoint_disable(*, endpoint_id, reason: str, now) -> None:
    """Stop sending to the endpoint; its waiting deliveries fail (they can be redelivered)."""
    WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason[:500], updated_at=now
    )
    WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING
    ).update(
        status=WebhookDelivery.Status.FAILED,
        next_attempt_at=None,
        last_error=f"Endpoint disabled: {reason}"[:1000],
        updated_at=now,
    )


# --- Delivery -------------------------------------------------------------------------------


def retry_delay(attempt_number: int, *, rng: random.Random | None = None) -> timedelta:
    """How long to wait after failed attempt ``attempt_number`` (1-based), with jitter."""
    base = RETRY_DELAYS[min(attempt_number, len(RETRY_DELAYS)) - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return base * factor


def _delivery_claim(delivery_id) -> WebhookDelivery | None:
    """Take the delivery's lease if it is due and free; None means someone else has it."""
    with transaction.atomic():
        now = timezone.now()
        delivery = lock_objects.delivery_claimable(
            delivery_id, now=now, due_before=now + DUE_TOLERANCE
        ).first()
        if delivery is None or not delivery.endpoint.is_active:
            return None
        delivery.locked_until = now + LEASE
        # Counted when claimed: a delivery that kills its worker still runs out of attempts.
        delivery.attempt_count += 1
        delivery.save(update_fields=["locked_until", "attempt_count", "updated_at"])
        return delivery


def delivery_attempt(*, delivery_id) -> WebhookDelivery | None:
    """Send the delivery once if it is due, record the attempt and schedule what follows.

    Safe to call any number of times: a delivery that is not due, already delivered, or
    leased by another worker is left alone (returns None).
    """
    delivery = _delivery_claim(delivery_id)
    if delivery is None:
        return None
    endpoint, event = delivery.endpoint, delivery.event
    body = transport.body_encode(event.payload)
    headers = transport.signed_headers(
        secrets_=endpoint_signing_secrets(endpoint),
        msg_id=str(event.pk),
        body=body,
        timestamp=int(time.time()),
    )
    result = transport.post(endpoint.url, body=body, headers=headers)
    return _delivery_record(delivery=delivery, result=result)


@transaction.atomic
def _delivery_record(
    *, delivery: WebhookDelivery, result: transport.AttemptResult
) -> WebhookDelivery | None:
    now = timezone.now()
    current = lock_objects.delivery_for_update(delivery.pk).first()
    if current is None:  # the endpoint was deleted meanwhile
        return None
    WebhookDeliveryAttempt.objects.create(
        delivery=current,
        number=delivery.attempt_count,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=result.error,
        response_snippet=result.response_snippet,
    )
    current.locked_until = None
    current.last_status_code = result.status_code
    current.last_error = result.error or _status_error(result)
    if current.status == WebhookDelivery.Status.PENDING:
        _delivery_advance(
            current, result=result, now=now, failing_since=delivery.endpoint.failing_since
        )
    current.save(
        update_fields=[
            "locked_until",
            "last_status_code",
            "last_error",
            "status",
            "delivered_at",
            "next_attempt_at",
            "updated_at",
        ]
    )
    return current


def _status_error(result: transport.AttemptResult) -> str:
    if result.succeeded:
        return ""
    if 300 <= result.status_code < 400:
        return f"HTTP {result.status_code}: redirects are not followed."
    return f"HTTP {result.status_code}"


def _delivery_advance(delivery: WebhookDelivery, *, result, now, failing_since) -> None:
    """Succeed, schedule the next attempt, or give up, after one attempt's result.

    ``failing_since`` is the endpoint's as read when the delivery was claimed.
    """
    Status = WebhookDelivery.Status
    endpoint_id = delivery.endpoint_id
    if result.succeeded:
        delivery.status = Status.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        if failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=False).update(
                failing_since=None
            )
        return
    if result.status_code == 410:
        delivery.status = Status.FAILED
        delivery.next_attempt_at = None
        _endpoint_disable(
            endpoint_id=endpoint_id, reason="The endpoint answered 410 Gone.", now=now
        )
        return
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
        failing_since=now
    )
    failing_too_long = WebhookEndpoint.objects.filter(
        pk=endpoint_id, failing_since__lte=now - DISABLE_AFTER_FAILING
    ).exists()
    if failing_too_long:
        delivery.status = Status.FAILED
        delivery.next_attempt_at = None
        _endpoint_disable(
            endpoint_id=endpoint_id,
            reason=f"Every delivery failed for {DISABLE_AFTER_FAILING.days} days "
            f"(last: {delivery.last_error[:200]}).",
            now=now,
        )
        return
    if delivery.attempt_count >= MAX_ATTEMPTS:
        delivery.status = Status.FAILED
        delivery.next_attempt_at = None
        return
    delay = retry_delay(delivery.attempt_count)
    if result.status_code in RETRY_AFTER_STATUSES and result.retry_after is not None:
        delay = min(max(timedelta(seconds=result.retry_after), MIN_DELAY), MAX_RETRY_AFTER)
    delivery.next_attempt_at = now + delay
    _enqueue_on_commit(delivery.pk, countdown=delay.total_seconds())


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a finished delivery again: the same webhook-id, a fresh set of attempts (numbered
    from 1 again; the earlier ones stay in the history)."""
    delivery = lock_objects.delivery_for_update(delivery.pk).select_related("event").get()
    if delivery.status == WebhookDelivery.Status.PENDING:
        raise Conflict("This delivery is still pending; it will be retried.")
    now = timezone.now()
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.attempt_count = 0
    delivery.next_attempt_at = now
    delivery.locked_until = None
    delivery.save()
    _enqueue_on_commit(delivery.pk)
    return delivery


def deliveries_requeue_due() -> int:
    """Queue again every delivery whose task was lost (broker down, worker killed).

    A delivery counts as lost once it has been due for ``SWEEP_GRACE`` with no live lease.
    Re-queued deliveries are marked due now, so a long queue backlog gets at most one extra
    task per delivery per ``SWEEP_GRACE`` (the extra ones find nothing to do).
    """
    now = timezone.now()
    due_ids = list(
        WebhookDelivery.objects.due(now, due_before=now - SWEEP_GRACE)
        .filter(endpoint__is_active=True)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    queued = []
    for delivery_id in due_ids:
        if not _enqueue(delivery_id, force=True):
            break  # the broker is still away; the next sweep tries again
        queued.append(delivery_id)
    WebhookDelivery.objects.filter(
        pk__in=queued,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now - SWEEP_GRACE,  # not one a worker has rescheduled since
    ).update(next_attempt_at=now)
    return len(queued)
