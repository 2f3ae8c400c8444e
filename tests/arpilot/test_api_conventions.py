import threading
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from rest_framework.test import APIClient

from arpilot import services
from arpilot.api.views import ListModelMixin, OrgScopedViewSet
from arpilot.models import IdempotencyKey, OrganizationAPIKey
from customers.models import Customer
from tests.customers.factories import customer_payload
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_missing_key_is_401_in_the_error_envelope(anon_api):
    response = anon_api.get("/api/v1/customers")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer arp_nothing.here", "Bearer ", "Token abc", "Bearer x"])
def test_bad_key_is_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/customers")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_revoked_key_is_401(org):
    api_key, key = services.api_key_create(organization=org, name="gone")
    services.api_key_revoke(api_key=api_key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    assert client.get("/api/v1/customers").status_code == 401


def test_keys_are_prefixed_and_stored_only_as_a_hash(org):
    api_key, key = services.api_key_create(organization=org, name="ci")

    assert key.startswith("arp_")
    stored = OrganizationAPIKey.objects.get(pk=api_key.pk)
    assert key not in stored.hashed_key
    assert key.split(".")[1] not in stored.id
    assert stored.hashed_key.startswith("sha512$$")


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_wrong_method_is_405_in_envelope(api):
    response = api.delete("/api/v1/customers")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_malformed_json_is_400(api):
    response = api.generic(
        "POST", "/api/v1/customers", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_nan_in_json_is_400(api):
    response = api.generic("POST", "/api/v1/tags", '{"name": NaN}', content_type="application/json")

    assert response.status_code == 400


def test_unsupported_media_type_is_415(api):
    response = api.generic("POST", "/api/v1/tags", "name=x", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "params", [{"page": "0"}, {"page": "x"}, {"per_page": "-1"}, {"per_page": "1.5"}]
)
def test_bad_pagination_params_are_400_naming_them(api, params):
    response = api.get("/api/v1/customers", params)

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(params)


def test_per_page_is_capped_at_100_and_pages_past_the_end_are_empty(api, org):
    CustomerFactory.create_batch(3, organization=org)

    capped = api.get("/api/v1/customers", {"per_page": 500}).json()
    past = api.get("/api/v1/customers", {"page": 9}).json()

    assert capped["pagination"] == {"page": 1, "per_page": 100, "total": 3, "total_pages": 1}
    assert past["data"] == []
    assert past["pagination"]["page"] == 9


def test_default_pagination(api, org):
    CustomerFactory.create_batch(30, organization=org)

    body = api.get("/api/v1/customers").json()

    assert len(body["data"]) == 25
    assert body["pagination"] == {"page": 1, "per_page": 25, "total": 30, "total_pages": 2}


def test_idempotent_replay_returns_the_first_response_once(api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-acme-1"}

    first = api.post("/api/v1/customers", customer_payload(), format="json", **headers)
    second = api.post("/api/v1/customers", customer_payload(), format="json", **headers)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


def test_idempotency_key_with_a_different_body_is_422(api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-acme-2"}
    api.post("/api/v1/customers", customer_payload(), format="json", **headers)

    response = api.post(
        "/api/v1/customers", customer_payload(company_name="Other"), format="json", **headers
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unprocessable"
    assert Customer.objects.count() == 1


def _fingerprint(path: str, payload: dict) -> str:
    """The fingerprint the API computes for a JSON POST of ``payload`` to ``path``."""
    from rest_framework.request import Request
    from rest_framework.settings import api_settings
    from rest_framework.test import APIRequestFactory

    from arpilot.api import idempotency

    request = Request(
        APIRequestFactory().post(path, payload, format="json"),
        parsers=[parser() for parser in api_settings.DEFAULT_PARSER_CLASSES],
    )
    return idempotency._fingerprint(request)


def test_idempotency_key_in_flight_is_409(api, org):
    payload = customer_payload()
    IdempotencyKey.objects.create(
        organization=org,
        key="busy",
        request_fingerprint=_fingerprint("/api/v1/customers", payload),
    )

    response = api.post("/api/v1/customers", payload, format="json", HTTP_IDEMPOTENCY_KEY="busy")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert "still being processed" in error["message"]
    assert Customer.objects.count() == 0
    record = IdempotencyKey.objects.get(organization=org, key="busy")
    assert record.state == IdempotencyKey.State.IN_PROGRESS


def test_idempotency_keys_are_per_organization(api, other_api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "shared-key"}

    api.post("/api/v1/customers", customer_payload(), format="json", **headers)
    other = other_api.post("/api/v1/customers", customer_payload(), format="json", **headers)

    assert other.status_code == 201
    assert Customer.objects.count() == 2


def test_validation_errors_are_replayed_too(api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "bad-body"}

    first = api.post("/api/v1/tags", {"name": ""}, format="json", **headers)
    second = api.post("/api/v1/tags", {"name": ""}, format="json", **headers)

    assert first.status_code == second.status_code == 400
    assert second["Idempotent-Replayed"] == "true"


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_customer():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for real concurrency")
    org = services.organization_create(name="Concurrent Co")
    _, key = services.api_key_create(organization=org, name="t")
    statuses: list[int] = []
    conflict_codes: list[str] = []

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        response = client.post(
            "/api/v1/customers", customer_payload(), format="json", HTTP_IDEMPOTENCY_KEY="race"
        )
        statuses.append(response.status_code)
        if response.status_code == 409:
            conflict_codes.append(response.json()["error"]["code"])
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Customer.objects.filter(organization=org).count() == 1
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    assert set(conflict_codes) <= {"conflict"}


def test_money_json_numbers_are_parsed_as_decimal():
    from io import BytesIO

    from arpilot.api.parsers import DecimalJSONParser

    parsed = DecimalJSONParser().parse(BytesIO(b'{"amount": 1250.10}'))

    assert parsed["amount"] == Decimal("1250.10")
    assert isinstance(parsed["amount"], Decimal)


def test_a_viewset_defining_queryset_fails_at_import():
    with pytest.raises(TypeError):

        class Leaky(OrgScopedViewSet):
            queryset = Customer.objects.all()


def test_a_viewset_that_forgets_the_scope_fails_loudly(org, rf):
    class Forgetful(ListModelMixin, OrgScopedViewSet):
        def scoped_queryset(self, organization):
            return Customer.objects.all()

    view = Forgetful()
    view.request = rf.get("/")
    view.request.organization = org
    with pytest.raises(ImproperlyConfigured):
        view.get_queryset()


def test_throttling_answers_429_in_the_envelope(api, settings):
    from arpilot.api.throttling import ApiKeyRateThrottle

    original = ApiKeyRateThrottle.THROTTLE_RATES
    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "2/min"}
    try:
        codes = [api.get("/api/v1/tags").status_code for _ in range(3)]
        response = api.get("/api/v1/tags")
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = original

    assert codes == [200, 200, 429]
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_throttling_is_per_key(api, other_api):
    from arpilot.api.throttling import ApiKeyRateThrottle

    original = ApiKeyRateThrottle.THROTTLE_RATES
    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "1/min"}
    try:
        api.get("/api/v1/tags")
        blocked = api.get("/api/v1/tags").status_code
        other = other_api.get("/api/v1/tags").status_code
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = original

    assert (blocked, other) == (429, 200)


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    body = schema.json()
    assert body["info"]["title"] == "ARPilot API"
    assert body["info"]["version"] == "1.0.0"
    assert "/api/v1/customers" in body["paths"]
    post = body["paths"]["/api/v1/customers"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert docs.status_code == 200


def test_uuid_path_of_unknown_object_is_404(api):
    assert api.get(f"/api/v1/customers/{uuid.uuid4()}").status_code == 404
