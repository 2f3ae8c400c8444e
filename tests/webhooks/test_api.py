import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from webhooks import services
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/arpilot"


@pytest.fixture(autouse=True)
def _fake_dns(dns):
    return dns


def _endpoint(org, **kwargs) -> WebhookEndpoint:
    kwargs.setdefault("url", URL)
    kwargs.setdefault("events", ["*"])
    return services.endpoint_create(organization=org, **kwargs)


def _delivery(endpoint, status="failed") -> WebhookDelivery:
    event = WebhookEvent.objects.create(
        organization=endpoint.organization,
        event_type="invoice.paid",
        payload={"id": "x", "type": "invoice.paid", "created_at": "t", "data": {}},
    )
    delivery = WebhookDelivery.objects.create(
        organization=endpoint.organization,
        endpoint=endpoint,
        event=event,
        status=status,
        attempt_count=1,
        next_attempt_at=None if status != "pending" else timezone.now() + timedelta(hours=1),
    )
    WebhookDeliveryAttempt.objects.create(
        delivery=delivery, number=1, status_code=500, duration_ms=12, response_snippet="boom"
    )
    return delivery


# --- endpoints --------------------------------------------------------------------------------


def test_register_returns_the_secret_once(api):
    response = api.post(
        "/api/v1/webhooks",
        {"url": URL, "events": ["invoice.paid", "payment.applied"], "description": "ERP"},
        format="json",
    )

    assert response.status_code == 201
    data = response.json()["data"]
    endpoint = WebhookEndpoint.objects.get()
    assert data["id"] == str(endpoint.pk)
    assert data["secret"] == endpoint.secret
    assert data["secret"].startswith("whsec_")
    assert data["events"] == ["invoice.paid", "payment.applied"]
    assert data["is_active"] is True
    assert data["description"] == "ERP"
    detail = api.get(f"/api/v1/webhooks/{endpoint.pk}").json()["data"]
    assert "secret" not in detail
    assert "secret" not in api.get("/api/v1/webhooks").json()["data"][0]


def test_events_default_to_every_event(api):
    response = api.post("/api/v1/webhooks", {"url": URL}, format="json")

    assert response.status_code == 201
    assert response.json()["data"]["events"] == ["*"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "url", "required"),
        ({"url": "http://hooks.example.com/x"}, "url", "must use https"),
        ({"url": "https://10.0.0.1/x"}, "url", "private address"),
        ({"url": "https://169.254.169.254/latest"}, "url", "link-local"),
        ({"url": "https://[::ffff:127.0.0.1]/x"}, "url", "IPv4-mapped"),
        ({"url": "https://internal.example.com/x"}, "url", "private address"),
        ({"url": "https://unknown.example.com/x"}, "url", "does not resolve"),
        ({"url": ["https://a.example"]}, "url", "valid string"),
        ({"url": URL, "events": ["invoice.exploded"]}, "events.0", "not a valid choice"),
        ({"url": URL, "events": []}, "events", "may not be empty"),
        ({"url": URL, "events": "invoice.paid"}, "events", "list"),
        ({"url": URL, "events": ["*", "invoice.paid"]}, "events", "send it alone"),
        ({"url": URL, "is_active": "maybe"}, "is_active", "valid boolean"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, dns, body, field, message):
    dns["internal.example.com"] = ["10.1.1.1"]

    response = api.post("/api/v1/webhooks", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert message in " ".join(error["fields"][field])
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("method", ["patch", "put"])
def test_update_changes_only_what_is_sent(api, org, method):
    endpoint = _endpoint(org, description="old")

    response = getattr(api, method)(
        f"/api/v1/webhooks/{endpoint.pk}",
        {"events": ["invoice.voided"], "is_active": False},
        format="json",
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["events"], data["is_active"], data["description"], data["url"]) == (
        ["invoice.voided"], False, "old", URL
    )  # fmt: skip
    assert "secret" not in data


def test_update_checks_a_new_url(api, org):
    endpoint = _endpoint(org)

    response = api.patch(
        f"/api/v1/webhooks/{endpoint.pk}", {"url": "https://127.0.0.1/x"}, format="json"
    )

    assert response.status_code == 400
    assert "loopback" in response.json()["error"]["fields"]["url"][0]


def test_resuming_clears_the_disabled_reason(api, org):
    endpoint = _endpoint(org)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False,
        disabled_at=timezone.now(),
        disabled_reason="The endpoint answered 410 Gone.",
    )

    data = api.patch(f"/api/v1/webhooks/{endpoint.pk}", {"is_active": True}, format="json").json()

    assert data["data"]["is_active"] is True
    assert (data["data"]["disabled_reason"], data["data"]["disabled_at"]) == ("", None)


def test_delete_removes_the_endpoint_and_its_history(api, org):
    endpoint = _endpoint(org)
    kept = _endpoint(org)
    _delivery(endpoint)
    _delivery(kept)

    response = api.delete(f"/api/v1/webhooks/{endpoint.pk}")

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert list(WebhookEndpoint.objects.all()) == [kept]
    assert WebhookDelivery.objects.count() == 1
    assert WebhookDeliveryAttempt.objects.count() == 1
    assert WebhookEvent.objects.count() == 1


def test_rotate_secret_returns_the_new_secret(api, org):
    endpoint = _endpoint(org)
    old_secret = endpoint.secret

    response = api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret")

    assert response.status_code == 200
    data = response.json()["data"]
    endpoint.refresh_from_db()
    assert data["secret"] == endpoint.secret != old_secret
    assert endpoint.previous_secret == old_secret
    assert data["previous_secret_expires_at"] is not None


