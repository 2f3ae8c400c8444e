"""A customer's statement of account: built from the receivables journal (opening balance,
a line per entry with the running balance, closing balance, aging on ``to``), served as JSON
at ``GET /api/v1/customers/{id}/statement`` in a fixed number of queries."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arpilot.errors import ValidationFailed
from payments import services as payment_services
from receivables import services
from receivables.models import Invoice, JournalEntry
from receivables.statements import customer_statement, statement_period
from tests.factories import CustomerFactory, make_payment
from tests.receivables.factories import make_invoice

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = timezone.localdate()


def url(customer) -> str:
    return f"/api/v1/customers/{customer.pk}/statement"


def statement_of(org, customer, date_from, date_to=TODAY):
    return customer_statement(
        organization=org, customer=customer, date_from=date_from, date_to=date_to
    )


def days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def pay(invoice, amount: str, on: date):
    return services.invoice_apply_payment(
        invoice=invoice, amount=D(amount), received_date=on, memo=f"Cheque on {on}"
    )


# --- the builder -------------------------------------------------------------------------------


def test_opening_balance_is_what_was_posted_before_the_period(org, customer):
    old = make_invoice(org, customer=customer, amount="300.00", issue_date=days_ago(120))
    pay(old, "100.00", days_ago(100))
    recent = make_invoice(org, customer=customer, amount="50.00", issue_date=days_ago(10))

    statement = statement_of(org, customer, days_ago(30))

    assert statement.opening_balance == D("200.00")
    assert [(line.type, line.invoice_number, line.charge, line.credit, line.balance)
            for line in statement.lines] == [
        ("invoice", recent.invoice_number, D("50.00"), D("0.00"), D("250.00")),
    ]  # fmt: skip
    assert statement.closing_balance == D("250.00")
    assert (statement.total_charges, statement.total_credits) == (D("50.00"), D("0.00"))


def test_every_kind_of_entry_is_a_line_with_the_running_balance(org, customer):
    # given an invoice paid in part, an offline payment later reversed, and a voided invoice
    first = make_invoice(org, customer=customer, amount="100.00", issue_date=days_ago(20))
    payment_entry = pay(first, "40.00", days_ago(15))
    offline = services.invoice_record_offline_payment(
        invoice=first, amount=D("10.00"), received_date=days_ago(12)
    )
    services.invoice_offline_payment_reverse(
        invoice=first, offline_payment_id=offline.pk, reason="bounced", reversed_by="alice"
    )
    services.invoice_unapply_payment(invoice=first, entry=payment_entry)
    voided = make_invoice(org, customer=customer, amount="25.00", issue_date=days_ago(5))
    services.invoice_void(invoice=voided)

    statement = statement_of(org, customer, days_ago(30))

    rows = [
        (line.date, line.type, line.charge, line.credit, line.balance) for line in statement.lines
    ]
    assert rows == [
        (days_ago(20), "invoice", D("100.00"), D("0.00"), D("100.00")),
        (days_ago(15), "payment", D("0.00"), D("40.00"), D("60.00")),
        (days_ago(12), "offline_payment", D("0.00"), D("10.00"), D("50.00")),
        (days_ago(5), "invoice", D("25.00"), D("0.00"), D("75.00")),
        # reversals are dated the day they were made (today), in the order they were made
        (TODAY, "offline_payment_reversal", D("10.00"), D("0.00"), D("85.00")),
        (TODAY, "payment_reversal", D("40.00"), D("0.00"), D("125.00")),
        (TODAY, "invoice_reversal", D("0.00"), D("25.00"), D("100.00")),
    ]
    assert statement.opening_balance == D("0.00")
    assert statement.closing_balance == D("100.00")
    assert statement.lines[1].description == "Payment applied"
    assert statement.lines[1].memo == f"Cheque on {days_ago(15)}"
    assert statement.lines[0].invoice_id == first.pk


def test_a_payment_and_its_write_off_come_from_the_payments_app_as_lines(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00", issue_date=days_ago(3))
    payment = make_payment(org, amount="99.50", days_ago=2)
    payment_services.payment_update(
        organization=org,
        payment_id=payment.pk,
        allocations=[{"invoice_id": invoice.pk, "amount": D("99.50")}],
    )
    payment_services.payment_update(
        organization=org, payment_id=payment.pk, write_off_short_payment=True
    )

    statement = statement_of(org, customer, days_ago(10))

    assert [(line.type, line.credit, line.balance) for line in statement.lines] == [
        ("invoice", D("0.00"), D("100.00")),
        ("payment", D("99.50"), D("0.50")),
        ("write_off", D("0.50"), D("0.00")),
    ]
    assert statement.lines[2].description == "Short-payment written off"
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_a_split_over_funds_is_one_line_per_entry(org, customer):
    fund = services.fund_create(organization=org, name="Building Fund")
    revenue = services.default_account(org, "revenue")
    invoice = make_invoice(
        org,
        customer=customer,
        amount="90.00",
        issue_date=days_ago(4),
        lines=[
            services.LineSpec(amount=D("60.00"), account=revenue, fund=services.default_fund(org)),
            services.LineSpec(amount=D("30.00"), account=revenue, fund=fund),
        ],
    )
    pay(invoice, "45.00", days_ago(2))

    statement = statement_of(org, customer, days_ago(10))

    assert [(line.type, line.charge, line.credit) for line in statement.lines] == [
        ("invoice", D("90.00"), D("0.00")),
        ("payment", D("0.00"), D("45.00")),
    ]
    assert statement.closing_balance == D("45.00")


def test_aging_is_the_balance_on_to_by_days_past_due_on_to(org, customer):
    make_invoice(org, customer=customer, amount="10.00", issue_date=days_ago(200),
                 due_date=days_ago(100))  # fmt: skip
    make_invoice(org, customer=customer, amount="20.00", issue_date=days_ago(60),
                 due_date=days_ago(45))  # fmt: skip
    paid_later = make_invoice(org, customer=customer, amount="30.00", issue_date=days_ago(40),
                              due_date=days_ago(10))  # fmt: skip
    pay(paid_later, "30.00", TODAY)
    make_invoice(org, customer=customer, amount="40.00", issue_date=days_ago(1), due_in_days=30)

    # as of five days ago the third invoice was still open (5 days past due)
    statement = statement_of(org, customer, days_ago(300), days_ago(5))

    buckets = {bucket.key: (bucket.count, bucket.total) for bucket in statement.aging}
    assert buckets == {
        "current": (0, D("0.00")),
        "1-30": (1, D("30.00")),
        "31-60": (1, D("20.00")),
        "61-90": (0, D("0.00")),
        "90+": (1, D("10.00")),
    }
    assert statement.closing_balance == D("60.00")  # the last invoice is issued after `to`
    today = statement_of(org, customer, days_ago(300))
    assert {b.key: b.total for b in today.aging}["current"] == D("40.00")
    assert sum((b.total for b in today.aging), D(0)) == today.closing_balance == D("70.00")


def test_another_customers_invoices_are_not_on_the_statement(org, customer):
    make_invoice(org, customer=CustomerFactory(organization=org), amount="75.00")
    mine = make_invoice(org, customer=customer, amount="5.00")

    statement = statement_of(org, customer, days_ago(10))

    assert [line.invoice_id for line in statement.lines] == [mine.pk]


def test_the_builder_reads_one_query_whatever_the_rows(org, customer):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            statement_of(org, customer, days_ago(30))
        return len(ctx.captured_queries)

    make_invoice(org, customer=customer, amount="5.00", issue_date=days_ago(40))
    small = queries()
    for index in range(8):
        invoice = make_invoice(org, customer=customer, amount="9.00", issue_date=days_ago(index))
        pay(invoice, "4.00", TODAY)

    assert queries() == small == 1


# --- the period ----------------------------------------------------------------------------------


def test_the_period_defaults_to_the_90_days_up_to_today():
    assert statement_period({}, today=date(2026, 5, 31)) == (date(2026, 3, 2), date(2026, 5, 31))
    assert statement_period({"to": "2026-01-31"}, today=date(2026, 5, 31)) == (
        date(2025, 11, 2),
        date(2026, 1, 31),
    )
    assert statement_period({"to": "0001-01-05"}, today=TODAY) == (date.min, date(1, 1, 5))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "20260101"}, "to"),
        ({"to": "2026-1-1"}, "to"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
    ],
)
def test_a_bad_period_names_the_field(params, field):
    with pytest.raises(ValidationFailed) as raised:
        statement_period(params, today=date(2026, 5, 31))
    assert list(raised.value.fields) == [field]


# --- the API ------------------------------------------------------------------------------------


def test_the_statement_as_json(api, org, customer):
    customer.external_id = "C-7"
    customer.save()
    invoice = make_invoice(org, customer=customer, amount="120.00", issue_date=days_ago(2),
                           invoice_number="INV-77")  # fmt: skip
    entry = pay(invoice, "20.00", days_ago(1))

    response = api.get(url(customer), {"from": days_ago(5).isoformat(), "to": TODAY.isoformat()})

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert data == {
        "customer": {
            "id": str(customer.pk),
            "company_name": "Acme Corp",
            "customer_id": "C-7",
            "address": "1 Main St",
        },
        "currency": "USD",
        "from": days_ago(5).isoformat(),
        "to": TODAY.isoformat(),
        "opening_balance": 0.0,
        "total_charges": 120.0,
        "total_credits": 20.0,
        "closing_balance": 100.0,
        "lines": [
            {
                "date": days_ago(2).isoformat(),
                "type": "invoice",
                "description": "Invoice issued",
                "memo": "Invoice INV-77 issued",
                "invoice_id": str(invoice.pk),
                "invoice_number": "INV-77",
                "credit_note_id": None,
                "credit_note_number": "",
                "journal_entry_id": str(JournalEntry.objects.get(invoice=invoice, kind="issue").pk),
                "charge": 120.0,
                "credit": 0.0,
                "balance": 120.0,
            },
            {
                "date": days_ago(1).isoformat(),
                "type": "payment",
                "description": "Payment applied",
                "memo": f"Cheque on {days_ago(1)}",
                "invoice_id": str(invoice.pk),
                "invoice_number": "INV-77",
                "credit_note_id": None,
                "credit_note_number": "",
                "journal_entry_id": str(entry.pk),
                "charge": 0.0,
                "credit": 20.0,
                "balance": 100.0,
            },
        ],
        "aging": [
            {"key": "current", "label": "Current", "count": 1, "total": 100.0},
            {"key": "1-30", "label": "1\u201330 days", "count": 0, "total": 0.0},
            {"key": "31-60", "label": "31\u201360 days", "count": 0, "total": 0.0},
            {"key": "61-90", "label": "61\u201390 days", "count": 0, "total": 0.0},
            {"key": "90+", "label": "90+ days", "count": 0, "total": 0.0},
        ],
        "credit_notes": [],
        "unapplied_credits": 0.0,
        "other_currencies": [],
    }


def test_the_period_defaults_in_the_api(api, org, customer):
    response = api.get(url(customer))

    assert response.status_code == 200
    data = response.json()["data"]
    today = date.fromisoformat(data["to"])
    assert abs((today - TODAY).days) <= 1  # the organization's today
    assert date.fromisoformat(data["from"]) == today - timedelta(days=90)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2024-13-01", "from"),
        ("to=soon", "to"),
        ("from=2024-05-02&to=2024-05-01", "from"),
    ],
)
def test_a_bad_period_is_a_400_naming_the_field(api, customer, query, field):
    response = api.get(f"{url(customer)}?{query}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [field]


def test_another_organizations_customer_is_a_404(api, other_customer):
    response = api.get(url(other_customer))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_malformed_or_unknown_id_is_a_404(api):
    assert api.get("/api/v1/customers/nope/statement").status_code == 404
    unknown = "/api/v1/customers/00000000-0000-0000-0000-000000000001/statement"
    assert api.get(unknown).status_code == 404


def test_the_statement_needs_an_api_key(anon_api, customer):
    assert anon_api.get(url(customer)).status_code == 401


def test_an_accept_the_api_cannot_answer_is_a_406(api, customer):
    response = api.get(url(customer), HTTP_ACCEPT="text/html")

    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def _api_queries(api, customer) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url(customer), {"from": days_ago(60).isoformat()})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_api_query_count_does_not_grow_with_the_rows(api, org, customer):
    make_invoice(org, customer=customer, amount="10.00", issue_date=days_ago(70))
    small = _api_queries(api, customer)
    for index in range(12):
        invoice = make_invoice(org, customer=customer, amount="10.00", issue_date=days_ago(index))
        pay(invoice, "3.00", TODAY)
        if index % 3 == 0:
            services.invoice_void(invoice=make_invoice(org, customer=customer, amount="1.00"))

    large = _api_queries(api, customer)

    # the API key with its organization, the customer, the journal lines
    assert large == small == 3


# --- property: the statement adds up and agrees with the invoices ------------------------------

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["invoice", "pay", "unapply", "offline", "reverse", "void"]),
        st.integers(min_value=0, max_value=60),  # days ago
        st.integers(min_value=1, max_value=50_000),  # cents
        st.integers(min_value=0, max_value=10),  # which invoice or entry
    ),
    min_size=1,
    max_size=14,
)


def _run(org, customer, operations) -> None:
    invoices: list[Invoice] = []
    payments: list[tuple[Invoice, JournalEntry]] = []
    offline = []
    for operation, ago, cents, pick in operations:
        amount = D(cents) / 100
        if operation == "invoice" or not invoices:
            invoices.append(
                make_invoice(
                    org,
                    customer=customer,
                    amount=str(amount),
                    issue_date=days_ago(ago),
                    due_date=days_ago(ago) + timedelta(days=pick * 10),
                )
            )
            continue
        invoice = invoices[pick % len(invoices)]
        invoice.refresh_from_db()
        if operation in ("pay", "offline") and invoice.status in Invoice.OPEN_STATUSES:
            amount = min(amount, invoice.amount_due)
            if operation == "pay":
                payments.append((invoice, pay(invoice, str(amount), days_ago(ago))))
            else:
                offline.append(
                    services.invoice_record_offline_payment(
                        invoice=invoice, amount=amount, received_date=days_ago(ago)
                    )
                )
        elif operation == "unapply" and payments:
            paid, entry = payments.pop(pick % len(payments))
            services.invoice_unapply_payment(invoice=paid, entry=entry)
        elif operation == "reverse" and offline:
            done = offline.pop(pick % len(offline))
            services.invoice_offline_payment_reverse(
                invoice=done.invoice, offline_payment_id=done.pk, reason="test", reversed_by="t"
            )
        elif operation == "void" and not services.invoice_has_moved_money(invoice):
            services.invoice_void(invoice=invoice)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS, from_days_ago=st.integers(min_value=0, max_value=70))
def test_opening_plus_lines_is_closing_which_is_what_the_invoices_owe(
    org, operations, from_days_ago
):
    customer = CustomerFactory(organization=org)
    _run(org, customer, operations)

    statement = statement_of(org, customer, days_ago(from_days_ago))

    moved = sum((line.charge - line.credit for line in statement.lines), D(0))
    assert statement.opening_balance + moved == statement.closing_balance
    running = statement.opening_balance
    for line in statement.lines:
        running += line.charge - line.credit
        assert line.balance == running
    owed = sum(
        (i.amount_due for i in Invoice.objects.for_org(org).filter(customer=customer).open()),
        D(0),
    )
    assert statement.closing_balance == owed
    assert sum((bucket.total for bucket in statement.aging), D(0)) == owed
