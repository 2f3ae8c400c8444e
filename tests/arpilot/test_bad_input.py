"""Hostile input is a 400 in the error envelope, never a 500; generous input is served."""

import pytest

from arpilot.api.pagination import MAX_PAGE
from arpilot.api.parsers import MAX_JSON_DEPTH
from arpilot.models import IdempotencyKey
from customers.models import Customer
from tests.customers.factories import customer_payload
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _nested(depth: int) -> str:
    return '{"company_name": ' + "[" * depth + "]" * depth + "}"


def _assert_too_deep(response):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "nested too deeply" in error["message"]


@pytest.mark.parametrize("depth", [1000, 100_000, MAX_JSON_DEPTH + 1])
def test_deeply_nested_json_post_is_400(api, depth):
    response = api.generic(
        "POST", "/api/v1/customers", _nested(depth), content_type="application/json"
    )

    _assert_too_deep(response)


def test_deeply_nested_json_post_with_an_idempotency_key_is_400_and_keeps_the_key_free(api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "deep-1"}

    response = api.generic(
        "POST", "/api/v1/customers", _nested(1000), content_type="application/json", **headers
    )
    retry = api.post("/api/v1/customers", customer_payload(), format="json", **headers)

    _assert_too_deep(response)
    assert retry.status_code == 201
    assert IdempotencyKey.objects.filter(key="deep-1").count() == 1


def test_deeply_nested_json_patch_is_400(api, org):
    customer = CustomerFactory(organization=org)

    response = api.generic(
        "PATCH",
        f"/api/v1/customers/{customer.pk}",
        _nested(1000),
        content_type="application/json",
    )

    _assert_too_deep(response)


def test_nesting_at_the_limit_is_parsed(api):
    response = api.generic(
        "POST", "/api/v1/customers", _nested(MAX_JSON_DEPTH - 1), content_type="application/json"
    )

    assert response.status_code == 400
    assert "company_name" in response.json()["error"]["fields"]


@pytest.mark.parametrize("per_page", ["101", "1000000000000", "9" * 5000, "00150"])
def test_per_page_above_100_is_served_as_100(api, org, per_page):
    CustomerFactory.create_batch(2, organization=org)

    response = api.get("/api/v1/customers", {"per_page": per_page})

    assert response.status_code == 200, response.content
    assert response.json()["pagination"]["per_page"] == 100
    assert len(response.json()["data"]) == 2


@pytest.mark.parametrize("page", [str(2**31), "99999999999999999999", "9" * 5000])
def test_a_page_beyond_the_largest_is_an_empty_page(api, org, page):
    CustomerFactory(organization=org)

    response = api.get("/api/v1/customers", {"page": page})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["data"] == []
    assert body["pagination"]["page"] == MAX_PAGE
    assert body["pagination"]["total"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": "0"},
        {"per_page": "000"},
        {"per_page": "-5"},
        {"per_page": "1e3"},
        {"per_page": " 10"},
        {"per_page": "\u0661\u0660"},  # Arabic-Indic digits
        {"per_page": "²"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "1.0"},
    ],
)
def test_non_positive_or_non_ascii_pagination_is_400(api, params):
    response = api.get("/api/v1/customers", params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert set(response.json()["error"]["fields"]) == set(params)


def test_the_schema_accepts_what_the_api_accepts(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/customers"]["get"]["parameters"]}

    assert "maximum" not in parameters["per_page"]["schema"]
    assert "maximum" not in parameters["page"]["schema"]
    assert parameters["per_page"]["schema"]["minimum"] == 1
    assert Customer.objects.count() == 0


def test_an_error_quoting_a_nul_is_stored_for_replay_and_replayed_the_same(api):
    body = {"url": "https://example.com/hook", "events": ["invoice.created\u0000"]}
    headers = {"HTTP_IDEMPOTENCY_KEY": "nul-1"}

    first = api.post("/api/v1/webhooks", body, format="json", **headers)
    again = api.post("/api/v1/webhooks", body, format="json", **headers)

    assert first.status_code == 400, first.content
    assert "events.0" in first.json()["error"]["fields"]
    assert "\x00" not in first.content.decode()
    assert (again.status_code, again.json()) == (first.status_code, first.json())


@pytest.mark.parametrize("value", ["3.256800718636633e+16", "-2.1404616872406674e+206", "1e-30"])
def test_an_amount_filter_beyond_any_amount_is_served(api, value):
    response = api.get("/api/v1/invoices", {"amount_min": value})

    assert response.status_code in (200, 400), response.content
