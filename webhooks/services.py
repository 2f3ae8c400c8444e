"""Webhook endpoints, the event outbox and delivery.

Domain apps call ``event_emit`` inside their own transaction: the event and one delivery per
subscribed active endpoint are written with their change. After commit one ``send_due_task``
per endpoint is queued (not one per event: while one is queued and not yet started, further
commits only find its flag in the cache). The task leases the endpoint's due deliveries in
batches, POSTs them one after another over a kept-alive connection and records each batch in
one transaction. Up to ``MAX_PARALLEL_SENDS`` tasks may drain one endpoint at once; row
locks with SKIP LOCKED keep them apart. A failed send or a lost task (Redis down, worker killed) leaves a pending
delivery that ``deliveries_requeue_due`` (beat, every minute) hands to a worker again.
"""

import contextlib
import json
import logging
import random
import time
from collections import defaultdict
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
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
# Deliveries one task leases and sends at a time, and for how long it keeps starting new
# requests within a lease (one request takes at most 15 s to connect + 15 s to read, so the
# lease is never outlived) and within one task (then it queues a successor, so one busy
# endpoint cannot hold a worker slot forever).
SEND_BATCH = 50
BATCH_SEND_SECONDS = 60.0
TASK_SEND_SECONDS = 30.0
# How long a "send task queued" flag lives in the cache: if its task is lost, the next
# commit after this queues another (the sweeper covers the time between).
QUEUED_FLAG_TTL = 60
# Tasks sending to one endpoint at once, and how long a slot outlives a task that died
# holding it (its last batch may take the lease's length after the task's time is up).
MAX_PARALLEL_SENDS = 4
SEND_SLOT_TTL = int(TASK_SEND_SECONDS + LEASE.total_seconds())


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
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        return _event_record_one_statement(
            connection, organization_id=organization_id, event_type=event_type, data=data
        )
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


def _event_new(*, organization_id, event_type, data) -> WebhookEvent:
    event = WebhookEvent(organization_id=organization_id, event_type=event_type)
    event.created_at = event.updated_at = timezone.now()
    event.payload = {
        "id": str(event.id),
        "type": event_type,
        "created_at": event.created_at.isoformat(),
        "data": _json_safe(data),
    }
    return event


# Every event of every domain action passes here, so on PostgreSQL finding the subscribed
# endpoints and writing the event and its deliveries is one statement (one round trip, no ORM
# compilation); it writes exactly what ``_event_record`` writes. Only table names and a
# constant are formatted in; every value is a parameter.
_EMIT_SQL = f"""
WITH endpoints AS (
    SELECT id FROM {WebhookEndpoint._meta.db_table}
    WHERE organization_id = %(organization_id)s AND is_active
      AND (events @> '["*"]'::jsonb OR events @> %(event_types)s::jsonb)
), event AS (
    INSERT INTO {WebhookEvent._meta.db_table}
        (id, organization_id, created_at, updated_at, event_type, payload)
    SELECT %(id)s, %(organization_id)s, %(now)s, %(now)s, %(event_type)s, %(payload)s::jsonb
    WHERE EXISTS (SELECT FROM endpoints)
    RETURNING id
)
INSERT INTO {WebhookDelivery._meta.db_table}
    (id, organization_id, created_at, updated_at, endpoint_id, event_id, status,
     attempt_count, next_attempt_at, last_error)
SELECT gen_random_uuid(), %(organization_id)s, %(now)s, %(now)s, endpoints.id, event.id,
    '{WebhookDelivery.Status.PENDING}', 0, %(now)s, ''
FROM endpoints CROSS JOIN event
RETURNING endpoint_id
"""  # noqa: S608


def _event_record_one_statement(connection, *, organization_id, event_type, data):
    event = _event_new(organization_id=organization_id, event_type=event_type, data=data)
    with connection.cursor() as cursor:
        cursor.execute(
            _EMIT_SQL,
            {
                "organization_id": organization_id,
                "event_types": json.dumps([event_type]),
                "id": event.id,
                "now": event.created_at,
                "event_type": event_type,
                "payload": json.dumps(event.payload),
            },
        )
        endpoint_ids = [row[0] for row in cursor.fetchall()]
    if not endpoint_ids:
        return None
    event._state.adding = False
    event._state.db = connection.alias
    for endpoint_id in endpoint_ids:
        _send_on_commit(endpoint_id)
    return event


@transaction.atomic(savepoint=False)  # part of the caller's transaction, no savepoint
def _event_record(*, organization_id, event_type, data, endpoints) -> WebhookEvent:
    event = _event_new(organization_id=organization_id, event_type=event_type, data=data)
    event.save(force_insert=True)
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            organization_id=organization_id,
            endpoint=endpoint,
            event=event,
            next_attempt_at=event.created_at,
        )
        for endpoint in endpoints
    )
    for endpoint in endpoints:
        _send_on_commit(endpoint.pk)
    return event