def test_send_test_event_queues_a_webhook_test_for_this_endpoint_only(api, org):
    endpoint = _endpoint(org, events=["invoice.paid"])
    _endpoint(org)

    response = api.post(f"/api/v1/webhooks/{endpoint.pk}/test")

    assert response.status_code == 200
    assert response.json() == {"queued": True}
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == endpoint
    assert delivery.event.event_type == "webhook.test"
    assert delivery.event.payload["data"]["endpoint_id"] == str(endpoint.pk)


# --- deliveries -------------------------------------------------------------------------------


def test_deliveries_are_listed_with_their_attempts_and_filtered_by_status(api, org):
    endpoint = _endpoint(org)
    failed = _delivery(endpoint, "failed")
    _delivery(endpoint, "succeeded")
    _delivery(_endpoint(org), "failed")

    response = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries", {"status": "failed"})

    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"page": 1, "per_page": 25, "total": 1, "total_pages": 1}
    (item,) = body["data"]
    assert item["id"] == str(failed.pk)
    assert item["event_type"] == "invoice.paid"
    assert item["status"] == "failed"
    assert item["attempts"] == [
        {
            "number": 1,
            "status_code": 500,
            "duration_ms": 12,
            "error": "",
            "response_snippet": "boom",
            "created_at": item["attempts"][0]["created_at"],
        }
    ]
    everything = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()
    assert everything["pagination"]["total"] == 2


def test_an_unknown_delivery_status_is_a_400(api, org):
    endpoint = _endpoint(org)

    response = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries", {"status": "lost"})

    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]


def test_redeliver_a_failed_delivery(api, org):
    endpoint = _endpoint(org)
    delivery = _delivery(endpoint, "failed")

    response = api.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver")

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["id"], data["status"], data["attempt_count"]) == (str(delivery.pk), "pending", 0)
    assert len(data["attempts"]) == 1  # the history stays


def test_redeliver_a_pending_delivery_is_a_conflict(api, org):
    endpoint = _endpoint(org)
    delivery = _delivery(endpoint, "pending")

    before = WebhookDelivery.objects.filter(pk=delivery.pk).values().get()

    response = api.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert WebhookDelivery.objects.filter(pk=delivery.pk).values().get() == before
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


def test_redeliver_through_another_endpoint_is_a_404(api, org):
    endpoint = _endpoint(org)
    delivery = _delivery(_endpoint(org), "failed")

    response = api.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver")

    assert response.status_code == 404


# --- isolation and ids ------------------------------------------------------------------------


def _routes(endpoint_id, delivery_id):
    base = f"/api/v1/webhooks/{endpoint_id}"
    return [
        ("get", base, None),
        ("patch", base, {"description": "x"}),
        ("put", base, {"description": "x"}),
        ("delete", base, None),
        ("post", f"{base}/test", None),
        ("post", f"{base}/rotate-secret", None),
        ("get", f"{base}/deliveries", None),
        ("post", f"{base}/deliveries/{delivery_id}/redeliver", None),
    ]


def test_another_organizations_endpoint_is_a_404_everywhere(api, other_org):
    theirs = _endpoint(other_org)
    delivery = _delivery(theirs)
    secret = theirs.secret

    for method, path, body in _routes(theirs.pk, delivery.pk):
        response = getattr(api, method)(path, body, format="json")
        assert (method, path, response.status_code) == (method, path, 404)
        assert response.json()["error"]["code"] == "not_found"

    theirs.refresh_from_db()
    assert (theirs.description, theirs.secret) == ("", secret)
    assert WebhookDelivery.objects.get().status == "failed"
    assert api.get("/api/v1/webhooks").json()["data"] == []


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123"])
def test_a_malformed_id_is_a_404(api, org, bad_id):
    endpoint = _endpoint(org)

    for method, path, body in _routes(bad_id, uuid.uuid4()):
        assert getattr(api, method)(path, body, format="json").status_code == 404
    path = f"/api/v1/webhooks/{endpoint.pk}/deliveries/{bad_id}/redeliver"
    assert api.post(path).status_code == 404


def test_no_key_is_a_401(anon_api):
    assert anon_api.get("/api/v1/webhooks").status_code == 401


# --- query counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 30])
def test_endpoint_list_query_count_does_not_grow(api, org, count, django_assert_num_queries):
    for _ in range(count):
        _endpoint(org)

    # API key with its organization, count, page
    with django_assert_num_queries(3):
        response = api.get("/api/v1/webhooks", {"per_page": 100})

    assert len(response.json()["data"]) == count


@pytest.mark.parametrize("count", [3, 30])
def test_delivery_list_query_count_does_not_grow(api, org, count, django_assert_num_queries):
    endpoint = _endpoint(org)
    for _ in range(count):
        _delivery(endpoint)

    # API key with its organization, endpoint, count, page with events, attempts
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries", {"per_page": 100})

    assert len(response.json()["data"]) == count


# --- schema -----------------------------------------------------------------------------------


def test_the_schema_documents_the_event_catalogue(anon_api):
    schema = anon_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    paths = schema["paths"]
    for path in [
        "/api/v1/webhooks",
        "/api/v1/webhooks/{id}",
        "/api/v1/webhooks/{id}/test",
        "/api/v1/webhooks/{id}/rotate-secret",
        "/api/v1/webhooks/{id}/deliveries",
        "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    ]:
        assert path in paths
    create = schema["components"]["schemas"]["EndpointCreateInputRequest"]
    description = create["properties"]["events"]["description"]
    assert all(f"`{name}`" in description for name in EVENT_TYPES)
    enum_name = create["properties"]["events"]["items"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][enum_name]["enum"]) == {*EVENT_TYPES, "*"}
