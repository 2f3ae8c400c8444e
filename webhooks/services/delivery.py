"""Delivery: send tasks lease an endpoint's due deliveries in batches, POST them one after
another over a kept-alive connection (``arpilot.outbound``), and record each batch in one
transaction, scheduling retries (``RETRY_DELAYS``) or giving up.

Up to ``queueing.MAX_PARALLEL_SENDS`` tasks may drain one endpoint at once; row locks with
SKIP LOCKED keep them apart. An endpoint that answers 410, or fails for
``DISABLE_AFTER_FAILING``, is disabled.
"""

import random
import time
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from arpilot.errors import Conflict
from arpilot.outbound import signing, transport
from arpilot.outbound.retry import jittered_delay
from webhooks import lock_objects
from webhooks.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from webhooks.services.queueing import (
    LEASE,
    TASK_SEND_SECONDS,
    _enqueue,
    _queued_flag_clear,
    _send_on_commit,
    _send_slot_release,
    _send_slot_take,
)

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
# Countdowns and clocks may fire a little early; a delivery this close to due is due.
DUE_TOLERANCE = timedelta(seconds=2)
MAX_RETRY_AFTER = timedelta(hours=24)
MIN_DELAY = timedelta(seconds=1)
DISABLE_AFTER_FAILING = timedelta(days=5)
RETRY_AFTER_STATUSES = {429, 503}
# Deliveries one task leases and sends at a time, and for how long it keeps starting new
# requests within a lease (one request takes at most 15 s to connect + 15 s to read, so the
# lease is never outlived); within one task it is ``queueing.TASK_SEND_SECONDS``.
SEND_BATCH = 50
BATCH_SEND_SECONDS = 60.0


def retry_delay(attempt_number: int, *, rng: random.Random | None = None) -> timedelta:
    """How long to wait after failed attempt ``attempt_number`` (1-based), with jitter."""
    return jittered_delay(RETRY_DELAYS, attempt_number, jitter=JITTER, rng=rng)


def _claim(deliveries, *, now, endpoint) -> list[WebhookDelivery]:
    """Lease ``deliveries`` (the active ``endpoint``'s, a due, locked-and-skipping queryset)
    and count their attempt.

    Counted when claimed: a delivery that kills its worker still runs out of attempts.
    """
    rows = list(deliveries)
    for delivery in rows:
        delivery.endpoint = endpoint
    if rows:
        locked_until = now + LEASE
        WebhookDelivery.objects.filter(pk__in=[delivery.pk for delivery in rows]).update(
            locked_until=locked_until, attempt_count=F("attempt_count") + 1, updated_at=now
        )
        for delivery in rows:
            delivery.locked_until = locked_until
            delivery.attempt_count += 1
    return rows


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
        _queued_flag_clear(endpoint_id)
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
    secrets_ = signing.signing_secrets(endpoint)
    started = time.monotonic()
    sent: list[tuple[WebhookDelivery, transport.AttemptResult]] = []
    for delivery in claimed:
        if sent and (
            _endpoint_unwell(sent[-1][1]) or time.monotonic() - started > BATCH_SEND_SECONDS
        ):
            break
        event = delivery.event
        body = signing.body_encode(event.payload)
        headers = signing.signed_headers(
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