# --- Queueing send tasks --------------------------------------------------------------------

_broker_down_until = 0.0


def _queued_flag(endpoint_id) -> str:
    return f"webhooks:send-queued:{endpoint_id}"


def _enqueue(endpoint_id, countdown: float | None = None, *, force: bool = False) -> bool:
    """Queue a task that sends the endpoint's due deliveries; False if the broker is away
    (the sweeper queues it later).

    Without ``countdown`` or ``force``, nothing is sent while a task for the endpoint is
    already queued and not yet started (a flag in the cache says so): it will find this
    commit's deliveries. After a failed send, sends from this process are skipped for
    ``BROKER_BACKOFF`` seconds (unless ``force``) so that requests do not each wait on a
    broker that is down.
    """
    global _broker_down_until
    from webhooks.tasks import send_due_task

    if not force and time.monotonic() < _broker_down_until:
        return False
    flag = None if (force or countdown) else _queued_flag(endpoint_id)
    try:
        if flag is not None and not cache.add(flag, 1, timeout=QUEUED_FLAG_TTL):
            return True  # a queued task will send it
        send_due_task.apply_async(
            args=[str(endpoint_id)],
            kwargs={"flagged": flag is not None},
            countdown=countdown,
            retry=False,
        )
    except Exception as exc:
        _broker_down_until = time.monotonic() + BROKER_BACKOFF
        logger.warning("webhook send for %s not queued (%s); the sweeper will", endpoint_id, exc)
        if flag is not None:
            with contextlib.suppress(Exception):  # the cache is Redis too: the flag expires
                cache.delete(flag)
        return False
    return True


def _send_on_commit(endpoint_id, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _enqueue(endpoint_id, countdown))


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


def _claim(deliveries, *, now, endpoint=None) -> list[WebhookDelivery]:
    """Lease ``deliveries`` (a due, locked-and-skipping queryset) and count their attempt;
    ``endpoint``, when given, is theirs (else each delivery's is read with it).

    Counted when claimed: a delivery that kills its worker still runs out of attempts.
    """
    rows = list(deliveries)
    if endpoint is not None:
        for delivery in rows:
            delivery.endpoint = endpoint
    rows = [delivery for delivery in rows if delivery.endpoint.is_active]
    if rows:
        locked_until = now + LEASE
        WebhookDelivery.objects.filter(pk__in=[delivery.pk for delivery in rows]).update(
            locked_until=locked_until, attempt_count=F("attempt_count") + 1, updated_at=now
        )
        for delivery in rows:
            delivery.locked_until = locked_until
            delivery.attempt_count += 1
    return rows


def delivery_attempt(*, delivery_id) -> WebhookDelivery | None:
    """Send this one delivery once if it is due, record the attempt, schedule what follows.

    Safe to call any number of times: a delivery that is not due, already delivered, or
    leased by another worker is left alone (returns None).
    """
    with transaction.atomic():
        now = timezone.now()
        claimed = _claim(
            lock_objects.delivery_claimable(delivery_id, now=now, due_before=now + DUE_TOLERANCE),
            now=now,
        )
    if not claimed:
        return None
    recorded = _batch_send(claimed)
    return recorded[0] if recorded else None


def endpoint_send_due(*, endpoint_id, limit: int = SEND_BATCH) -> int:
    """Lease up to ``limit`` of the endpoint's due deliveries, send them and record them.

    Returns how many were leased. A full batch means there may be more, so it first queues
    another task for the endpoint (unless one is queued already): a backlog is sent by up
    to ``MAX_PARALLEL_SENDS`` tasks at once (see ``endpoint_drain``). Deliveries another
    task holds are skipped, so any number of these may run for one endpoint at once.
    """
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).first()
    if endpoint is None:
        return 0
    with transaction.atomic():
        now = timezone.now()
        claimed = _claim(
            lock_objects.endpoint_deliveries_claimable(
                endpoint_id, now=now, due_before=now + DUE_TOLERANCE, limit=limit
            ),
            now=now,
            endpoint=endpoint,
        )
    if len(claimed) == limit:
        _enqueue(endpoint_id)  # more may be due: another task sends the next batch meanwhile
    if claimed:
        _batch_send(claimed)
    return len(claimed)


