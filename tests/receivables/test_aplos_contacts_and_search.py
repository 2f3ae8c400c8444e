"""The Aplos face: contacts found or created (never renamed under other receivables), what
list/search show, and its links."""

import pytest

from customers.models import Contact, Customer
from receivables import services
from receivables.models import AplosContact, Invoice
from tests.factories import CustomerFactory
from tests.receivables.factories import make_invoice

pytestmark = pytest.mark.django_db

BASE = "/hermes/api/v1/receivables"


def _post(api, companyname, **extra):
    body = {"contact": {"companyname": companyname, **extra}, "lines": [{"amount": 10}]}
    response = api.post(BASE, body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["data"]["receivable"]


def test_a_customer_created_by_a_post_has_a_primary_contact(api, org):
    receivable = _post(api, "Fresh Donor")

    customer = Customer.objects.for_org(org).get(company_name="Fresh Donor")
    [contact] = Contact.objects.filter(customer=customer)
    assert (contact.contact_name, contact.is_primary) == ("Fresh Donor", True)
    assert customer.timezone == org.timezone
    assert receivable["contact"]["id"] == customer.aplos_contact.id


def test_posts_naming_the_same_new_company_share_one_customer(api, org):
    first = _post(api, "Fresh Donor")
    second = _post(api, "FRESH DONOR ")

    assert first["contact"]["id"] == second["contact"]["id"]
    assert Customer.objects.for_org(org).count() == 1


def test_put_with_a_new_company_creates_it_and_repoints_only_this_receivable(api, org):
    a = _post(api, "Shared Co")
    b = _post(api, "Shared Co")
    shared = Customer.objects.for_org(org).get(company_name="Shared Co")

    response = api.put(
        f"{BASE}/{a['id']}",
        {"contact": {"companyname": "Brand New Co", "type": "individual"}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    contact = response.json()["data"]["receivable"]["contact"]
    assert (contact["companyname"], contact["type"]) == ("Brand New Co", "individual")
    new = Customer.objects.for_org(org).get(company_name="Brand New Co")
    assert Contact.objects.filter(customer=new, is_primary=True).count() == 1
    assert Invoice.objects.get(aplos_id=a["id"]).customer == new
    assert Invoice.objects.get(aplos_id=b["id"]).customer == shared
    shared.refresh_from_db()
    assert shared.company_name == "Shared Co"
    assert shared.aplos_contact.type == AplosContact.Type.COMPANY
    assert api.get(f"{BASE}/{b['id']}").json()["data"]["receivable"]["contact"] == {
        "id": shared.aplos_contact.id,
        "companyname": "Shared Co",
        "type": "company",
    }


def test_put_naming_an_existing_customer_does_not_retype_it(api, org):
    a = _post(api, "Shared Co")
    b = _post(api, "Other Co")

    response = api.put(
        f"{BASE}/{b['id']}",
        {"contact": {"companyname": "shared co", "type": "individual"}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["data"]["receivable"]["contact"]["id"] == a["contact"]["id"]
    assert response.json()["data"]["receivable"]["contact"]["type"] == "company"
    assert api.get(f"{BASE}/{a['id']}").json()["data"]["receivable"]["contact"]["type"] == (
        "company"
    )


def test_void_and_draft_invoices_are_not_listed_or_searched(api, org):
    customer = CustomerFactory(organization=org, company_name="Acme")
    open_ = make_invoice(org, customer=customer, invoice_number="OPEN-1")
    void = make_invoice(org, customer=customer, invoice_number="VOID-1")
    services.invoice_void(invoice=void)
    draft = make_invoice(org, customer=customer, invoice_number="DRAFT-1", status="draft")
    paid = make_invoice(org, customer=customer, invoice_number="PAID-1", amount_due="0.00")

    listed = api.get(BASE).json()["data"]["receivables"]
    searched = api.get(f"{BASE}?f_contactname=acme").json()["data"]["receivables"]

    assert [r["id"] for r in listed] == [open_.aplos_id, paid.aplos_id]
    assert [r["id"] for r in searched] == [open_.aplos_id, paid.aplos_id]
    assert api.get(f"{BASE}?f_referencenum=VOID-1").json()["data"]["receivables"] == []
    # By id they are still found (documented in the OpenAPI description).
    assert api.get(f"{BASE}/{void.aplos_id}").status_code == 200
    assert api.get(f"{BASE}/{draft.aplos_id}").status_code == 200


def test_links_are_paths_this_face_serves(api, org):
    for _ in range(2):
        make_invoice(org)

    body = api.get(f"{BASE}?page_size=1&f_note=").json()

    assert body["links"]["self"].startswith("/hermes/api/v1/receivables?")
    assert "page_num=1" in body["links"]["self"]
    assert "page_num=2" in body["links"]["next"]
    assert api.get(body["links"]["next"]).status_code == 200
    rid = body["data"]["receivables"][0]["id"]
    detail = api.get(f"{BASE}/{rid}").json()
    assert detail["links"]["self"] == f"/hermes/api/v1/receivables/{rid}"
    assert api.get(detail["links"]["self"]).status_code == 200


def test_referencenum_matches_case_insensitively(api, org):
    invoice = make_invoice(org, invoice_number="Inv-ABC")

    found = api.get(f"{BASE}?f_referencenum=inv-abc").json()["data"]["receivables"]

    assert [r["id"] for r in found] == [invoice.aplos_id]


@pytest.mark.parametrize(
    "query",
    [
        "f_rangestart=12/31/2014",
        "f_rangeend=12/31/14",
        "f_rangestart=2014-12-31T00:00",
        "f_rangeend=20141231",
    ],
)
def test_dates_not_in_yyyy_mm_dd_are_400_in_the_error_envelope(api, org, query):
    response = api.get(f"{BASE}?{query}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert query.split("=")[0] in error["fields"]


def test_dates_in_yyyy_mm_dd_filter_by_bill_date(api, org):
    from datetime import date

    old = make_invoice(org, issue_date=date(2014, 12, 31), due_in_days=0)
    make_invoice(org)

    found = api.get(f"{BASE}?f_rangestart=2014-12-31&f_rangeend=2014-12-31").json()
    assert [r["id"] for r in found["data"]["receivables"]] == [old.aplos_id]
