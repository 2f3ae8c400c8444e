import json
import random
import socket
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from arpilot.outbound import transport
from tests.webhooks.receiver import Reply
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.delivery import JITTER
from webhooks.tasks import send_due_task

pytestmark = pytest.mark.django_db


def _emit(org, event_type="invoice.paid", data=None) -> WebhookDelivery:
    event = services.event_emit(
        organization_id=org.pk, event_type=event_type, data=data or {"invoice_id": "inv-1"}
    )
    return WebhookDelivery.objects.get(event=event)


def _attempt(delivery) -> WebhookDelivery:
    """Run the send task of the delivery's endpoint (as a worker does), then reread it."""
    send_due_task(str(delivery.endpoint_id))
    delivery.refresh_from_db()
    return delivery


def _nothing_sent(delivery) -> bool:
    """A batch for the delivery's endpoint leases nothing (so sends nothing)."""
    return services.endpoint_send_due(endpoint_id=delivery.endpoint_id) == 0


def _make_due(delivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


# --- retry schedule ---------------------------------------------------------------------------


def test_schedule_has_at_least_eight_attempts_over_at_least_three_days():
    shortest = sum(
        (services.retry_delay(n, rng=_Fixed(-JITTER)) for n in range(1, 10)),
        timedelta(),
    )

    assert services.MAX_ATTEMPTS >= 8
    assert len(services.RETRY_DELAYS) == services.MAX_ATTEMPTS - 1
    assert shortest >= timedelta(days=3)


class _Fixed(random.Random):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def uniform(self, a, b):
        return self.value


@pytest.mark.parametrize(
    ("attempt", "base"),
    [(1, timedelta(minutes=1)), (2, timedelta(minutes=5)), (4, timedelta(hours=2)),
     (9, timedelta(hours=24)), (30, timedelta(hours=24))],
)  # fmt: skip
def test_retry_delay_grows_exponentially_with_jitter(attempt, base):
    delays = {services.retry_delay(attempt, rng=random.Random(seed)) for seed in range(20)}

    assert len(delays) > 1
    assert all(base * 0.9 <= delay <= base * 1.1 for delay in delays)


# --- status handling --------------------------------------------------------------------------


def test_2xx_succeeds_with_a_signed_standard_webhooks_request(org, endpoint, receiver):
    delivery = _emit(org, data={"amount": 12.5})

    delivery = _attempt(delivery)

    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.delivered_at is not None
    assert delivery.attempt_count == 1
    (request,) = receiver.received
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload == {
        "id": str(delivery.event_id),
        "type": "invoice.paid",
        "created_at": delivery.event.created_at.isoformat(),
        "data": {"amount": 12.5},
    }
    assert request.headers["webhook-id"] == str(delivery.event_id)
    assert request.headers["content-type"] == "application/json"
    (attempt,) = delivery.attempts.all()
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")
    assert attempt.response_snippet == "ok"


def test_a_failure_is_retried_later_with_the_same_webhook_id(org, endpoint, receiver):
    receiver.replies = [Reply(500, body=b"boom")]
    delivery = _emit(org)
    before = timezone.now()

    delivery = _attempt(delivery)

    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code == 500
    assert delivery.locked_until is None
    assert before + timedelta(seconds=54) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= timezone.now() + timedelta(seconds=66)
    assert _nothing_sent(delivery)  # not due yet
    assert len(receiver.received) == 1

    _make_due(delivery)
    delivery = _attempt(delivery)

    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert [(a.number, a.status_code) for a in delivery.attempts.all()] == [(1, 500), (2, 200)]
    assert delivery.attempts.first().response_snippet == "boom"


def test_a_redirect_is_not_followed_and_counts_as_a_failure(org, endpoint, receiver):
    receiver.replies = [Reply(301, headers={"Location": receiver.url + "/elsewhere"})]
    delivery = _emit(org)

    delivery = _attempt(delivery)

    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code == 301
    assert "not followed" in delivery.last_error
    assert [r.path for r in receiver.received] == ["/hook"]


def test_410_disables_the_endpoint(org, endpoint, receiver):
    receiver.default = Reply(410)
    delivery = _emit(org)
    waiting = _emit(org, event_type="invoice.created")

    delivery = _attempt(delivery)

    endpoint.refresh_from_db()
    waiting.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert endpoint.is_active is False
    assert endpoint.disabled_reason == "The endpoint answered 410 Gone."
    assert endpoint.disabled_at is not None
    assert waiting.status == WebhookDelivery.Status.FAILED
    assert services.event_emit(organization_id=org.pk, event_type="invoice.paid", data={}) is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured(org, endpoint, receiver, status):
    receiver.replies = [Reply(status, headers={"Retry-After": "7200"})]
    delivery = _emit(org)

    delivery = _attempt(delivery)

    wait = delivery.next_attempt_at - timezone.now()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert timedelta(seconds=7190) <= wait <= timedelta(seconds=7200)


def test_retry_after_as_an_http_date_is_honoured(org, endpoint, receiver):
    when = timezone.now() + timedelta(minutes=20)
    receiver.replies = [
        Reply(429, headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    ]

    delivery = _attempt(_emit(org))

    assert abs(delivery.next_attempt_at - when) < timedelta(seconds=3)


def test_retry_after_is_ignored_on_other_statuses(org, endpoint, receiver):
    receiver.replies = [Reply(500, headers={"Retry-After": "7200"})]

    delivery = _attempt(_emit(org))

    assert delivery.next_attempt_at - timezone.now() < timedelta(minutes=2)


def test_a_slow_endpoint_times_out(org, endpoint, receiver, monkeypatch):
    monkeypatch.setattr(transport, "TIMEOUT_SECONDS", 0.3)
    receiver.replies = [Reply(200, delay=2)]

    delivery = _attempt(_emit(org))

    (attempt,) = delivery.attempts.all()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert attempt.status_code is None
    assert attempt.error == "Timed out after 0.3 s."


def test_an_unreachable_endpoint_is_a_recorded_failure(org, insecure):
    endpoint = services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/closed", events=["*"]
    )

    delivery = _attempt(_emit(org))

    assert endpoint.pk == delivery.endpoint_id
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert "ConnectionError" in delivery.last_error


def test_the_delivery_fails_after_the_last_attempt(org, endpoint, receiver):
    receiver.default = Reply(500)
    delivery = _emit(org)

    for _ in range(services.MAX_ATTEMPTS):
        _make_due(delivery)
        delivery = _attempt(delivery)

    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.next_attempt_at is None
    assert delivery.attempts.count() == services.MAX_ATTEMPTS
    assert len(receiver.received) == services.MAX_ATTEMPTS
    _make_due(delivery)
    assert _nothing_sent(delivery)
    assert len(receiver.received) == services.MAX_ATTEMPTS


def test_an_endpoint_failing_for_five_days_is_disabled_with_the_reason(org, endpoint, receiver):
    receiver.default = Reply(500)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=5, minutes=1)
    )

    delivery = _attempt(_emit(org))

    endpoint.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert endpoint.is_active is False
    assert endpoint.disabled_reason == "Every delivery failed for 5 days (last: HTTP 500)."