def endpoint_drain(*, endpoint_id, flagged: bool = False) -> None:
    """What a send task does: batches until nothing is due, for at most ``TASK_SEND_SECONDS``
    (then a successor task goes on, so other endpoints get their turn).

    ``flagged``: the task was queued under the endpoint's "queued" flag. It drops the flag
    before it looks for due deliveries, so a commit after this point queues a new task and
    one before it is seen by this one.

    At most ``MAX_PARALLEL_SENDS`` tasks send to one endpoint at a time (a slot each, in the
    cache): a backlog uses several worker slots, but one slow endpoint cannot take every
    worker from the rest. A task that finds no free slot stops at once; the tasks holding
    the slots look for due deliveries again after giving theirs back, so what it would have
    sent is not left waiting.
    """
    if flagged:
        try:
            cache.delete(_queued_flag(endpoint_id))
        except Exception as exc:  # the flag expires by itself
            logger.warning("webhook send flag for %s not cleared (%s)", endpoint_id, exc)
    while True:
        slot = _send_slot_take(endpoint_id)
        if slot is None:
            return
        try:
            outcome = _drain_batches(endpoint_id)
        finally:
            _send_slot_release(slot)
        if outcome != "drained" or not _due_exists(endpoint_id):
            return


def _drain_batches(endpoint_id) -> str:
    """Send batch after batch: "drained" when a batch came back short, "idle" when the first
    found nothing to take (others hold what is due), "handed on" after the time budget."""
    started = time.monotonic()
    sent = endpoint_send_due(endpoint_id=endpoint_id)
    if sent == 0:
        return "idle"
    while sent == SEND_BATCH:
        if time.monotonic() - started > TASK_SEND_SECONDS:
            _enqueue(endpoint_id, force=True)
            return "handed on"
        sent = endpoint_send_due(endpoint_id=endpoint_id)
    return "drained"


def _due_exists(endpoint_id) -> bool:
    now = timezone.now()
    return (
        WebhookDelivery.objects.due(now, due_before=now + DUE_TOLERANCE)
        .filter(endpoint_id=endpoint_id, endpoint__is_active=True)
        .exists()
    )


def _send_slot_take(endpoint_id) -> str | None:
    """One of the endpoint's ``MAX_PARALLEL_SENDS`` sending slots, or None if all are taken.
    Without the cache (Redis away) every task may send: the slots only spread the load."""
    try:
        for number in range(MAX_PARALLEL_SENDS):
            key = f"webhooks:sending:{endpoint_id}:{number}"
            if cache.add(key, 1, timeout=SEND_SLOT_TTL):
                return key
    except Exception as exc:
        logger.warning("webhook send slots for %s unavailable (%s)", endpoint_id, exc)
        return ""
    return None


def _send_slot_release(slot: str) -> None:
    if slot:
        with contextlib.suppress(Exception):  # it expires by itself
            cache.delete(slot)


def _endpoint_unwell(result: transport.AttemptResult) -> bool:
    """A failure that says the endpoint, not this one request, is in trouble."""
    code = result.status_code
    return code is None or code in RETRY_AFTER_STATUSES or code == 410 or code >= 500


def _batch_send(claimed: list[WebhookDelivery]) -> list[WebhookDelivery]:
    """POST the claimed deliveries (all of one endpoint) in order, then record them.

    Stops early when the endpoint is down, throttles or is gone, or the batch has taken
    ``BATCH_SEND_SECONDS``: the rest are handed back unsent (their attempt uncounted).
    """
    endpoint = claimed[0].endpoint
    secrets_ = endpoint_signing_secrets(endpoint)
    started = time.monotonic()
    sent: list[tuple[WebhookDelivery, transport.AttemptResult]] = []
    for delivery in claimed:
        if sent and (
            _endpoint_unwell(sent[-1][1]) or time.monotonic() - started > BATCH_SEND_SECONDS
        ):
            break
        event = delivery.event
        body = transport.body_encode(event.payload)
        headers = transport.signed_headers(
            secrets_=secrets_, msg_id=str(event.pk), body=body, timestamp=int(time.time())
        )
        sent.append((delivery, transport.post(endpoint.url, body=body, headers=headers)))
    return _batch_record(endpoint=endpoint, sent=sent, unsent=claimed[len(sent) :])


