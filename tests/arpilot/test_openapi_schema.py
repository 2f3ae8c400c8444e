"""The OpenAPI schema tells client generators the truth (see .ci/schema/check for the tools)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def props(schema, name):
    return schema["components"]["schemas"][name]["properties"]


def test_optional_request_fields_carry_no_default(schema):
    create = props(schema, "PaymentCreateRequest")
    for name in ("payment_method", "payer_name", "payer_reference", "external_payment_id"):
        assert "default" not in create[name], name
    for name in ("notes", "currency"):
        assert "default" not in create[name], name
    assert set(schema["components"]["schemas"]["PaymentCreateRequest"]["required"]) == {
        "amount",
        "payment_date",
    }
    assert "default" not in props(schema, "PatchedPaymentUpdateRequest")["write_off_short_payment"]
    assert "default" not in props(schema, "InvoiceLineInputRequest")["note"]
    assert "default" not in props(schema, "AplosLineInputRequest")["note"]


def test_reviewed_filter_is_a_plain_boolean(schema):
    params = schema["paths"]["/api/v1/payments"]["get"]["parameters"]
    reviewed = next(p for p in params if p["name"] == "reviewed")
    assert reviewed["schema"] == {"type": "boolean"}


def test_money_is_a_decimal(schema):
    amount = props(schema, "Payment")["amount"]
    assert amount["type"] == "number"
    assert amount["format"] == "decimal"
    assert "two places" in amount["description"] and "BHD" in amount["description"]
    request = props(schema, "PaymentCreateRequest")["amount"]
    number, string = request["oneOf"]
    assert number["type"] == "number" and number["format"] == "decimal"
    assert string["type"] == "string" and string["pattern"] == r"^\d{1,12}(\.\d{1,3})?$"
    assert "the currency's places" in request["description"]
    promise = props(schema, "PromiseCreateInputRequest")["amount"]  # no currency check: two places
    assert promise["oneOf"][1]["pattern"] == r"^\d{1,12}(\.\d{1,2})?$"
    for name, schema_ in schema["components"]["schemas"].items():
        for field, prop in schema_.get("properties", {}).items():
            assert "multipleOf" not in prop, (name, field)
            if "amount" in field:  # progress and scores stay floats
                assert prop.get("format") != "double", (name, field)


def test_conflicts_declare_existing_id(schema):
    response = schema["paths"]["/api/v1/payments"]["post"]["responses"]["409"]
    ref = response["content"]["application/json"]["schema"]["$ref"]
    conflict = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert "existing_id" in conflict["properties"]["error"]["properties"]


def test_error_statuses_and_headers_are_declared(schema):
    codes = schema["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    assert "server_error" in codes["code"]["enum"]
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        for status in ("405", "406", "414", "429", "500"):
            assert status in responses, (path, method, status)
        assert "Retry-After" in responses["429"]["headers"], (path, method)
        if method == "post":
            success = next(code for code in responses if code.startswith("2"))
            assert "Idempotent-Replayed" in responses[success]["headers"], (path, method)


def test_every_operation_is_documented_for_api_users(schema):
    for path, method, operation in operations(schema):
        assert operation.get("summary"), (path, method)
        assert operation.get("description"), (path, method)
        assert "A viewset whose queryset" not in operation["description"], (path, method)
    for name, component in schema["components"]["schemas"].items():
        assert "Base of replies" not in component.get("description", ""), name


def test_servers_and_aplos_links(schema):
    assert schema["servers"] == [{"url": "/", "description": schema["servers"][0]["description"]}]
    links = props(schema, "AplosListLinksOut")
    assert "/hermes/api/v1/receivables" in links["self"]["description"]