def test_failing_since_is_set_by_a_failure_and_cleared_by_a_success(org, endpoint, receiver):
    receiver.replies = [Reply(500)]
    delivery = _attempt(_emit(org))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None

    _make_due(delivery)
    _attempt(delivery)

    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_a_paused_endpoint_keeps_its_deliveries_until_resumed(org, endpoint, receiver):
    delivery = _emit(org)
    services.endpoint_update(endpoint=endpoint, is_active=False)

    assert _nothing_sent(delivery)
    send_due_task(str(endpoint.pk))
    assert receiver.received == []

    services.endpoint_update(endpoint=endpoint, is_active=True)
    delivery = _attempt(delivery)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED


def test_a_leased_delivery_is_not_sent_twice(org, endpoint, receiver):
    delivery = _emit(org)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )

    assert _nothing_sent(delivery)
    assert receiver.received == []


def test_an_expired_lease_lets_another_worker_send(org, endpoint, receiver):
    delivery = _emit(org)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1), attempt_count=1
    )

    delivery = _attempt(delivery)

    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert [a.number for a in delivery.attempts.all()] == [2]


def test_a_succeeded_delivery_is_never_sent_again(org, endpoint, receiver):
    delivery = _attempt(_emit(org))
    _make_due(delivery)

    assert _nothing_sent(delivery)
    send_due_task(str(endpoint.pk))
    assert services.endpoint_send_due(endpoint_id="00000000-0000-0000-0000-000000000000") == 0
    assert len(receiver.received) == 1


# --- rotation ---------------------------------------------------------------------------------


def test_after_rotation_both_secrets_sign_for_24_hours(org, endpoint, receiver):
    old_secret = endpoint.secret

    rotated = services.endpoint_rotate_secret(endpoint=endpoint)
    _attempt(_emit(org))

    (request,) = receiver.received
    assert rotated.secret != old_secret
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(rotated.secret).verify(request.body, request.headers)
    assert Webhook(old_secret).verify(request.body, request.headers)
    expires = rotated.previous_secret_expires_at - timezone.now()
    assert timedelta(hours=23, minutes=59) < expires <= timedelta(hours=24)


def test_the_old_secret_stops_signing_after_24_hours(org, endpoint, receiver):
    old_secret = endpoint.secret
    rotated = services.endpoint_rotate_secret(endpoint=endpoint)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )

    _attempt(_emit(org))

    (request,) = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(rotated.secret).verify(request.body, request.headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(old_secret).verify(request.body, request.headers)


# --- SSRF at connect time ---------------------------------------------------------------------


def test_loopback_delivery_is_refused_without_the_insecure_setting(
    org, endpoint, receiver, settings
):
    delivery = _emit(org)
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = False

    delivery = _attempt(delivery)

    assert receiver.received == []
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert "must use https" in delivery.last_error


def test_dns_rebinding_to_loopback_is_refused_at_connect_time(
    org, receiver, dns, settings, monkeypatch
):
    """Registered while the name resolved to a public address; it now resolves to 127.0.0.1."""
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = False
    dns["rebind.example.com"] = ["93.184.215.14"]
    port = receiver.server.server_address[1]
    endpoint = services.endpoint_create(
        organization=org, url=f"https://rebind.example.com:{port}/hook", events=["*"]
    )
    real_getaddrinfo = socket.getaddrinfo

    def rebound(host, *args, **kwargs):
        if host == "rebind.example.com":
            return real_getaddrinfo("127.0.0.1", *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)

    delivery = _attempt(_emit(org))

    assert delivery.endpoint_id == endpoint.pk
    assert receiver.received == []
    assert delivery.last_error.startswith("Refused to connect to a private address")


def test_payload_data_is_rendered_as_the_api_renders_it(org, endpoint, receiver):
    ident = uuid.uuid4()
    delivery = _attempt(
        _emit(org, data={"id": ident, "amount": Decimal("1250.50"), "due": date(2026, 12, 1)})
    )

    body = json.loads(receiver.received[0].body)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert body["data"] == {"id": str(ident), "amount": 1250.5, "due": "2026-12-01"}
