"""Delivery through a real Celery worker subprocess, real Redis and PostgreSQL."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError
from standardwebhooks import Webhook

from tests.webhooks.receiver import Reply
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tasks import send_due_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]

INSECURE = {"ARPILOT_WEBHOOKS_ALLOW_INSECURE": "1"}


def _emit_committed(org, count: int) -> list[str]:
    with transaction.atomic():
        events = [
            services.event_emit(organization_id=org.pk, event_type="invoice.paid", data={"n": n})
            for n in range(count)
        ]
    return [str(event.pk) for event in events]


def _wait_until_all_succeeded(timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.SUCCEEDED).exists():
            return
        time.sleep(0.1)
    statuses = list(WebhookDelivery.objects.values_list("status", "attempt_count", "last_error"))
    raise AssertionError(f"not every delivery succeeded: {statuses}")


def test_a_committed_event_is_delivered_by_a_worker(org, endpoint, receiver, celery_worker_factory):
    celery_worker_factory(**INSECURE)

    (event_id,) = _emit_committed(org, 1)

    _wait_until_all_succeeded()
    (request,) = receiver.received
    assert Webhook(endpoint.secret).verify(request.body, request.headers)["id"] == event_id


def test_a_worker_killed_mid_delivery_still_delivers_every_event(
    org, endpoint, receiver, celery_worker_factory
):
    receiver.replies = [Reply(200, delay=30)]  # the first request hangs while we kill the worker
    first_worker = celery_worker_factory(**INSECURE)

    event_ids = _emit_committed(org, 5)
    assert receiver.got_request.wait(20), first_worker.output
    first_worker.kill()
    hung_id = receiver.received[0].headers["webhook-id"]
    # One task leased the endpoint's five due deliveries as a batch and died sending the first.
    in_flight = WebhookDelivery.objects.filter(locked_until__isnull=False)
    assert in_flight.count() == 5
    assert set(in_flight.values_list("status", flat=True)) == {WebhookDelivery.Status.PENDING}

    celery_worker_factory(**INSECURE)
    # Time passes: the dead worker's lease runs out, then the beat sweeper runs.
    in_flight.update(
        locked_until=timezone.now() - timedelta(minutes=1),
        next_attempt_at=timezone.now() - timedelta(minutes=10),
    )
    assert services.deliveries_requeue_due() == 5

    _wait_until_all_succeeded()
    received = [request.headers["webhook-id"] for request in receiver.received]
    assert set(received) == set(event_ids)
    # At least once: the killed attempt reached the receiver too; the rest went once each.
    assert received.count(hung_id) == 2
    assert len(received) == 6
    for request in receiver.received:
        assert Webhook(endpoint.secret).verify(request.body, request.headers)


def test_a_commit_while_redis_is_unreachable_is_delivered_once_it_returns(
    org, endpoint, receiver, celery_worker_factory, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(send_due_task, "apply_async", broker_down)
    (event_id,) = _emit_committed(org, 1)
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PENDING

    monkeypatch.undo()
    celery_worker_factory(**INSECURE)
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=10))
    assert services.deliveries_requeue_due() == 1

    _wait_until_all_succeeded()
    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id]
