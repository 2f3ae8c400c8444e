"""What the schema now declares, the API does: boolean filters, optional request fields."""

import pytest

from payments import services
from payments.models import Payment
from tests.payments.factories import make_payment

URL = "/api/v1/payments"


@pytest.mark.parametrize(
    ("value", "reviewed"),
    [("true", True), ("True", True), ("1", True), ("false", False), ("False", False), ("0", False)],
)
def test_reviewed_filter_takes_the_usual_boolean_spellings(api, org, value, reviewed):
    done = make_payment(org, amount="7.00", days_ago=1)
    queued = make_payment(org, amount="5.00", days_ago=2)
    services.payment_mark_reviewed(organization=org, payment_id=done.pk, reviewed=True)

    response = api.get(f"{URL}?reviewed={value}")

    assert response.status_code == 200
    expected = done if reviewed else queued
    assert [item["id"] for item in response.json()["data"]] == [str(expected.pk)]


def test_a_payment_with_only_the_required_fields_gets_the_old_defaults(api, org):
    response = api.post(URL, {"amount": "12.30", "payment_date": "2024-05-01"}, format="json")

    assert response.status_code == 201, response.content
    payment = Payment.objects.for_org(org).get(pk=response.json()["data"]["id"])
    assert (payment.payment_method, payment.payer_name, payment.payer_reference) == ("", "", "")
    assert payment.notes == ""
    assert payment.currency == org.currency
