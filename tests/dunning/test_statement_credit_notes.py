"""A customer's statement of account lists its credit notes: a line for each one posted
(a credit) or voided (a charge) in the period, each note with its applications, what was
applied and what remains on ``to``, per currency; invoices age net of the notes applied to
them and what the notes still hold is one more (negative) aging row, so the aging adds up to
the closing balance, which is the customer's receivable in the ledger. The page, the PDF's
HTML and a dunning reminder's attached statement show them."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from arpilot import services as org_services
from arpilot.models import Membership
from credits.models import CreditNote
from credits.services import credit_notes as notes
from receivables.models import ExchangeRate, JournalLine
from receivables.statement_pdf import statement_html
from receivables.statements import customer_statement
from tests.factories import CustomerFactory, make_invoice
from tests.ledger_invariants import check_ledger

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = timezone.localdate()


def days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def statement_of(org, customer, date_from=None, date_to=TODAY):
    return customer_statement(
        organization=org,
        customer=customer,
        date_from=date_from or days_ago(30),
        date_to=date_to,
    )


def posted_note(org, customer, amount, *, currency=None, invoice=None, issue_date=None):
    return notes.credit_note_create(
        organization=org,
        customer=customer,
        amount=D(amount),
        currency=currency,
        invoice_id=invoice.pk if invoice is not None else None,
        issue_date=issue_date or TODAY,
        memo="Goodwill",
        status=CreditNote.Status.POSTED,
    )


def apply(org, note, invoice, amount):
    return notes.credit_note_apply(
        organization=org,
        credit_note_id=note.pk,
        allocations=[{"invoice_id": invoice.pk, "amount": D(amount)}],
    )


def ledger_receivable(org, customer_invoices, customer_notes, currency=""):
    """The customer's receivable in the ledger, in ``currency`` (blank: base lines)."""
    entry_ids = [note.journal_entry_id for note in customer_notes] + [
        note.void_entry_id for note in customer_notes if note.void_entry_id
    ]
    total = D("0")
    lines = JournalLine.objects.filter(organization=org, entry__invoice__in=customer_invoices)
    lines = lines.filter(account_id__in=[i.ar_account_id for i in customer_invoices])
    for debit, credit, line_currency, amount_currency in lines.values_list(
        "debit", "credit", "currency", "amount_currency"
    ):
        total += amount_currency if line_currency else debit - credit
    note_lines = JournalLine.objects.filter(
        organization=org,
        entry_id__in=entry_ids,
        account_id__in=[n.ar_account_id for n in customer_notes],
    )
    for debit, credit, line_currency, amount_currency in note_lines.values_list(
        "debit", "credit", "currency", "amount_currency"
    ):
        total += amount_currency if line_currency else debit - credit
    return total


@pytest.fixture
def customer(org):
    return CustomerFactory(organization=org, company_name="Acme Corp")


