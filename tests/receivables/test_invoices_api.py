from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from receivables.models import Invoice, InvoiceOfflinePayment, JournalEntry
from tests.factories import CustomerFactory
from tests.receivables.factories import invoice_payload, make_invoice

pytestmark = pytest.mark.django_db

TODAY = date.today()


def test_create_invoice_returns_all_fields_with_one_default_line(api, customer):
    response = api.post(
        "/api/v1/invoices",
        invoice_payload(
            customer,
            amount="1250.50",
            notes="net 30",
            issue_date="2026-01-05",
            due_date="2099-02-04",
        ),
        format="json",
    )

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["invoice_number"] == "INV-1001"
    assert data["customer_id"] == str(customer.id)
    assert data["customer_name"] == "Acme Corp"
    assert data["customer_address"] == "1 Main St"
    assert data["amount"] == 1250.5
    assert data["amount_due"] == 1250.5
    assert data["amount_paid"] == 0
    assert data["issue_date"] == "2026-01-05"
    assert data["due_date"] == "2099-02-04"
    assert data["status"] == "pending"
    assert data["notes"] == "net 30"
    [line] = data["lines"]
    assert line["amount"] == 1250.5
    assert line["account"]["account_number"] == 4000
    assert line["fund"]["name"] == "General Fund"
    assert data["ar_account"]["account_number"] == 1100
    assert b'"amount":1250.5' in response.content


def test_create_defaults_issue_date_to_today_and_renders_overrides(api, customer):
    response = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, customer_name="Acme (billing)", customer_address="PO Box 9"),
        format="json",
    )

    data = response.json()["data"]
    assert data["issue_date"] == timezone.localdate().isoformat()
    assert data["customer_name"] == "Acme (billing)"
    assert data["customer_address"] == "PO Box 9"


def test_invoice_due_in_the_past_is_overdue_from_creation(api, customer):
    response = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, issue_date="2020-01-01", due_date="2020-01-31"),
        format="json",
    )

    assert response.json()["data"]["status"] == "overdue"


def test_create_with_lines_sums_to_amount(api, org, customer):
    fund = api.post("/api/v1/funds", {"name": "Building Fund"}, format="json").json()["data"]
    body = invoice_payload(
        customer,
        amount=100,
        lines=[
            {"amount": 75, "note": "For fund 1", "account_number": 4000},
            {"amount": 25, "note": "For fund 2", "account_number": 4000, "fund_id": fund["id"]},
        ],
    )

    response = api.post("/api/v1/invoices", body, format="json")

    assert response.status_code == 201
    lines = response.json()["data"]["lines"]
    assert [(line["amount"], line["fund"]["name"]) for line in lines] == [
        (75, "General Fund"),
        (25, "Building Fund"),
    ]


