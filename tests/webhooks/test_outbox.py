"""The outbox: events are written with the change, sent after commit, never lost."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.tasks import send_due_task

pytestmark = pytest.mark.django_db(transaction=True)


def _emit(org, event_type="invoice.paid"):
    return services.event_emit(organization_id=org.pk, event_type=event_type, data={"n": 1})


def test_a_rolled_back_change_sends_nothing(org, endpoint, receiver):
    with pytest.raises(RuntimeError), transaction.atomic():
        _emit(org)
        raise RuntimeError("the domain change failed")

    assert WebhookEvent.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0
    assert receiver.wait_for(1, timeout=0.5) == []


def test_a_committed_event_is_sent_after_commit_and_not_before(org, endpoint, receiver):
    with transaction.atomic():
        event = _emit(org)
        assert receiver.received == []

    (request,) = receiver.wait_for(1)
    assert request.headers["webhook-id"] == str(event.pk)
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED


def test_a_commit_while_the_broker_is_unreachable_is_delivered_after_it_returns(
    org, endpoint, receiver, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(send_due_task, "apply_async", broker_down)
    with transaction.atomic():
        _emit(org)  # the caller's transaction commits even though the task cannot be sent

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert receiver.received == []

    monkeypatch.undo()  # the broker is back; some minutes later the sweeper runs
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=10))
    assert services.deliveries_requeue_due() == 1

    assert len(receiver.wait_for(1)) == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED


def test_after_a_failed_send_requests_stop_waiting_on_the_broker(org, endpoint, monkeypatch):
    calls = []

    def broker_down(*args, **kwargs):
        calls.append(args)
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(send_due_task, "apply_async", broker_down)
    for _ in range(3):
        with transaction.atomic():
            _emit(org)

    assert len(calls) == 1  # the next two commits did not wait on the broker
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=10))
    assert services.deliveries_requeue_due() == 0  # the sweeper tries, stops at the failure
    assert len(calls) == 2


def test_the_sweeper_skips_fresh_leased_and_paused_deliveries(org, endpoint, receiver, monkeypatch):
    paused = services.endpoint_create(organization=org, url=receiver.url, events=["*"])
    monkeypatch.setattr(send_due_task, "apply_async", lambda *args, **kwargs: None)  # tasks lost
    with transaction.atomic():
        _emit(org)
    services.endpoint_update(endpoint=paused, is_active=False)
    monkeypatch.undo()

    assert services.deliveries_requeue_due() == 0  # just committed: its task may be on its way

    long_ago = timezone.now() - timedelta(minutes=10)
    WebhookDelivery.objects.update(next_attempt_at=long_ago)
    WebhookDelivery.objects.filter(endpoint=endpoint).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )
    assert services.deliveries_requeue_due() == 0  # a worker holds it; paused waits

    WebhookDelivery.objects.filter(endpoint=endpoint).update(locked_until=long_ago)
    assert services.deliveries_requeue_due() == 1  # that worker died: the lease ran out

    assert len(receiver.wait_for(1)) == 1
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == "succeeded"
    assert WebhookDelivery.objects.get(endpoint=paused).status == "pending"


def test_a_queue_backlog_is_re_queued_at_most_once_per_grace_period(
    org, endpoint, receiver, monkeypatch
):
    sent = []
    monkeypatch.setattr(send_due_task, "apply_async", lambda *args, **kwargs: sent.append(args))
    with transaction.atomic():
        _emit(org)
        _emit(org)
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=10))

    assert services.deliveries_requeue_due() == 2
    assert services.deliveries_requeue_due() == 0  # their new task is in the queue now
    # One at commit (the second event found that task still queued), one by the sweeper for
    # the endpoint's two deliveries.
    assert len(sent) == 2


def test_only_subscribed_active_endpoints_get_a_delivery(org, other_org, receiver, insecure):
    invoices = services.endpoint_create(
        organization=org, url=receiver.url, events=["invoice.paid", "invoice.created"]
    )
    services.endpoint_create(organization=org, url=receiver.url, events=["customer.created"])
    services.endpoint_create(organization=org, url=receiver.url, events=["*"], is_active=False)
    services.endpoint_create(organization=other_org, url=receiver.url, events=["*"])

    event = _emit(org)

    assert [d.endpoint_id for d in event.deliveries.all()] == [invoices.pk]
    assert _emit(org, "payment.imported") is None
    assert WebhookEvent.objects.count() == 1


def test_an_unknown_event_type_is_a_programming_error(org):
    with pytest.raises(ValueError, match="Unknown webhook event type"):
        services.event_emit(organization_id=org.pk, event_type="invoice.exploded", data={})
