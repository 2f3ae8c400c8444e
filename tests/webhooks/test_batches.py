"""Batched sending: one task per endpoint leases its due deliveries and sends them in turn."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.threads import run_threads
from tests.webhooks.receiver import Reply
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookDeliveryAttempt
from webhooks.services import delivery, queueing
from webhooks.tasks import send_due_task


def _emit(org, count: int) -> list[str]:
    return [
        str(
            services.event_emit(organization_id=org.pk, event_type="invoice.paid", data={"n": n}).pk
        )
        for n in range(count)
    ]


@pytest.mark.django_db
def test_a_batch_costs_the_same_queries_whatever_its_size(org, endpoint, receiver):
    def send_all(count: int) -> int:
        _emit(org, count)
        with CaptureQueriesContext(connection) as queries:
            assert services.endpoint_send_due(endpoint_id=endpoint.pk) == count
        return len(queries)

    assert send_all(2) == send_all(40)
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 42
    assert WebhookDeliveryAttempt.objects.filter(status_code=200, number=1).count() == 42
    assert len(receiver.received) == 42


@pytest.mark.django_db
def test_a_task_sends_batch_after_batch_until_nothing_is_due(org, endpoint, receiver, monkeypatch):
    monkeypatch.setattr(delivery, "SEND_BATCH", 7)
    event_ids = _emit(org, 30)

    services.endpoint_drain(endpoint_id=endpoint.pk)

    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(event_ids)
    assert not WebhookDelivery.objects.exclude(status="succeeded").exists()


@pytest.mark.django_db(transaction=True)
def test_a_commit_while_a_send_is_queued_queues_no_other(org, endpoint, monkeypatch):
    sent = []
    monkeypatch.setattr(send_due_task, "apply_async", lambda *a, **kw: sent.append(kw))
    for _ in range(3):
        with transaction.atomic():
            _emit(org, 2)

    assert len(sent) == 1  # the queued task will find all six
    assert sent[0]["args"] == [str(endpoint.pk)] and sent[0]["kwargs"] == {"flagged": True}

    # The task starts: it drops the flag before it looks, so the next commit queues again.
    monkeypatch.setattr(delivery, "endpoint_send_due", lambda **kwargs: 0)
    services.endpoint_drain(endpoint_id=endpoint.pk, flagged=True)
    with transaction.atomic():
        _emit(org, 1)

    assert len(sent) == 2


@pytest.mark.django_db
def test_an_endpoint_that_throttles_stops_the_batch_and_holds_the_rest(org, endpoint, receiver):
    receiver.replies = [Reply(429, headers={"Retry-After": "120"})]
    first, *rest = _emit(org, 3)
    before = timezone.now()

    assert services.endpoint_send_due(endpoint_id=endpoint.pk) == 3

    assert len(receiver.received) == 1  # the other two were not sent into the throttle
    throttled = WebhookDelivery.objects.get(event_id=first)
    assert (throttled.status, throttled.attempt_count, throttled.locked_until) == (
        "pending",
        1,
        None,
    )
    assert throttled.next_attempt_at >= before + timedelta(seconds=119)
    for held in WebhookDelivery.objects.filter(event_id__in=rest):
        assert (held.status, held.attempt_count, held.locked_until) == ("pending", 0, None)
        assert held.next_attempt_at >= throttled.next_attempt_at
        assert not held.attempts.exists()
    assert services.endpoint_send_due(endpoint_id=endpoint.pk) == 0  # nothing due until then


@pytest.mark.django_db
def test_an_unreachable_endpoint_is_tried_once_per_batch(org, insecure):
    endpoint = services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/closed", events=["*"]
    )
    _emit(org, 4)

    services.endpoint_send_due(endpoint_id=endpoint.pk)

    assert WebhookDeliveryAttempt.objects.count() == 1
    assert WebhookDelivery.objects.filter(attempt_count=0, locked_until=None).count() == 3


@pytest.mark.django_db
def test_a_client_error_on_one_delivery_does_not_stop_the_batch(org, endpoint, receiver):
    receiver.replies = [Reply(400, body=b"bad payload")]
    first, *rest = _emit(org, 3)

    services.endpoint_send_due(endpoint_id=endpoint.pk)

    assert len(receiver.received) == 3
    rejected = WebhookDelivery.objects.get(event_id=first)
    assert (rejected.status, rejected.last_status_code) == ("pending", 400)
    assert WebhookDelivery.objects.filter(event_id__in=rest, status="succeeded").count() == 2
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # the last request succeeded


@pytest.mark.django_db(transaction=True)
def test_a_batch_out_of_time_hands_the_rest_to_another_task(org, endpoint, receiver, monkeypatch):
    monkeypatch.setattr(delivery, "BATCH_SEND_SECONDS", 0.0)  # one request, then time is up
    with transaction.atomic():
        event_ids = _emit(org, 3)  # sent after commit, one request per task

    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(event_ids)
    assert list(WebhookDeliveryAttempt.objects.values_list("number", flat=True)) == [1, 1, 1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL SKIP LOCKED")
def test_concurrent_tasks_on_one_endpoint_send_each_delivery_once(
    org, endpoint, receiver, monkeypatch
):
    monkeypatch.setattr(delivery, "SEND_BATCH", 10)
    monkeypatch.setattr(send_due_task, "apply_async", lambda *a, **kw: None)  # held back
    with transaction.atomic():
        event_ids = set(_emit(org, 150))
    errors = run_threads(lambda: services.endpoint_drain(endpoint_id=endpoint.pk), 4)

    assert errors == []
    counts = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert set(counts) == event_ids
    assert set(counts.values()) == {1}
    assert WebhookDelivery.objects.filter(status="succeeded").count() == 150


@pytest.mark.django_db
def test_no_more_than_the_allowed_tasks_send_to_one_endpoint(org, endpoint, receiver, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(queueing, "MAX_PARALLEL_SENDS", 1)
    _emit(org, 3)
    taken = f"webhooks:sending:{endpoint.pk}:0"
    cache.add(taken, 1)  # another task is sending to this endpoint

    services.endpoint_drain(endpoint_id=endpoint.pk)

    assert receiver.received == []  # it left the work to that task
    cache.delete(taken)
    services.endpoint_drain(endpoint_id=endpoint.pk)
    assert len(receiver.received) == 3


@pytest.mark.django_db
def test_a_sending_task_looks_again_before_it_stops(org, endpoint, receiver, monkeypatch):
    """Deliveries committed while every slot was taken (their task gave up at once) are sent
    by the slot holder, which looks for due deliveries after giving its slot back."""
    monkeypatch.setattr(queueing, "MAX_PARALLEL_SENDS", 1)
    monkeypatch.setattr(send_due_task, "apply_async", lambda *a, **kw: None)
    first = _emit(org, 2)
    later: list[str] = []
    drain = delivery._drain_batches

    def drain_then_more_commits(endpoint_id):
        outcome = drain(endpoint_id)
        if not later:
            later.extend(_emit(org, 2))
            services.endpoint_drain(endpoint_id=endpoint_id)  # finds no free slot
        return outcome

    monkeypatch.setattr(delivery, "_drain_batches", drain_then_more_commits)

    services.endpoint_drain(endpoint_id=endpoint.pk)

    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(first + later)
