"""The collector's worklist and the customer page's collections panel through Django's test
client: customers by priority with the figures behind it in words, the filters and pages,
each action (call, note, promise, dispute, statement) done through htmx and as a plain form,
refusals beside the field they name, another organization's customer a 404, CSRF on every
POST, and the queries a page costs pinned at two sizes of data."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from dunning import services
from dunning.models import CustomerNote, Dispute, Promise
from tests.dunning.factories import (
    broken_promise,
    customer_with_contacts,
    org_today,
    overdue_for,
    overdue_invoice,
    sent_reminder,
)
from tests.factories import ContactFactory, CustomerFactory, TagFactory
from tests.ui.builders import words

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
WORKLIST = "/collections/"


def csrf(client) -> dict:
    client.get(reverse("reconciliation:dashboard"))
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def toast(response) -> dict:
    return json.loads(response["HX-Trigger"])["arpilot:toast"]


def _action_url(customer, kind):
    return reverse("collections:action", args=[customer.pk, kind])


def _panel_url(customer):
    return reverse("collections:customer-panel", args=[customer.pk])


def _field_error(response, field: str) -> str:
    """The error shown beside ``field`` (empty when none)."""
    match = re.search(
        rf'<p class="field-error" id="[^"]*-{field}-err" data-field-error="{field}">([^<]*)</p>',
        response.content.decode(),
    )
    return match.group(1) if match else ""


@pytest.fixture
def big(org):
    """A customer owing 3,600 overdue (60 and 30 days), a broken promise, a reminder sent."""
    customer = customer_with_contacts(org, company_name="Big Industries")
    overdue_for(org, customer, 60, "3000.00")
    old = overdue_for(org, customer, 30, "600.00")
    broken_promise(org, customer, old)
    sent_reminder(org, customer, days_ago=2)
    return customer


@pytest.fixture
def small(org):
    """A customer owing 90 overdue for 10 days, never contacted."""
    customer = customer_with_contacts(org, company_name="Small Shop")
    overdue_for(org, customer, 10, "90.00")
    return customer


# --- the worklist ------------------------------------------------------------------------------


def test_the_worklist_ranks_customers_by_priority_and_says_why(ui, org, other_org, big, small):
    quiet = customer_with_contacts(org, company_name="Not Yet Due")
    overdue_invoice(org, quiet, days_overdue=-5, today=org_today(org))
    overdue_for(
        other_org, customer_with_contacts(other_org, company_name="Stranger"), 90, "9999.00"
    )

    response = ui.get(WORKLIST)

    assert response.status_code == 200
    page = words(response)
    assert "2 customers with overdue money, highest priority first." in page
    assert page.index("Big Industries") < page.index("Small Shop")
    assert "Not Yet Due" not in page and "Stranger" not in page
    # 3000 * 60 / 30 + 600 * 30 / 30 = 6600 → 66 points; + 25 + 2 + 5
    assert "Priority 98 $3,600.00 overdue" in page
    assert "Oldest 60 days overdue" in page
    assert "Last contact 2 days ago" in page
    assert "1 reminder sent in 90 days" in page
    assert "1 broken promise in 90 days" in page
    assert (
        "Priority 98 = 66.0 for $3,600.00 overdue, weighted by age + 25 for 1 broken promise "
        "+ 2 for last contact 2 days ago + 5 for 1 reminder sent"
    ) in page
    # 90 * 10 / 30 = 30 → 0.3 points; + 30 never contacted
    assert "Priority 30.3 $90.00 overdue" in page
    assert "Never contacted" in page
    html = response.content.decode()
    assert f'href="/customers/{big.pk}/"' in html
    for key in "cnpds":
        assert f'data-shortcut="{key}"' in html
    assert "data-collections-worklist" in html and "js/collections.js" in html


def test_open_promises_and_disputes_show_on_the_row(ui, org, small):
    invoice = overdue_for(org, small, 20, "40.00")
    other = overdue_for(org, small, 5, "30.00")
    services.promise_create(
        organization=org,
        customer_id=small.pk,
        invoice_ids=[invoice.pk],
        amount=Decimal("40.00"),
        promised_date=org_today(org) + timedelta(days=4),
    )
    services.dispute_open(organization=org, invoice_id=other.pk, reason_code="pricing")

    page = words(ui.get(WORKLIST))

    promised = (org_today(org) + timedelta(days=4)).isoformat()
    assert f"1 open promise: $40.00 by {promised}" in page
    assert "1 invoice in dispute" in page
    assert "\u2212 20 for an open promise" in page


def test_the_filters_narrow_by_tag_and_minimum_overdue(ui, org, big, small):
    tag = TagFactory(organization=org, name="wholesale")
    small.tags.add(tag)

    by_tag = words(ui.get(WORKLIST, {"tag_id": str(tag.pk)}))
    by_amount = words(ui.get(WORKLIST, {"min_overdue": "1000"}))

    assert "Small Shop" in by_tag and "Big Industries" not in by_tag
    assert "1 customer with overdue money matching the filters" in by_tag
    assert "Big Industries" in by_amount and "Small Shop" not in by_amount


def test_a_bad_filter_is_named_beside_its_field(ui, org, other_org, big):
    stranger_tag = TagFactory(organization=other_org, name="theirs")

    amount = ui.get(WORKLIST, {"min_overdue": "lots"})
    tag = ui.get(WORKLIST, {"tag_id": str(stranger_tag.pk)})

    assert amount.status_code == 400
    assert 'id="min_overdue-err"' in amount.content.decode()
    assert "Enter a number." in words(amount)
    assert "Big Industries" in words(amount)  # the list, without the refused filter
    assert tag.status_code == 400
    assert 'id="tag_id-err"' in tag.content.decode()


def test_the_worklist_pages_25_at_a_time(ui, org):
    for index in range(27):
        customer = CustomerFactory(organization=org, company_name=f"Debtor {index:02d}")
        overdue_for(org, customer, 10 + index, "100.00")

    first = words(ui.get(WORKLIST))
    second = words(ui.get(WORKLIST, {"page": "2"}))

    assert first.count("Log a call c") == 25
    assert "Page 1 of 2 · 27 total" in first
    assert second.count("Log a call c") == 2
    assert "Debtor 26" in first  # the oldest comes first
    assert "Debtor 00" in second


def test_no_overdue_customers_says_so(ui, org):
    assert "No customer owes overdue money." in words(ui.get(WORKLIST))


# --- the forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["call", "note", "promise", "dispute", "statement"])
def test_each_action_form_loads_into_the_row_and_stands_alone(ui, org, big, kind):
    loaded = ui.get(_action_url(big, kind), {"origin": "worklist", "next": WORKLIST}, **HTMX)
    page = ui.get(_action_url(big, kind))

    assert loaded.status_code == 200
    html = loaded.content.decode()
    assert "<html" not in html
    assert f'hx-target="#wl-slot-{big.pk}"' in html
    assert "csrfmiddlewaretoken" in html
    assert page.status_code == 200
    assert "<html" in page.content.decode()
    assert "hx-post" not in page.content.decode()  # a plain form on its own page


def test_the_promise_form_offers_the_open_invoices_and_ticks_the_overdue_ones(ui, org, big):
    later = overdue_invoice(org, big, days_overdue=-10, amount="70.00", today=org_today(org))

    html = ui.get(_action_url(big, "promise"), **HTMX).content.decode()

    assert html.count('name="invoice_ids"') == 3
    assert re.search(rf'value="{later.pk}" data-amount="70.00">', html)  # not due: not ticked
    assert html.count(" checked") == 2
    assert 'value="3600.00"' in html
    default_date = (org_today(org) + timedelta(days=7)).isoformat()
    assert f'value="{default_date}"' in html


def test_the_dispute_form_lists_the_organizations_reasons(ui, org, big):
    html = ui.get(_action_url(big, "dispute"), **HTMX).content.decode()

    for code in ("pricing", "damaged_goods", "not_received", "duplicate", "other"):
        assert f'value="{code}"' in html


def test_a_customer_without_an_email_address_cannot_be_sent_a_statement(ui, org):
    customer = CustomerFactory(organization=org, company_name="Unreachable")
    overdue_for(org, customer, 10)

    html = words(ui.get(_action_url(customer, "statement"), **HTMX))
    refused = ui.post(_action_url(customer, "statement"), {}, **HTMX, **csrf(ui))

    assert "No contact of Unreachable (primary or escalation level 1) has an email" in html
    assert "Send the statement" not in html
    assert "No contact of this customer has an email address." in words(refused)


# --- the actions: done -------------------------------------------------------------------------


def test_a_call_is_logged_and_its_row_comes_back_with_a_toast(ui, org, big):
    contact = big.contacts.get(contact_name="Ada Payable")

    response = ui.post(
        _action_url(big, "call"),
        {"body": "Rang AP; cheque next week", "contact_id": str(contact.pk), "next": WORKLIST},
        **HTMX,
        **csrf(ui),
    )

    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#wl-{big.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    assert toast(response) == {"message": "Call with Big Industries logged.", "level": "success"}
    note = CustomerNote.objects.get(customer=big)
    assert (note.kind, note.body, note.contact_id) == (
        "call",
        "Rang AP; cheque next week",
        contact.pk,
    )
    assert note.created_by_name == "alice"
    row = words(response)
    assert "Last contact today" in row
    assert "+ 0 for last contact today" in row
    assert response.content.decode().startswith(f'<li class="wl-row flash" id="wl-{big.pk}"')


def test_a_note_as_a_plain_form_redirects_back_with_a_message(ui, org, big):
    response = ui.post(
        _action_url(big, "note"),
        {"body": "Wants a copy invoice", "next": f"{WORKLIST}?page=1"},
        **csrf(ui),
    )

    assert response.status_code == 302
    assert response["Location"] == f"{WORKLIST}?page=1"
    assert CustomerNote.objects.get(customer=big).kind == "note"
    assert "Note on Big Industries added." in words(ui.get(response["Location"]))


def test_a_promise_is_recorded_for_the_chosen_invoices(ui, org, big):
    first, second = big.invoices.order_by("due_date")
    contact = big.contacts.get(contact_name="Cleo Finance")
    promised = org_today(org) + timedelta(days=10)

    response = ui.post(
        _action_url(big, "promise"),
        {
            "invoice_ids": [str(first.pk), str(second.pk)],
            "amount": "1,500.00",
            "promised_date": promised.isoformat(),
            "contact_id": str(contact.pk),
            "note": "Half now, half later",
        },
        **HTMX,
        **csrf(ui),
    )

    assert response.status_code == 200, words(response)
    promise = Promise.objects.get(customer=big, status="open")
    assert promise.amount == Decimal("1500.00")
    assert promise.promised_date == promised
    assert promise.contact_id == contact.pk
    assert promise.note == "Half now, half later"
    assert set(promise.lines.values_list("invoice_id", flat=True)) == {first.pk, second.pk}
    assert toast(response)["message"] == (
        f"Promise recorded: $1,500.00 from Big Industries by {promised.isoformat()} "
        f"({first.invoice_number}, {second.invoice_number}); dunning pauses for them until then."
    )
    assert f"1 open promise: $1,500.00 by {promised.isoformat()}" in words(response)


def test_a_dispute_opens_and_a_customer_left_without_overdue_money_leaves_the_list(ui, org, small):
    invoice = small.invoices.get()

    response = ui.post(
        _action_url(small, "dispute"),
        {"invoice_id": str(invoice.pk), "reason_code": "damaged_goods", "note": "Crate broken"},
        **HTMX,
        **csrf(ui),
    )

    assert response.status_code == 200, words(response)
    dispute = Dispute.objects.get(invoice=invoice)
    assert (dispute.status, dispute.reason.code, dispute.note) == (
        "open",
        "damaged_goods",
        "Crate broken",
    )
    assert "disputed (Damaged goods)" in toast(response)["message"]
    assert "Small Shop has no undisputed overdue money left: off the worklist." in words(response)
    assert "Small Shop" not in words(ui.get(WORKLIST))


def test_a_statement_is_queued_to_the_customers_addresses(ui, org, big, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "receivables.services.statements.task_send_on_commit",
        lambda task, args, later, **options: sent.append(args),
    )

    response = ui.post(_action_url(big, "statement"), {}, **HTMX, **csrf(ui))

    assert response.status_code == 200, words(response)
    assert sent == [[org.pk, [str(big.pk)]]]
    address = big.contacts.get(is_primary=True).email
    assert toast(response)["message"] == (
        f"Statement of account for Big Industries queued to {address}."
    )


def test_an_action_from_the_panel_answers_the_panel(ui, org, big):
    response = ui.post(
        _action_url(big, "note"),
        {"body": "Prefers email", "origin": "panel"},
        **HTMX,
        **csrf(ui),
    )

    assert response.status_code == 200
    assert response["HX-Retarget"] == "#collections-panel"
    page = words(response)
    assert "Note Note by alice: Prefers email" in page
    assert 'id="collections-panel"' in response.content.decode()


# --- the actions: refused ----------------------------------------------------------------------


def test_an_empty_note_is_refused_beside_its_field(ui, org, big):
    with_htmx = ui.post(_action_url(big, "note"), {"body": "  "}, **HTMX, **csrf(ui))
    plain = ui.post(_action_url(big, "call"), {"body": ""}, **csrf(ui))

    assert with_htmx.status_code == 200  # htmx swaps only a 2xx: the form comes back
    assert _field_error(with_htmx, "body") == "This field is required."
    assert 'aria-invalid="true"' in with_htmx.content.decode()
    assert plain.status_code == 400
    assert _field_error(plain, "body") == "This field is required."
    assert not CustomerNote.objects.exists()


def test_a_contact_of_another_customer_is_refused(ui, org, big, small):
    stranger = small.contacts.first()

    response = ui.post(
        _action_url(big, "call"), {"body": "Hi", "contact_id": str(stranger.pk)}, **csrf(ui)
    )

    assert response.status_code == 400
    assert "Select a valid choice." in _field_error(response, "contact_id")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": "12,50"}, "amount", "is ambiguous"),
        ({"amount": "0"}, "amount", "Must be greater than zero."),
        ({"promised_date": "yesterday"}, "promised_date", "Enter a valid date."),
        ({"promised_date": "past"}, "promised_date", "Must be today or later."),
        ({"invoice_ids": []}, "invoice_ids", "This field is required."),
        ({"invoice_ids": "foreign"}, "invoice_ids", "Choose open invoices of this customer"),
    ],
)
def test_a_promise_is_refused_beside_the_field_at_fault(
    ui, org, other_org, big, change, field, message
):
    invoice = big.invoices.order_by("due_date").first()
    data = {
        "invoice_ids": [str(invoice.pk)],
        "amount": "100.00",
        "promised_date": (org_today(org) + timedelta(days=3)).isoformat(),
    }
    if change.get("promised_date") == "past":
        change = {"promised_date": (org_today(org) - timedelta(days=1)).isoformat()}
    if change.get("invoice_ids") == "foreign":
        theirs = overdue_for(other_org, customer_with_contacts(other_org), 10)
        change = {"invoice_ids": [str(theirs.pk)]}
    data.update(change)

    response = ui.post(_action_url(big, "promise"), data, **csrf(ui))

    assert response.status_code == 400
    assert message in _field_error(response, field), words(response)
    assert not Promise.objects.filter(status="open").exists()


def test_an_invoice_already_promised_cannot_be_promised_again(ui, org, big):
    invoice = big.invoices.order_by("due_date").first()
    services.promise_create(
        organization=org,
        customer_id=big.pk,
        invoice_ids=[invoice.pk],
        amount=Decimal("10.00"),
        promised_date=org_today(org) + timedelta(days=2),
    )

    html = ui.get(_action_url(big, "promise"), **HTMX).content.decode()
    response = ui.post(
        _action_url(big, "promise"),
        {
            "invoice_ids": [str(invoice.pk)],
            "amount": "5.00",
            "promised_date": (org_today(org) + timedelta(days=3)).isoformat(),
        },
        **HTMX,
        **csrf(ui),
    )

    assert "(already promised)" in words_of(html)
    assert "Choose open invoices of this customer" in _field_error(response, "invoice_ids")


def words_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"reason_code": "bored"}, "reason_code", "Choose one of the listed reasons."),
        ({"reason_code": ""}, "reason_code", "This field is required."),
        ({"invoice_id": ""}, "invoice_id", "This field is required."),
        ({"invoice_id": "not-a-uuid"}, "invoice_id", "Choose an open invoice of this customer"),
    ],
)
def test_a_dispute_is_refused_beside_the_field_at_fault(ui, org, big, data, field, message):
    invoice = big.invoices.order_by("due_date").first()
    posted = {"invoice_id": str(invoice.pk), "reason_code": "pricing", **data}

    response = ui.post(_action_url(big, "dispute"), posted, **HTMX, **csrf(ui))

    assert response.status_code == 200
    assert message in _field_error(response, field), words(response)
    assert not Dispute.objects.exists()


def test_an_invoice_already_disputed_is_refused(ui, org, big):
    invoice = big.invoices.order_by("due_date").first()
    services.dispute_open(organization=org, invoice_id=invoice.pk, reason_code="pricing")

    response = ui.post(
        _action_url(big, "dispute"),
        {"invoice_id": str(invoice.pk), "reason_code": "other"},
        **csrf(ui),
    )

    assert response.status_code == 400
    assert "not already disputed" in _field_error(response, "invoice_id")
    assert Dispute.objects.count() == 1


# --- resolving a dispute ------------------------------------------------------------------------


def _disputed(org, customer):
    invoice = customer.invoices.order_by("due_date").first()
    services.dispute_open(organization=org, invoice_id=invoice.pk, reason_code="pricing")
    return invoice


def test_the_panel_offers_to_resolve_each_open_dispute(ui, org, big):
    invoice = _disputed(org, big)

    panel = ui.get(_panel_url(big), **HTMX).content.decode()
    form = ui.get(
        _action_url(big, "resolve") + f"?origin=panel&invoice_id={invoice.pk}", **HTMX
    ).content.decode()

    assert f"resolve/?origin=panel&amp;invoice_id={invoice.pk}" in panel
    assert f'<option value="{invoice.pk}" selected>' in form
    assert "Write-off: write the amount off" in words_of(form)


def test_a_dispute_written_off_in_part_moves_that_amount_for_approval(ui, org, big):
    from reconciliation.models import AccountingChange

    invoice = _disputed(org, big)
    owed = invoice.amount_due

    response = ui.post(
        _action_url(big, "resolve"),
        {
            "invoice_id": str(invoice.pk),
            "resolution": "write_off",
            "amount": "1,250.50",
            "note": "Goodwill",
            "origin": "panel",
        },
        **HTMX,
        **csrf(ui),
    )

    assert response.status_code == 200, words(response)
    dispute = Dispute.objects.get(invoice=invoice)
    invoice.refresh_from_db()
    assert (dispute.status, dispute.resolution, dispute.resolution_amount) == (
        "resolved",
        "write_off",
        Decimal("1250.50"),
    )
    assert invoice.amount_due == owed - Decimal("1250.50")
    change = AccountingChange.objects.get(pk=dispute.accounting_change_id)
    assert (change.change_type, change.status, change.amount) == (
        "write_off",
        "pending",
        Decimal("1250.50"),
    )
    assert "$1,250.50 written off, waiting for approval" in toast(response)["message"]
    assert response["HX-Retarget"] == "#collections-panel"


def test_a_withdrawn_dispute_moves_nothing_and_the_invoice_is_dunned_again(ui, org, big):
    invoice = _disputed(org, big)
    owed = invoice.amount_due

    response = ui.post(
        _action_url(big, "resolve"),
        {"invoice_id": str(invoice.pk), "resolution": "withdrawn"},
        **csrf(ui),
    )

    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.amount_due == owed
    assert Dispute.objects.get(invoice=invoice).resolution == "withdrawn"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"resolution": "refund"}, "resolution", "Choose one of the listed resolutions."),
        ({"resolution": "withdrawn", "amount": "5"}, "amount", "moves no money"),
        ({"amount": "abc"}, "amount", ""),
        ({"amount": "999999.00"}, "amount", ""),
        ({"amount": "0"}, "amount", ""),
        ({"invoice_id": "not-a-uuid"}, "invoice_id", "with an open dispute"),
    ],
)
def test_a_resolution_is_refused_beside_the_field_at_fault(ui, org, big, data, field, message):
    invoice = _disputed(org, big)
    owed = invoice.amount_due
    posted = {"invoice_id": str(invoice.pk), "resolution": "write_off", **data}

    response = ui.post(_action_url(big, "resolve"), posted, **csrf(ui))

    assert response.status_code == 400
    error = _field_error(response, field)
    assert error and message in error, words(response)
    invoice.refresh_from_db()
    assert invoice.amount_due == owed
    assert Dispute.objects.get(invoice=invoice).status == "open"


def test_an_undisputed_invoice_cannot_be_resolved(ui, org, big):
    invoice = big.invoices.order_by("due_date").first()

    response = ui.post(
        _action_url(big, "resolve"),
        {"invoice_id": str(invoice.pk), "resolution": "withdrawn"},
        **csrf(ui),
    )

    assert response.status_code == 400
    assert "with an open dispute" in _field_error(response, "invoice_id")


# --- another organization, CSRF, methods -------------------------------------------------------


@pytest.mark.parametrize("kind", ["call", "note", "promise", "dispute", "statement", "resolve"])
def test_another_organizations_customer_is_a_404(ui, other_org, kind):
    stranger = customer_with_contacts(other_org, company_name="Globex Buyer")
    overdue_for(other_org, stranger, 10)

    assert ui.get(_action_url(stranger, kind)).status_code == 404
    posted = ui.post(_action_url(stranger, kind), {"body": "x"}, **csrf(ui))
    assert posted.status_code == 404
    assert not CustomerNote.objects.exists()


def test_the_panel_of_another_organizations_customer_is_a_404(ui, other_org):
    stranger = CustomerFactory(organization=other_org)

    assert ui.get(_panel_url(stranger)).status_code == 404


def test_unknown_actions_and_ids_are_404s(ui, org, big):
    assert ui.get(f"/collections/customer/{big.pk}/write-off/").status_code == 404
    assert ui.get("/collections/customer/not-a-uuid/call/").status_code == 404


def test_a_post_without_the_csrf_token_is_refused(ui, org, big):
    for kind, data in [("call", {"body": "x"}), ("statement", {})]:
        response = ui.post(_action_url(big, kind), data, **HTMX)
        assert response.status_code == 403
    assert not CustomerNote.objects.exists()


def test_the_pages_need_a_signed_in_clerk(org, big):
    anonymous = Client()

    assert anonymous.get(WORKLIST).status_code == 302
    assert anonymous.get(_panel_url(big)).status_code == 302
    assert anonymous.post(_action_url(big, "note"), {"body": "x"}).status_code == 302


def test_the_worklist_is_get_only(ui, org):
    assert ui.post(WORKLIST, {}, **csrf(ui)).status_code == 405


# --- the customer page's panel -----------------------------------------------------------------


def test_the_customer_page_loads_the_collections_panel(ui, org, big):
    html = ui.get(reverse("customers:detail", args=[big.pk])).content.decode()

    assert '<h2 id="collections-title">Collections</h2>' in html
    assert f'hx-get="{_panel_url(big)}" hx-trigger="load" hx-swap="innerHTML"' in html
    assert f'<a href="{_panel_url(big)}">' in html  # without JavaScript, a link


def test_the_panel_shows_the_timeline_newest_first_and_the_open_items(ui, org, big):
    invoice = big.invoices.order_by("due_date").first()
    other = big.invoices.order_by("due_date").last()
    promised = org_today(org) + timedelta(days=5)
    services.promise_create(
        organization=org,
        customer_id=big.pk,
        invoice_ids=[invoice.pk],
        amount=Decimal("250.00"),
        promised_date=promised,
        note="Via bank transfer",
    )
    services.dispute_open(organization=org, invoice_id=other.pk, reason_code="pricing")
    CustomerNote.objects.create(organization=org, customer=big, kind="call", body="Called CFO")

    response = ui.get(_panel_url(big), **HTMX)

    assert response.status_code == 200
    page = words(response)
    assert "<html" not in response.content.decode()
    assert (
        f"Open promises to pay $250.00 by {promised.isoformat()} · {invoice.invoice_number} "
        "· Via bank transfer"
    ) in page
    assert f"Open disputes {other.invoice_number} : Pricing · since" in page
    kinds = re.findall(r'data-kind="([a-z_]+)"', response.content.decode())
    assert kinds[0] == "call"
    assert {"call", "reminder", "promise_created", "promise_broken", "dispute_opened"} <= set(kinds)
    assert "Promise made Promised $250.00" not in page  # the summary's amount is the selector's
    assert f"Promise made Promised 250.00 by {promised.isoformat()} ." in page
    assert "Dispute opened Invoice" in page
    assert "Log a call" in page and "Send a statement" in page


def test_the_panel_pages_its_timeline(ui, org, big):
    for index in range(30):
        CustomerNote.objects.create(organization=org, customer=big, body=f"Note {index}")

    first = ui.get(_panel_url(big), **HTMX)
    second = ui.get(_panel_url(big), {"page": "2"}, **HTMX)
    plain = ui.get(_panel_url(big))

    assert first.content.decode().count("timeline-item") == 25
    assert "Page 1 of 2" in words(first)
    assert f'hx-get="{_panel_url(big)}?page=2" hx-target="#collections-panel"' in (
        first.content.decode()
    )
    # 30 notes + the reminder + the broken promise (made, broken)
    assert second.content.decode().count("timeline-item") == 33 - 25
    assert "<html" in plain.content.decode()  # a page of its own without htmx


# --- queries -----------------------------------------------------------------------------------


def _book(org, size: int):
    """``size`` customers with overdue invoices, a note, a reminder, an open promise and a
    dispute each (so every per-row figure and every timeline source has rows)."""
    customers = []
    for index in range(size):
        customer = customer_with_contacts(org, company_name=f"Debtor {index:02d}")
        first = overdue_for(org, customer, 15 + index, "120.00")
        second = overdue_for(org, customer, 40 + index, "80.00")
        third = overdue_for(org, customer, 5, "10.00")
        ContactFactory(customer=customer, contact_name=f"Extra {index}")
        sent_reminder(org, customer, days_ago=index)
        CustomerNote.objects.create(organization=org, customer=customer, body="Spoke")
        services.promise_create(
            organization=org,
            customer_id=customer.pk,
            invoice_ids=[first.pk],
            amount=Decimal("60.00"),
            promised_date=org_today(org) + timedelta(days=3),
        )
        services.dispute_open(organization=org, invoice_id=third.pk, reason_code="pricing")
        broken_promise(org, customer, second)
        customers.append(customer)
    return customers


# session, user, memberships; the tags of the filter; the count and the page; the page's
# open promises and its open disputes.
WORKLIST_QUERIES = 8


@pytest.mark.parametrize("size", [2, 8])
def test_the_worklist_costs_the_same_queries_at_any_size(ui, org, size, django_assert_num_queries):
    _book(org, size)
    TagFactory(organization=org, name="a-tag")
    ui.get(WORKLIST)  # warm the session

    with django_assert_num_queries(WORKLIST_QUERIES):
        response = ui.get(WORKLIST)

    assert response.status_code == 200
    assert words(response).count("Log a call c") == size


# session, user, memberships; the customer; the timeline: a count and a read for each of the
# eight sources of ``selectors.activity_page`` (notes and calls, reminders, promises made,
# promises resolved, disputes opened, disputes resolved, payments, statements sent); the open
# promises with their invoices; the open disputes.
PANEL_QUERIES = 3 + 1 + 2 * 8 + 1 + 1


@pytest.mark.parametrize("size", [1, 6])
def test_the_panel_costs_the_same_queries_at_any_size(ui, org, size, django_assert_num_queries):
    customer = _book(org, 1)[0]
    for index in range(size * 5):
        CustomerNote.objects.create(organization=org, customer=customer, body=f"Extra {index}")
    url = _panel_url(customer)
    ui.get(url, **HTMX)  # warm the session

    with django_assert_num_queries(PANEL_QUERIES):
        response = ui.get(url, **HTMX)

    assert response.status_code == 200