def test_a_posted_and_partly_applied_note_is_a_line_listed_with_what_remains(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00", issue_date=days_ago(10))
    other = make_invoice(org, customer=customer, amount="40.00", issue_date=days_ago(5))
    note = posted_note(org, customer, "30.00", invoice=invoice)
    apply(org, note, invoice, "20.00")

    statement = statement_of(org, customer)

    assert [(line.type, line.charge, line.credit) for line in statement.lines] == [
        ("invoice", D("100.00"), D("0.00")),
        ("invoice", D("40.00"), D("0.00")),
        ("credit_note", D("0.00"), D("30.00")),
    ]
    credit_line = statement.lines[-1]
    assert (credit_line.credit_note_number, credit_line.invoice_number) == (
        note.number,
        invoice.invoice_number,
    )
    assert credit_line.description == "Credit note"
    assert statement.closing_balance == D("110.00")
    [listed] = statement.credit_notes
    assert (listed.number, listed.amount, listed.applied, listed.remaining) == (
        note.number,
        D("30.00"),
        D("20.00"),
        D("10.00"),
    )
    assert [(a.invoice_number, a.amount, a.unapplied_on) for a in listed.applications] == [
        (invoice.invoice_number, D("20.00"), None)
    ]
    assert statement.unapplied_credits == D("10.00")
    # Invoices age net of what was applied; the note's remainder is a row of its own.
    aging = {bucket.key: (bucket.total, bucket.count) for bucket in statement.aging}
    assert aging["current"] == (D("120.00"), 2)  # 80 + 40
    assert aging["credit_notes"] == (D("-10.00"), 1)
    assert sum((bucket.total for bucket in statement.aging), D("0")) == statement.closing_balance
    # The closing balance is the customer's receivable in the ledger, and what is open.
    invoice.refresh_from_db()
    other.refresh_from_db()
    note.refresh_from_db()
    assert statement.closing_balance == ledger_receivable(org, [invoice, other], [note])
    assert (
        statement.closing_balance == invoice.amount_due + other.amount_due - note.amount_remaining
    )
    check_ledger(org)


def test_a_voided_note_is_credited_then_charged_back(org, customer):
    make_invoice(org, customer=customer, amount="50.00", issue_date=days_ago(3))
    note = posted_note(org, customer, "15.00")
    notes.credit_note_void(organization=org, credit_note_id=note.pk)

    statement = statement_of(org, customer)

    assert [(line.type, line.charge, line.credit) for line in statement.lines][1:] == [
        ("credit_note", D("0.00"), D("15.00")),
        ("credit_note_void", D("15.00"), D("0.00")),
    ]
    assert statement.lines[-1].invoice_id is None
    assert statement.closing_balance == D("50.00")
    [listed] = statement.credit_notes
    assert (listed.status, listed.remaining, listed.voided_on) == ("void", D("0.00"), TODAY)
    assert "credit_notes" not in {bucket.key for bucket in statement.aging}


def test_an_old_note_is_in_the_opening_balance_and_listed_while_it_holds_something(org, customer):
    make_invoice(org, customer=customer, amount="80.00", issue_date=days_ago(100))
    note = posted_note(org, customer, "25.00", issue_date=days_ago(90))

    statement = statement_of(org, customer, date_from=days_ago(30))

    assert statement.opening_balance == D("55.00")
    assert statement.lines == []
    assert [listed.number for listed in statement.credit_notes] == [note.number]
    assert statement.unapplied_credits == D("25.00")
    assert sum((bucket.total for bucket in statement.aging), D("0")) == D("55.00")


def test_a_used_up_old_note_is_not_listed_but_a_period_before_its_application_ages_it(
    org, customer
):
    invoice = make_invoice(org, customer=customer, amount="80.00", issue_date=days_ago(100))
    note = posted_note(org, customer, "25.00", issue_date=days_ago(90))
    apply(org, note, invoice, "25.00")  # applied today

    now = statement_of(org, customer, date_from=days_ago(30))
    before = statement_of(org, customer, date_from=days_ago(95), date_to=days_ago(60))

    assert [listed.number for listed in now.credit_notes] == [note.number]  # applied today
    assert now.unapplied_credits == D("0.00")
    assert {b.key: b.total for b in now.aging}["current"] == D("55.00")
    # On a day before the application, the note still held it all.
    [then] = before.credit_notes
    assert (then.applied, then.remaining, then.applications) == (D("0.00"), D("25.00"), ())
    assert {b.key: b.total for b in before.aging}["credit_notes"] == D("-25.00")
    assert sum((b.total for b in before.aging), D("0")) == before.closing_balance == D("55.00")
    later = statement_of(org, customer, date_from=TODAY + timedelta(days=1))
    assert later.credit_notes == ()  # used up and nothing happened in that period


def test_an_unapplied_application_shows_when_it_was_taken_back(org, customer):
    invoice = make_invoice(org, customer=customer, amount="60.00", issue_date=days_ago(2))
    note = posted_note(org, customer, "20.00", invoice=invoice)
    apply(org, note, invoice, "20.00")
    allocation = note.allocations.get()
    notes.credit_note_unapply(
        organization=org, credit_note_id=note.pk, allocation_ids=[allocation.pk]
    )

    [listed] = statement_of(org, customer).credit_notes

    assert [(a.amount, a.unapplied_on) for a in listed.applications] == [(D("20.00"), TODAY)]
    assert (listed.applied, listed.remaining) == (D("0.00"), D("20.00"))


def test_notes_are_per_currency_and_a_foreign_one_reads_its_own_amounts(org, customer):
    ExchangeRate.objects.create(
        organization=org, currency="EUR", date=date(2000, 1, 1), rate=D("1.1")
    )
    make_invoice(org, customer=customer, amount="100.00", issue_date=days_ago(4))
    euro = make_invoice(
        org, customer=customer, amount="200.00", currency="EUR", issue_date=days_ago(4)
    )
    usd_note = posted_note(org, customer, "10.00")
    eur_note = posted_note(org, customer, "33.33", currency="EUR", invoice=euro)
    apply(org, eur_note, euro, "33.33")

    statement = statement_of(org, customer)

    assert statement.currency == org.currency
    [eur] = statement.others
    assert [n.number for n in statement.credit_notes] == [usd_note.number]
    assert [n.number for n in eur.credit_notes] == [eur_note.number]
    assert (statement.closing_balance, eur.closing_balance) == (D("90.00"), D("166.67"))
    assert eur.lines[-1].credit == D("33.33")  # the note's euros, not their base value
    assert {b.key: b.total for b in eur.aging}["current"] == D("166.67")
    eur_note.refresh_from_db()
    euro.refresh_from_db()
    assert eur.closing_balance == ledger_receivable(org, [euro], [eur_note], "EUR")
    check_ledger(org)


def test_a_customer_with_only_a_note_gets_its_statement(org, customer):
    note = posted_note(org, customer, "12.00")

    statement = statement_of(org, customer)

    assert statement.closing_balance == D("-12.00")
    assert [b.total for b in statement.aging if b.key == "credit_notes"] == [D("-12.00")]
    assert [n.number for n in statement.credit_notes] == [note.number]


def test_another_customers_notes_stay_out(org, customer):
    someone = CustomerFactory(organization=org)
    make_invoice(org, customer=customer, amount="10.00", issue_date=days_ago(1))
    posted_note(org, someone, "5.00")

    statement = statement_of(org, customer)

    assert (statement.closing_balance, statement.credit_notes) == (D("10.00"), ())


def test_queries_do_not_grow_with_notes_or_invoices(org, customer):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            statement_of(org, customer)
        return len(ctx.captured_queries)

    make_invoice(org, customer=customer, amount="5.00", issue_date=days_ago(2))
    without = queries()
    first = posted_note(org, customer, "1.00")
    one = queries()
    for index in range(4):
        invoice = make_invoice(org, customer=customer, amount="9.00", issue_date=days_ago(index))
        note = posted_note(org, customer, "3.00", invoice=invoice)
        apply(org, note, invoice, "2.00")
    notes.credit_note_void(organization=org, credit_note_id=first.pk)

    assert (without, one, queries()) == (1, 3, 3)


@pytest.fixture
def ui(org) -> Client:
    user = org_services.user_create(username="stella", password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user, role=Membership.Role.CLERK)
    client = Client()
    client.force_login(user)
    return client


def test_the_page_and_the_pdf_list_the_notes(ui, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00", issue_date=days_ago(3))
    note = posted_note(org, customer, "30.00", invoice=invoice)
    apply(org, note, invoice, "20.00")
    loose = posted_note(org, customer, "5.00")

    page = ui.get(reverse("receivables:customer-statement", args=[customer.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "data-statement-credit-notes" in html
    assert f'data-credit-note="{note.number}"' in html
    assert f'data-credit-note="{loose.number}"' in html
    assert 'data-bucket="credit_notes"' in html
    assert reverse("credits:credit-note", args=[loose.pk]) in html
    pdf_html = statement_html(statement_of(org, customer), organization_name=org.name)
    assert note.number in pdf_html and "Unapplied credit" in pdf_html


def test_the_api_statement_shows_the_notes_and_a_line_against_no_invoice(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00", issue_date=days_ago(10))
    against = posted_note(org, customer, "30.00", invoice=invoice)
    apply(org, against, invoice, "20.00")
    loose = posted_note(org, customer, "5.00")

    response = api.get(
        f"/api/v1/customers/{customer.pk}/statement",
        {"from": days_ago(30).isoformat(), "to": TODAY.isoformat()},
    )

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    lines = {line["credit_note_number"]: line for line in data["lines"] if line["credit_note_id"]}
    assert lines[loose.number]["invoice_id"] is None
    assert lines[loose.number]["type"] == "credit_note"
    assert lines[against.number]["invoice_id"] == str(invoice.pk)
    listed = {note["number"]: note for note in data["credit_notes"]}
    assert (listed[against.number]["applied"], listed[against.number]["remaining"]) == (20, 10)
    assert listed[against.number]["applications"][0]["invoice_number"] == invoice.invoice_number
    assert data["unapplied_credits"] == 15
    assert data["closing_balance"] == 100 - 30 - 5
