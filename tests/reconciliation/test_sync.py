"""The push sync: signed batches in sequence order, backoff, give-up, leases."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook

from reconciliation import services, tasks
from reconciliation.models import AccountingChange, SyncTarget
from reconciliation.services import sync
from tests.reconciliation.factories import make_change, make_due
from tests.threads import run_threads
from tests.webhooks.receiver import Reply
from webhooks import services as webhook_services
from webhooks.models import WebhookEvent

Status = AccountingChange.Status


def _approved(org, invoice, count):
    return [make_change(org, invoice=invoice, status="approved") for _ in range(count)]


def _approved_quietly(org, invoice, count):
    """Approved changes whose approval queued no sync (committed tests run on_commit)."""
    SyncTarget.objects.update(enabled=False)
    changes = _approved(org, invoice, count)
    SyncTarget.objects.update(enabled=True)
    return changes


def _sent_ids(receiver):
    ids = []
    for request in receiver.received:
        ids += [change["id"] for change in json.loads(request.body)["data"]["changes"]]
    return ids


def _refresh(*changes):
    for change in changes:
        change.refresh_from_db()


@pytest.mark.django_db
def test_sync_posts_signed_batches_in_sequence_order_and_marks_them_synced(
    org, invoice, target, receiver
):
    changes = _approved(org, invoice, 3)
    make_change(org, invoice=invoice)  # pending: not sent

    run = services.changes_sync(organization_id=org.pk)

    assert (run.batches, run.synced, run.failed) == (1, 3, 0)
    (request,) = receiver.received
    body = Webhook(target.secret).verify(request.body, request.headers)
    assert body["type"] == "accounting_changes.batch"
    assert body["id"] == request.headers["webhook-id"]
    assert body["data"]["organization_id"] == org.pk
    sent = body["data"]["changes"]
    assert [change["id"] for change in sent] == [str(change.pk) for change in changes]
    assert sent[0]["amount"] == 100.0
    assert sent[0]["payload"]["lines"][0]["debit"] == 100.0
    _refresh(*changes)
    assert {change.status for change in changes} == {Status.SYNCED}
    assert all(change.attempts == 1 for change in changes)
    target.refresh_from_db()
    assert target.last_success_at is not None
    assert target.locked_until is None


@pytest.mark.django_db
def test_sync_sends_in_batches(org, invoice, target, receiver, monkeypatch):
    monkeypatch.setattr(sync, "SYNC_BATCH", 2)
    changes = _approved(org, invoice, 5)

    run = services.changes_sync(organization_id=org.pk)

    assert run.batches == 3
    assert [len(json.loads(r.body)["data"]["changes"]) for r in receiver.received] == [2, 2, 1]
    assert _sent_ids(receiver) == [str(change.pk) for change in changes]


@pytest.mark.django_db
def test_a_run_stops_at_its_batch_limit_and_says_there_is_more(
    org, invoice, target, receiver, monkeypatch
):
    monkeypatch.setattr(sync, "SYNC_BATCH", 1)
    monkeypatch.setattr(sync, "SYNC_BATCHES_PER_RUN", 2)
    _approved(org, invoice, 3)

    run = services.changes_sync(organization_id=org.pk)

    assert (run.batches, run.more) == (2, True)


@pytest.mark.django_db
def test_a_failed_post_backs_off_then_succeeds(org, invoice, target, receiver):
    receiver.replies = [Reply(status=503, body=b"maintenance")]
    (change,) = _approved(org, invoice, 1)

    failed_run = services.changes_sync(organization_id=org.pk)

    change.refresh_from_db()
    assert (failed_run.batches, failed_run.synced) == (1, 0)
    assert change.status == Status.APPROVED
    assert change.attempts == 1
    assert change.error_message == "HTTP 503: maintenance"
    assert change.next_attempt_at - timezone.now() > timedelta(seconds=25)
    assert timedelta(seconds=25) < failed_run.next_run_in <= services.RETRY_DELAYS[0]
    target.refresh_from_db()
    assert target.last_error == "HTTP 503: maintenance"

    early = services.changes_sync(organization_id=org.pk)
    assert early.batches == 0  # still backing off
    assert len(receiver.received) == 1

    make_due(change)
    services.changes_sync(organization_id=org.pk)

    change.refresh_from_db()
    assert change.status == Status.SYNCED
    assert change.attempts == 2
    assert change.error_message == ""


@pytest.mark.django_db
def test_after_the_last_attempt_the_change_fails_with_the_error(
    org, invoice, target, receiver, insecure
):
    webhook_services.endpoint_create(
        organization=org, url=receiver.url + "/events", events=["accounting_change.failed"]
    )
    receiver.default = Reply(status=500, body=b"")
    (change,) = _approved(org, invoice, 1)

    for _ in range(services.MAX_ATTEMPTS):
        services.changes_sync(organization_id=org.pk)
        make_due(change)

    change.refresh_from_db()
    assert change.status == Status.FAILED
    assert change.attempts == services.MAX_ATTEMPTS
    assert change.error_message == "Gave up after 5 attempts: HTTP 500"
    assert WebhookEvent.objects.filter(event_type="accounting_change.failed").count() == 1

    receiver.default = Reply(status=204, body=b"")
    services.change_retry(change=change)
    services.changes_sync(organization_id=org.pk)

    change.refresh_from_db()
    assert change.status == Status.SYNCED
    assert change.attempts == 1


@pytest.mark.django_db
def test_network_errors_are_recorded(org, invoice, insecure):
    _target, _ = services.sync_target_save(organization=org, url="http://127.0.0.1:9/closed")
    (change,) = _approved(org, invoice, 1)

    services.changes_sync(organization_id=org.pk)

    change.refresh_from_db()
    assert change.status == Status.APPROVED
    assert "ConnectionError" in change.error_message


@pytest.mark.django_db
def test_later_changes_wait_while_an_earlier_one_backs_off(org, invoice, target, receiver):
    receiver.replies = [Reply(status=500)]
    (_first,) = _approved(org, invoice, 1)
    services.changes_sync(organization_id=org.pk)
    (second,) = _approved(org, invoice, 1)

    services.changes_sync(organization_id=org.pk)

    assert len(receiver.received) == 1
    second.refresh_from_db()
    assert second.attempts == 0


@pytest.mark.django_db
def test_nothing_is_sent_without_an_enabled_target(org, invoice, target, receiver):
    _approved(org, invoice, 1)
    services.sync_target_save(organization=org, enabled=False)

    run = services.changes_sync(organization_id=org.pk)

    assert run.ran is False
    assert receiver.received == []


@pytest.mark.django_db
def test_a_change_another_worker_holds_is_not_sent(org, invoice, target, receiver):
    held, free = _approved(org, invoice, 2)
    AccountingChange.objects.filter(pk=held.pk).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )

    services.changes_sync(organization_id=org.pk)

    assert _sent_ids(receiver) == [str(free.pk)]
    held.refresh_from_db()
    assert held.status == Status.APPROVED


@pytest.mark.django_db
def test_an_integration_marking_a_change_meanwhile_wins(org, invoice, target, receiver):
    (change,) = _approved(org, invoice, 1)
    receiver.default = Reply(status=500)
    original = sync._batch_send

    def send_then_integration_marks(target_, changes):
        result = original(target_, changes)
        services.changes_sync_status(organization=org, action="mark_synced", change_ids=[change.pk])
        return result

    sync._batch_send = send_then_integration_marks
    try:
        services.changes_sync(organization_id=org.pk)
    finally:
        sync._batch_send = original

    change.refresh_from_db()
    assert change.status == Status.SYNCED
    assert change.next_attempt_at is None


@pytest.mark.django_db
def test_beat_kicks_organizations_with_changes_to_push(org, other_org, invoice, target, receiver):
    (change,) = _approved(org, invoice, 1)

    kicked = services.changes_sync_due()

    assert kicked == [org.pk]
    change.refresh_from_db()
    assert change.status == Status.SYNCED  # the task ran inline
    assert services.changes_sync_due() == []


@pytest.mark.django_db
def test_approving_queues_a_sync_after_commit(
    org, invoice, target, receiver, django_capture_on_commit_callbacks
):
    change = make_change(org, invoice=invoice)

    with django_capture_on_commit_callbacks(execute=True):
        services.changes_approve(organization=org, change_ids=[change.pk])

    change.refresh_from_db()
    assert change.status == Status.SYNCED


@pytest.mark.django_db
def test_the_task_schedules_its_retry_once(org, invoice, target, receiver, monkeypatch):
    receiver.default = Reply(status=500)
    _approved(org, invoice, 1)
    scheduled = []
    monkeypatch.setattr(
        tasks.sync_organization_task,
        "apply_async",
        lambda args, countdown=None, **kw: scheduled.append((args, countdown)),
    )

    tasks.sync_organization_task(org.pk)

    assert scheduled == [([org.pk], pytest.approx(30, abs=2))]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "sqlite" in connection.settings_dict["ENGINE"], reason="row locks need PostgreSQL"
)
def test_two_concurrent_runs_never_send_a_change_twice(org, invoice, target, receiver, monkeypatch):
    monkeypatch.setattr(sync, "SYNC_BATCH", 3)
    changes = _approved_quietly(org, invoice, 9)
    receiver.default = Reply(status=200, delay=0.3)
    barrier = threading.Barrier(4)

    def run():
        barrier.wait()
        services.changes_sync(organization_id=org.pk)
        # a second wave takes over once the first run's lease is released
        services.changes_sync(organization_id=org.pk)

    errors = run_threads(run, 4)

    assert errors == []
    sent = _sent_ids(receiver)
    assert sorted(sent) == sorted(str(change.pk) for change in changes)  # each exactly once
    assert sent == [str(change.pk) for change in changes]  # and in order
    assert set(
        AccountingChange.objects.filter(pk__in=[c.pk for c in changes]).values_list(
            "status", flat=True
        )
    ) == {Status.SYNCED}
    assert SyncTarget.objects.get().locked_until is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "sqlite" in connection.settings_dict["ENGINE"], reason="row locks need PostgreSQL"
)
def test_batch_leases_alone_keep_two_runs_apart(org, invoice, target, receiver, monkeypatch):
    """Even if the organization lease were lost, a change is leased by one batch only."""
    monkeypatch.setattr(sync, "SYNC_BATCH", 2)
    monkeypatch.setattr(sync, "_target_claim", lambda organization_id: (target, None))
    monkeypatch.setattr(sync, "_target_extend", lambda target_, token: target_)
    changes = _approved_quietly(org, invoice, 6)
    receiver.default = Reply(status=200, delay=0.2)
    barrier = threading.Barrier(3)

    def run():
        barrier.wait()
        services.changes_sync(organization_id=org.pk)

    run_threads(run, 3)

    sent = _sent_ids(receiver)
    assert sorted(sent) == sorted(str(change.pk) for change in changes)


@pytest.mark.django_db
def test_disabling_the_target_stops_a_run_after_the_current_batch(
    org, invoice, target, receiver, monkeypatch
):
    monkeypatch.setattr(sync, "SYNC_BATCH", 1)
    first, second = _approved(org, invoice, 2)
    original = sync._batch_send

    def send_then_disable(target_, changes):
        result = original(target_, changes)
        SyncTarget.objects.update(enabled=False)
        return result

    monkeypatch.setattr(sync, "_batch_send", send_then_disable)

    run = services.changes_sync(organization_id=org.pk)

    assert run.batches == 1
    _refresh(first, second)
    assert (first.status, second.status) == (Status.SYNCED, Status.APPROVED)
    assert SyncTarget.objects.get().locked_until is None