def test_lines_that_do_not_add_up_are_400(api, customer):
    body = invoice_payload(customer, amount=90, lines=[{"amount": 75}, {"amount": 25}])

    response = api.post("/api/v1/invoices", body, format="json")

    assert response.status_code == 400
    assert "amount" in response.json()["error"]["fields"]
    assert Invoice.objects.count() == 0


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"amount": 10, "account_number": 9999}, "lines.0.account_number"),
        ({"amount": 10, "fund_id": 999999}, "lines.0.fund_id"),
        (
            {"amount": 10, "account_id": "7d7b2c1e-8c89-4a63-9c3a-1b0b8d3f4a11"},
            "lines.0.account_id",
        ),
    ],
)
def test_unknown_account_or_fund_is_400_naming_it(api, customer, line, field):
    response = api.post(
        "/api/v1/invoices", invoice_payload(customer, amount=10, lines=[line]), format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_unknown_or_foreign_customer_is_400(api, other_customer):
    response = api.post("/api/v1/invoices", invoice_payload(other_customer), format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["customer_id"] == ["Unknown customer."]


def test_duplicate_invoice_number_is_409_and_changes_nothing(api, customer):
    api.post("/api/v1/invoices", invoice_payload(customer), format="json")

    response = api.post("/api/v1/invoices", invoice_payload(customer, amount=5), format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert Invoice.objects.count() == 1


def test_same_invoice_number_in_another_organization_is_fine(
    api, other_api, customer, other_customer
):
    api.post("/api/v1/invoices", invoice_payload(customer), format="json")

    response = other_api.post("/api/v1/invoices", invoice_payload(other_customer), format="json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": -1}, "amount"),
        ({"amount": "10.001"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount_due": 101}, "amount_due"),
        ({"due_date": "2026-13-01"}, "due_date"),
        ({"status": "bogus"}, "status"),
        ({"customer_id": "not-a-uuid"}, "customer_id"),
        ({"invoice_number": ""}, "invoice_number"),
        ({"amount": 0}, "amount"),
        ({"status": "paid"}, "status"),
        ({"status": "void"}, "status"),
    ],
)
def test_bad_input_is_400_naming_the_field(api, customer, overrides, field):
    response = api.post("/api/v1/invoices", invoice_payload(customer, **overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_create_with_amount_due_below_amount_records_the_difference_as_paid(api, customer):
    response = api.post(
        "/api/v1/invoices", invoice_payload(customer, amount=100, amount_due=40), format="json"
    )

    data = response.json()["data"]
    assert data["status"] == "partial"
    assert data["amount_paid"] == 60
    payment = InvoiceOfflinePayment.objects.get()
    assert payment.amount == Decimal("60.00")
    assert payment.source == "opening"


def test_create_paid_with_amount_due_zero(api, customer):
    response = api.post(
        "/api/v1/invoices",
        invoice_payload(customer, amount=100, amount_due=0, status="paid"),
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["data"]["status"] == "paid"


def test_external_payments_are_recorded_each_time(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    url = f"/api/v1/invoices/{invoice.id}"

    first = api.patch(url, {"external_payment_amount": 30}, format="json")
    second = api.put(url, {"external_payment_amount": "30.00"}, format="json")

    assert first.json()["data"]["amount_due"] == 70
    assert second.json()["data"]["amount_due"] == 40
    assert second.json()["data"]["status"] == "partial"
    assert list(
        InvoiceOfflinePayment.objects.filter(invoice=invoice).values_list("amount", flat=True)
    ) == [Decimal("30.00"), Decimal("30.00")]
    assert JournalEntry.objects.filter(invoice=invoice, kind="payment").count() == 2


def test_external_payment_cannot_exceed_the_open_balance(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(
        f"/api/v1/invoices/{invoice.id}", {"external_payment_amount": "100.01"}, format="json"
    )

    assert response.status_code == 400
    assert "external_payment_amount" in response.json()["error"]["fields"]
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    assert not InvoiceOfflinePayment.objects.exists()


def test_paying_the_rest_makes_it_paid(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(
        f"/api/v1/invoices/{invoice.id}",
        {"external_payment_amount": 100, "status": "paid"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["data"]["status"] == "paid"
    assert response.json()["data"]["amount_due"] == 0


def test_status_contradicting_the_money_is_400_and_changes_nothing(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(
        f"/api/v1/invoices/{invoice.id}",
        {"status": "paid", "notes": "changed"},
        format="json",
    )

    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]
    invoice.refresh_from_db()
    assert invoice.notes == ""


def test_lowering_amount_due_records_an_offline_payment(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(f"/api/v1/invoices/{invoice.id}", {"amount_due": 25}, format="json")

    assert response.json()["data"]["amount_due"] == 25
    assert InvoiceOfflinePayment.objects.get().amount == Decimal("75.00")


def test_raising_amount_due_is_400(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00", amount_due="50.00")

    response = api.patch(f"/api/v1/invoices/{invoice.id}", {"amount_due": 60}, format="json")

    assert response.status_code == 400
    assert "amount_due" in response.json()["error"]["fields"]


def test_changing_amount_before_any_money_reposts_the_ledger(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(f"/api/v1/invoices/{invoice.id}", {"amount": 150}, format="json")

    data = response.json()["data"]
    assert (data["amount"], data["amount_due"], data["lines"][0]["amount"]) == (150, 150, 150)
    kinds = list(
        JournalEntry.objects.filter(invoice=invoice)
        .order_by("created_at")
        .values_list("kind", flat=True)
    )
    assert kinds == ["issue", "issue_reversal", "issue"]


def test_changing_amount_after_money_is_409(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    api.patch(f"/api/v1/invoices/{invoice.id}", {"external_payment_amount": 10}, format="json")

    response = api.patch(f"/api/v1/invoices/{invoice.id}", {"amount": 150}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    invoice.refresh_from_db()
    assert (invoice.amount, invoice.amount_due) == (Decimal("100.00"), Decimal("90.00"))
    assert JournalEntry.objects.filter(invoice=invoice).count() == 2  # issue, payment


def test_void_reverses_the_issue(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = api.patch(f"/api/v1/invoices/{invoice.id}", {"status": "void"}, format="json")

    assert response.json()["data"]["status"] == "void"
    assert JournalEntry.objects.filter(invoice=invoice, kind="issue_reversal").count() == 1
    again = api.patch(
        f"/api/v1/invoices/{invoice.id}", {"external_payment_amount": 1}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert not InvoiceOfflinePayment.objects.filter(invoice=invoice).exists()
    assert JournalEntry.objects.filter(invoice=invoice).count() == 2  # issue, its reversal


def test_void_after_money_is_409(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00", amount_due="90.00")

    response = api.patch(f"/api/v1/invoices/{invoice.id}", {"status": "void"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    invoice.refresh_from_db()
    assert invoice.status == "partial"
    assert invoice.amount_due == Decimal("90.00")
    assert not JournalEntry.objects.filter(invoice=invoice, kind="issue_reversal").exists()


def test_draft_is_not_posted_until_issued(api, org, customer):
    created = api.post(
        "/api/v1/invoices", invoice_payload(customer, status="draft"), format="json"
    ).json()["data"]
    assert created["status"] == "draft"
    assert not JournalEntry.objects.exists()
    money = api.patch(
        f"/api/v1/invoices/{created['id']}", {"external_payment_amount": 1}, format="json"
    )
    assert money.status_code == 409
    assert money.json()["error"]["code"] == "conflict"
    assert not JournalEntry.objects.exists()
    assert not InvoiceOfflinePayment.objects.exists()

    issued = api.patch(f"/api/v1/invoices/{created['id']}", {"status": "pending"}, format="json")

    assert issued.json()["data"]["status"] == "pending"
    assert JournalEntry.objects.get().kind == "issue"
    back = api.patch(f"/api/v1/invoices/{created['id']}", {"status": "draft"}, format="json")
    assert back.status_code == 400


def test_moving_due_date_into_the_past_makes_it_overdue_and_back(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    url = f"/api/v1/invoices/{invoice.id}"

    past = api.patch(url, {"issue_date": "2020-01-01", "due_date": "2020-02-01"}, format="json")
    future = api.patch(url, {"due_date": "2099-01-01"}, format="json")

    assert past.json()["data"]["status"] == "overdue"
    assert future.json()["data"]["status"] == "pending"


def test_list_filters(api, org, customer):
    other = CustomerFactory(organization=org, company_name="Zeta Widgets")
    a = make_invoice(org, customer=customer, amount="100.00", invoice_number="A-1")
    b = make_invoice(org, customer=other, amount="500.00", invoice_number="B-7", due_in_days=60)
    api.patch(f"/api/v1/invoices/{b.id}", {"external_payment_amount": 100}, format="json")

    def ids(query):
        response = api.get(f"/api/v1/invoices?{query}")
        assert response.status_code == 200, response.json()
        return {row["invoice_number"] for row in response.json()["data"]}

    assert ids("status=partial") == {"B-7"}
    assert ids(f"customer_id={customer.id}") == {"A-1"}
    assert ids("amount_min=200") == {"B-7"}
    assert ids("amount_max=200") == {"A-1"}
    assert ids("search=zeta") == {"B-7"}
    assert ids("search=a-1") == {"A-1"}
    due = (TODAY + timedelta(days=45)).isoformat()
    assert ids(f"due_date_from={due}") == {"B-7"}
    assert ids(f"due_date_to={due}") == {"A-1"}
    assert a.pk


@pytest.mark.parametrize(
    "query",
    [
        "status=nope",
        "customer_id=xyz",
        "due_date_from=2026-02-30",
        "amount_min=abc",
        "page=0",
        "per_page=x",
    ],
)
def test_bad_filters_are_400(api, query):
    response = api.get(f"/api/v1/invoices?{query}")

    assert response.status_code == 400


def test_other_organizations_invoices_are_404(api, other_org):
    foreign = make_invoice(other_org)

    assert api.get(f"/api/v1/invoices/{foreign.id}").status_code == 404
    assert (
        api.patch(f"/api/v1/invoices/{foreign.id}", {"notes": "x"}, format="json").status_code
        == 404
    )
    assert api.get("/api/v1/invoices/not-a-uuid").status_code == 404
    assert api.get("/api/v1/invoices").json()["data"] == []


def test_unauthenticated_is_401(anon_api):
    assert anon_api.get("/api/v1/invoices").status_code == 401


@pytest.mark.parametrize("per_page", [10, 100])
def test_list_query_count_does_not_depend_on_page_size(
    api, org, django_assert_num_queries, per_page
):
    customers = CustomerFactory.create_batch(3, organization=org)
    for index in range(12):
        make_invoice(org, customer=customers[index % 3])
    api.get("/api/v1/invoices")  # warm the key cache

    # API key + count + page (customer, AR account joined) + lines (account, fund joined)
    # + offline payments + open disputes (collections' ``dispute``, one for the page)
    with django_assert_num_queries(6):
        response = api.get(f"/api/v1/invoices?per_page={per_page}&status=pending")

    assert len(response.json()["data"]) == min(per_page, 12)


def test_idempotent_create_replays(api, customer):
    body = invoice_payload(customer)
    first = api.post("/api/v1/invoices", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    second = api.post("/api/v1/invoices", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert second.status_code == 201
    assert second.json() == first.json()
    assert Invoice.objects.count() == 1


def test_list_items_are_rendered_exactly_like_the_detail(api, org, customer):
    invoice = make_invoice(org, customer=customer, customer_name="Override", notes="n")
    api.patch(f"/api/v1/invoices/{invoice.id}", {"external_payment_amount": 12.5}, format="json")

    listed = api.get("/api/v1/invoices").json()["data"]
    detail = api.get(f"/api/v1/invoices/{invoice.id}").json()["data"]

    assert listed == [detail]


def test_list_past_the_end_is_empty(api, org):
    make_invoice(org)

    response = api.get("/api/v1/invoices?page=5")

    assert response.json()["data"] == []
    assert response.json()["pagination"]["total"] == 1
