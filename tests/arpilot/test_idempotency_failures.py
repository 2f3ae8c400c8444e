"""A request that fails (a 5xx or an exception) releases its Idempotency-Key: a retry runs."""

import pytest
from rest_framework.exceptions import APIException

from arpilot.models import IdempotencyKey
from customers import services as customer_services
from customers.models import Customer
from tests.customers.factories import customer_payload

pytestmark = pytest.mark.django_db


class Unavailable(APIException):
    status_code = 503
    default_detail = "Try again later."


def _failing_once(monkeypatch, exc: Exception) -> list[int]:
    """``customer_create`` raises ``exc`` on its first call, then works."""
    calls: list[int] = []
    real = customer_services.customer_create

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return real(**kwargs)

    monkeypatch.setattr(customer_services, "customer_create", flaky)
    return calls


def test_an_exception_escaping_the_view_releases_the_key(api, monkeypatch):
    calls = _failing_once(monkeypatch, RuntimeError("boom"))
    api.raise_request_exception = False
    headers = {"HTTP_IDEMPOTENCY_KEY": "crash-1"}

    first = api.post("/api/v1/customers", customer_payload(), format="json", **headers)
    assert first.status_code == 500
    assert not IdempotencyKey.objects.filter(key="crash-1").exists()

    retry = api.post("/api/v1/customers", customer_payload(), format="json", **headers)

    assert retry.status_code == 201, retry.content
    assert "Idempotent-Replayed" not in retry
    assert len(calls) == 2
    assert Customer.objects.count() == 1
    replay = api.post("/api/v1/customers", customer_payload(), format="json", **headers)
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == retry.json()


def test_an_exception_raised_to_the_caller_releases_the_key_too(api, monkeypatch):
    """With the test client re-raising (as a server's error middleware would see it)."""
    _failing_once(monkeypatch, RuntimeError("boom"))
    headers = {"HTTP_IDEMPOTENCY_KEY": "crash-2"}

    with pytest.raises(RuntimeError):
        api.post("/api/v1/customers", customer_payload(), format="json", **headers)
    retry = api.post("/api/v1/customers", customer_payload(), format="json", **headers)

    assert retry.status_code == 201


def test_a_handled_5xx_releases_the_key(api, monkeypatch):
    _failing_once(monkeypatch, Unavailable())
    headers = {"HTTP_IDEMPOTENCY_KEY": "unavailable-1"}

    first = api.post("/api/v1/customers", customer_payload(), format="json", **headers)
    retry = api.post("/api/v1/customers", customer_payload(), format="json", **headers)

    assert first.status_code == 503
    assert retry.status_code == 201
    assert Customer.objects.count() == 1


def test_a_4xx_is_still_stored_and_replayed(api, monkeypatch):
    api.post("/api/v1/customers", customer_payload(), format="json")
    headers = {"HTTP_IDEMPOTENCY_KEY": "dup-1"}

    first = api.post("/api/v1/customers", customer_payload(), format="json", **headers)
    again = api.post("/api/v1/customers", customer_payload(), format="json", **headers)

    assert first.status_code == again.status_code == 409
    assert first.json()["error"]["code"] == again.json()["error"]["code"] == "conflict"
    assert again["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


def test_release_leaves_a_claim_another_request_took_over(org):
    from datetime import timedelta

    from arpilot.api import idempotency

    record = IdempotencyKey.objects.create(organization=org, key="k", request_fingerprint="f")
    IdempotencyKey.objects.filter(pk=record.pk).update(
        created_at=record.created_at + timedelta(minutes=6)
    )

    idempotency.release(record)

    assert IdempotencyKey.objects.filter(pk=record.pk).exists()
