"""The credit notes pages (Django client): the list and its filters, a new note, the detail
page's apply form (prefilled oldest first, errors next to the invoice), unapply, post, void."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from credits.models import CreditNote, CreditNoteAllocation
from credits.services import credit_notes as services
from receivables.models import Account, Invoice
from tests.factories import CustomerFactory, make_invoice

pytestmark = pytest.mark.django_db
D = Decimal
LIST = "/credits/credit-notes/"
NEW = "/credits/credit-notes/new/"


def csrf(client) -> dict:
    client.get(reverse("reconciliation:dashboard"))
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


def _note(org, customer, amount="30.00", post=True, **kwargs):
    return services.credit_note_create(
        organization=org,
        customer=customer,
        amount=D(amount),
        status="posted" if post else "draft",
        **kwargs,
    )


def test_the_list_shows_notes_and_filters(ui, org, other_org):
    acme = CustomerFactory(organization=org, company_name="Acme Hardware")
    posted = _note(org, acme)
    draft = _note(org, CustomerFactory(organization=org), "5.00", post=False)
    theirs = _note(other_org, CustomerFactory(organization=other_org))

    everything = text(ui.get(LIST))
    drafts = text(ui.get(f"{LIST}?status=draft"))
    bad = ui.get(f"{LIST}?status=maybe")

    assert f'data-credit-note="{posted.pk}"' in everything
    assert f'data-credit-note="{draft.pk}"' in everything
    assert f'data-credit-note="{theirs.pk}"' not in everything
    assert "Acme Hardware" in everything and "$30.00" in everything
    assert f'data-credit-note="{posted.pk}"' not in drafts
    assert bad.status_code == 200 and 'id="filter-errors"' in text(bad)
    assert 'aria-current="page">Credit notes' in everything


def test_a_new_note_from_the_form(ui, org):
    customer = CustomerFactory(organization=org)
    invoice = make_invoice(org, customer=customer, amount="50.00")
    revenue = Account.objects.get(organization=org, account_number=4000)

    response = ui.post(
        NEW,
        {
            "customer": str(customer.pk),
            "invoice": invoice.invoice_number,
            "currency": "USD",
            "line-0-amount": "12.50",
            "line-0-account": str(revenue.pk),
            "line-0-description": "returned",
            "line-1-amount": "2.50",
            "post_now": "on",
        },
        **csrf(ui),
    )

    note = CreditNote.objects.get(organization=org)
    assert response.status_code == 302 and response.url == f"/credits/credit-notes/{note.pk}/"
    assert (note.status, note.amount, note.invoice_id) == ("posted", D("15.00"), invoice.pk)
    assert sorted(line.account.account_number for line in note.lines.all()) == [4000, 4900]


def test_the_new_form_shows_errors_next_to_the_fields(ui, org):
    customer = CustomerFactory(organization=org)
    headers = csrf(ui)

    no_customer = ui.post(NEW, {"amount": "5"}, **headers)
    bad_amount = ui.post(NEW, {"customer": str(customer.pk), "amount": "-3"}, **headers)
    bad_line = ui.post(NEW, {"customer": str(customer.pk), "line-0-amount": "1.005"}, **headers)
    bad_invoice = ui.post(
        NEW, {"customer": str(customer.pk), "amount": "1", "invoice": "NOPE"}, **headers
    )

    assert no_customer.status_code == 400
    assert 'data-field-error="customer"' in text(no_customer)
    assert 'data-field-error="amount"' in text(bad_amount)
    assert 'data-field-error="line-0"' in text(bad_line)
    assert 'data-field-error="invoice"' in text(bad_invoice)
    assert not CreditNote.objects.exists()


def test_the_apply_form_is_prefilled_oldest_first_and_applies(ui, org):
    customer = CustomerFactory(organization=org)
    today = timezone.localdate()
    newer = make_invoice(
        org, customer=customer, amount="40.00", due_date=today + timedelta(days=20)
    )
    older = make_invoice(org, customer=customer, amount="25.00", due_date=today + timedelta(days=5))
    make_invoice(org, amount="99.00")  # another customer's: not offered
    note = _note(org, customer, "30.00")
    url = f"/credits/credit-notes/{note.pk}/"

    page = text(ui.get(url))
    form = page[page.index('id="apply-form"') :]
    assert form.index(older.invoice_number) < form.index(newer.invoice_number)
    assert f'name="amount-{older.pk}" value="25.00"' in page
    assert f'name="amount-{newer.pk}" value="5.00"' in page

    response = ui.post(
        f"{url}apply/",
        {f"amount-{older.pk}": "25.00", f"amount-{newer.pk}": "5.00"},
        **csrf(ui),
    )

    assert response.status_code == 302
    older.refresh_from_db()
    newer.refresh_from_db()
    note.refresh_from_db()
    assert (older.amount_due, older.status, newer.amount_due) == (D("0.00"), "paid", D("35.00"))
    assert note.amount_remaining == D("0.00")


def test_apply_errors_are_shown_next_to_the_invoice_and_nothing_moves(ui, org):
    customer = CustomerFactory(organization=org)
    first = make_invoice(org, customer=customer, amount="10.00")
    second = make_invoice(org, customer=customer, amount="10.00")
    note = _note(org, customer, "15.00")

    response = ui.post(
        f"/credits/credit-notes/{note.pk}/apply/",
        {f"amount-{first.pk}": "5.00", f"amount-{second.pk}": "11.00"},
        **csrf(ui),
    )

    assert response.status_code == 400
    page = text(response)
    assert f'data-field-error="{second.invoice_number}"' in page
    assert f'name="amount-{second.pk}" value="11.00"' in page
    assert not CreditNoteAllocation.objects.exists()
    assert Invoice.objects.get(pk=first.pk).amount_due == D("10.00")


def test_unapply_post_and_void_buttons(ui, org):
    customer = CustomerFactory(organization=org)
    invoice = make_invoice(org, customer=customer, amount="10.00")
    note = services.credit_note_apply(
        organization=org,
        credit_note_id=_note(org, customer, "10.00").pk,
        allocations=[{"invoice_id": invoice.pk, "amount": D("10.00")}],
    )
    allocation = note.allocations.get()
    draft = _note(org, customer, "3.00", post=False)
    headers = csrf(ui)

    unapplied = ui.post(
        f"/credits/credit-notes/{note.pk}/unapply/",
        {"allocation_id": str(allocation.pk)},
        **headers,
    )
    posted = ui.post(f"/credits/credit-notes/{draft.pk}/post/", **headers)
    voided = ui.post(f"/credits/credit-notes/{note.pk}/void/", **headers)
    again = ui.post(f"/credits/credit-notes/{draft.pk}/post/", follow=True, **headers)

    assert (unapplied.status_code, posted.status_code, voided.status_code) == (302, 302, 302)
    allocation.refresh_from_db()
    assert allocation.unapplied_at is not None and allocation.unapplied_by == "user:dora"
    assert CreditNote.objects.get(pk=draft.pk).status == "posted"
    assert CreditNote.objects.get(pk=note.pk).status == "void"
    assert "only a draft is posted" in text(again)
    detail = text(ui.get(f"/credits/credit-notes/{note.pk}/"))
    assert "unapplied" in detail and "<s>" in detail


def test_another_organizations_note_is_404(ui, org, other_org):
    theirs = _note(other_org, CustomerFactory(organization=other_org))
    headers = csrf(ui)

    assert ui.get(f"/credits/credit-notes/{theirs.pk}/").status_code == 404
    assert ui.post(f"/credits/credit-notes/{theirs.pk}/void/", **headers).status_code == 404
    assert (
        ui.post(
            f"/credits/credit-notes/{theirs.pk}/apply/",
            {f"amount-{make_invoice(org).pk}": "1"},
            **headers,
        ).status_code
        == 404
    )
    assert CreditNote.objects.get(pk=theirs.pk).status == "posted"


@pytest.mark.parametrize("count", [1, 12])
def test_the_list_and_detail_query_counts_are_pinned(ui, org, count, django_assert_num_queries):
    customer = CustomerFactory(organization=org)
    invoices = [make_invoice(org, customer=customer, amount="5.00") for _ in range(count)]
    note = _note(org, customer, "100.00")
    services.credit_note_apply(
        organization=org,
        credit_note_id=note.pk,
        allocations=[{"invoice_id": i.pk, "amount": D("1.00")} for i in invoices],
    )
    for _ in range(count - 1):
        _note(org, customer, "1.00")

    # session, user, memberships with their organizations; the page's count and rows
    # (customer and invoice joined)
    with django_assert_num_queries(5):
        listed = ui.get(LIST)
    # the same three; the note (customer, invoice, AR account joined), its lines, its
    # allocations (invoice joined); the open invoices for the apply form
    with django_assert_num_queries(7):
        detail = ui.get(f"/credits/credit-notes/{note.pk}/")

    assert listed.content.decode().count("data-credit-note=") == count
    assert detail.content.decode().count("data-allocation=") == count
