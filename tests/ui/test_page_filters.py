"""The clerk pages' lists filter through the API's FilterSets (``PaymentFilterSet``,
``AccountingChangeFilterSet``) with the pages' own parameters and defaults."""

import re

import pytest
from django.urls import reverse

from payments import services as payment_services
from payments.models import Payment
from tests.payments.factories import make_payment
from tests.reconciliation.factories import make_change

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode()).strip()


@pytest.fixture
def payments(org):
    """Three unmatched payments: one auto-applied flag, one of an import, one plain."""
    plain = make_payment(org, amount="11.00", payer_name="Plain Payer", payer_reference="REF-1")
    auto = make_payment(org, amount="12.00", payer_name="Auto Payer", payer_reference="REF-2")
    imported = make_payment(
        org, amount="13.00", payer_name="Imported Payer", external_payment_id="BANK-77"
    )
    Payment.objects.filter(pk=auto.pk).update(auto_applied=True)
    payment_import = payment_services.payment_import_create(
        organization=org, filename="bank.csv", data=b"date,amount\n"
    )
    Payment.objects.filter(pk=imported.pk).update(payment_import=payment_import)
    return {"plain": plain, "auto": auto, "imported": imported, "import": payment_import}


def payers(page: str) -> set[str]:
    return set(re.findall(r"(Plain|Auto|Imported) Payer", page))


@pytest.mark.parametrize("name", ["payments:list", "payments:review"])
def test_payment_pages_filter_through_the_filterset(ui, payments, name):
    def shown(query=""):
        return payers(text(ui.get(reverse(name) + query)))

    assert shown() == {"Plain", "Auto", "Imported"}
    assert shown("?search=+auto+") == {"Auto"}
    assert shown("?search=ref-1") == {"Plain"}
    assert shown("?search=bank-77") == {"Imported"}
    assert shown("?auto_applied=true") == {"Auto"}
    assert shown("?auto_applied=false") == {"Plain", "Imported"}
    assert shown(f"?import_id={payments['import'].pk}") == {"Imported"}
    assert shown("?status=unmatched&search=payer") == {"Plain", "Auto", "Imported"}
    assert shown("?status=applied") == set()
    # The API's other parameters are not the pages': ignored, as they always were.
    assert shown("?reviewed=true&invoice_id=nope") == {"Plain", "Auto", "Imported"}


@pytest.mark.parametrize(
    ("query", "marked"),
    [
        ("?status=lost", True),
        ("?auto_applied=maybe", True),
        ("?import_id=nope", False),
        ("?search=" + "x" * 201, False),
    ],
)
def test_an_invalid_payment_filter_shows_nothing(ui, payments, query, marked):
    page = text(ui.get(reverse("payments:list") + query))

    assert payers(page) == set()
    assert ('aria-invalid="true"' in page) is marked


def test_the_filter_bar_renders_the_page_labels_and_no_api_descriptions(ui, payments):
    page = text(ui.get(reverse("payments:list") + "?status=unmatched&auto_applied=false"))

    assert '<label for="id_search">Payer or reference</label>' in page
    assert '<option value="">Any</option>' in page
    assert '<option value="unmatched" selected>Unmatched</option>' in page
    assert '<option value="false" selected>Not auto-applied</option>' in page
    assert "helptext" not in page


def test_the_api_takes_the_page_filters_too(api, payments):
    def ids(query):
        response = api.get("/api/v1/payments" + query)
        assert response.status_code == 200
        return {item["id"] for item in response.json()["data"]}

    assert ids("?search=auto") == {str(payments["auto"].pk)}
    assert ids("?auto_applied=true") == {str(payments["auto"].pk)}
    assert ids(f"?import_id={payments['import'].pk}") == {str(payments["imported"].pk)}
    response = api.get("/api/v1/payments?auto_applied=maybe")
    assert response.status_code == 400
    assert "auto_applied" in response.json()["error"]["fields"]


@pytest.fixture
def changes(org):
    return {
        "pending_created": make_change(org, change_type="invoice_created", amount="101.00"),
        "pending_voided": make_change(org, change_type="invoice_voided", amount="102.00"),
        "approved": make_change(org, amount="103.00", status="approved"),
        "synced": make_change(org, amount="104.00", status="synced"),
    }


def amounts(page: str) -> set[str]:
    return set(re.findall(r"10[1-4]\.00", page))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"101.00", "102.00"}),  # the page opens on the pending tab
        ("?status=pending", {"101.00", "102.00"}),
        ("?status=approved", {"103.00"}),
        ("?status=synced", {"104.00"}),
        ("?status=any", {"101.00", "102.00"}),  # the API's "any" is no tab: pending
        ("?status=lost", {"101.00", "102.00"}),
        ("?change_type=invoice_voided", {"102.00"}),
        ("?status=pending&change_type=nonsense", {"101.00", "102.00"}),
        ("?status=nonsense&change_type=invoice_created", {"101.00"}),
        ("?status=approved&change_type=invoice_voided", set()),
    ],
)
def test_the_change_list_filters_through_the_filterset(ui, changes, query, expected):
    page = text(ui.get(reverse("reconciliation:changes") + query))

    assert amounts(page) == expected