@transaction.atomic
def _batch_record(*, endpoint, sent, unsent) -> list[WebhookDelivery]:
    """Record each sent delivery's attempt and outcome, and hand back the unsent ones, in one
    transaction. Returns the sent deliveries as recorded (without those deleted meanwhile)."""
    now = timezone.now()
    ids = [delivery.pk for delivery, _ in sent] + [delivery.pk for delivery in unsent]
    current = {delivery.pk: delivery for delivery in lock_objects.deliveries_for_update(ids)}
    attempts, recorded, succeeded = [], [], defaultdict(list)
    hold_until = None
    for claimed, result in sent:
        delivery = current.get(claimed.pk)
        if delivery is None:  # the endpoint was deleted meanwhile
            continue
        attempts.append(
            WebhookDeliveryAttempt(
                delivery=delivery,
                number=claimed.attempt_count,
                status_code=result.status_code,
                duration_ms=result.duration_ms,
                error=result.error,
                response_snippet=result.response_snippet,
            )
        )
        recorded.append(delivery)
        delivery.locked_until = None
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error or _status_error(result)
        if delivery.status != WebhookDelivery.Status.PENDING:  # failed by a disable meanwhile
            delivery.save(update_fields=[*_OUTCOME_FIELDS[:3], "updated_at"])
            continue
        if result.succeeded:
            succeeded[result.status_code].append(delivery)
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            continue
        _delivery_advance(delivery, result=result, now=now)
        if _endpoint_unwell(result) and delivery.next_attempt_at is not None:
            hold_until = delivery.next_attempt_at
        delivery.save(update_fields=[*_OUTCOME_FIELDS, "updated_at"])
    WebhookDeliveryAttempt.objects.bulk_create(attempts)
    for status_code, deliveries in succeeded.items():  # usually one UPDATE for the batch
        WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
            locked_until=None,
            last_status_code=status_code,
            last_error="",
            status=WebhookDelivery.Status.SUCCEEDED,
            delivered_at=now,
            next_attempt_at=None,
            updated_at=now,
        )
    last_succeeded = bool(sent) and sent[-1][1].succeeded
    if last_succeeded and (endpoint.failing_since is not None or len(succeeded) < len(sent)):
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
            failing_since=None
        )
    if unsent:
        _batch_hand_back(endpoint, [delivery.pk for delivery in unsent], hold_until, now=now)
    return recorded


def _batch_hand_back(endpoint, ids, hold_until, *, now) -> None:
    """Release deliveries leased but not sent, their attempt uncounted. Behind an endpoint
    that is down or throttling they wait as long as the delivery that found out (so
    Retry-After covers the whole endpoint); otherwise another task sends them now."""
    WebhookDelivery.objects.filter(pk__in=ids).update(
        locked_until=None, attempt_count=F("attempt_count") - 1, updated_at=now
    )
    if hold_until is not None:
        WebhookDelivery.objects.filter(pk__in=ids, status=WebhookDelivery.Status.PENDING).update(
            next_attempt_at=Greatest(F("next_attempt_at"), hold_until)
        )
    elif WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).exists():
        _send_on_commit(endpoint.pk)


_OUTCOME_FIELDS = [
    "locked_until",
    "last_status_code",
    "last_error",
    "status",
    "delivered_at",
    "next_attempt_at",
]


def _status_error(result: transport.AttemptResult) -> str:
    if result.succeeded:
        return ""
    if 300 <= result.status_code < 400:
        return f"HTTP {result.status_code}: redirects are not followed."
    return f"HTTP {result.status_code}"


def _delivery_advance(delivery: WebhookDelivery, *, result, now) -> None:
    """Schedule the next attempt or give up, after one failed attempt."""
    Status = WebhookDelivery.Status
    endpoint_id = delivery.endpoint_id
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
    _send_on_commit(endpoint_id, countdown=delay.total_seconds())


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
    _send_on_commit(delivery.endpoint_id)
    return delivery


def deliveries_requeue_due() -> int:
    """Queue sends again for deliveries whose task was lost (broker down, worker killed).

    A delivery counts as lost once it has been due for ``SWEEP_GRACE`` with no live lease.
    One task is queued per endpoint; the deliveries it covers are marked due now, so a long
    queue backlog gets at most one extra task per endpoint per ``SWEEP_GRACE``. Returns how
    many deliveries were handed over.
    """
    now = timezone.now()
    due = (
        WebhookDelivery.objects.due(now, due_before=now - SWEEP_GRACE)
        .filter(endpoint__is_active=True)
        .order_by("next_attempt_at")
        .values_list("pk", "endpoint_id")[:SWEEP_BATCH]
    )
    by_endpoint = defaultdict(list)
    for delivery_id, endpoint_id in due:
        by_endpoint[endpoint_id].append(delivery_id)
    queued = []
    for endpoint_id, delivery_ids in by_endpoint.items():
        if not _enqueue(endpoint_id, force=True):
            break  # the broker is still away; the next sweep tries again
        queued.extend(delivery_ids)
    WebhookDelivery.objects.filter(
        pk__in=queued,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now - SWEEP_GRACE,  # not one a worker has rescheduled since
    ).update(next_attempt_at=now)
    return len(queued)
