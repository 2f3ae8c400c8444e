"""The clerk pages, through Django's test client: sign-in, organization scoping and the
switcher, CSRF, what each action changes, and query counts that do not grow with rows."""

import re
import uuid
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from arpilot import services as org_services
from arpilot.templatetags.money import format_money
from payments.models import Payment, PaymentImport
from receivables.models import Invoice
from reconciliation.models import AccountingChange
from tests.ui.builders import book, customer_with_invoices
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def csrf(client: Client) -> dict:
    """The CSRF header a page's forms send (the cookie is set by any page)."""
    client.get(reverse("reconciliation:dashboard"))
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


# --- sign-in and organization ---------------------------------------------------------------


def test_pages_need_sign_in(client):
    response = client.get(reverse("payments:review"))
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/payments/review/"


def test_a_partial_update_after_the_session_ended_sends_the_page_to_sign_in(client):
    response = client.post("/payments/00000000-0000-0000-0000-000000000001/reviewed", **HTMX)
    assert response.status_code == 204
    assert response["HX-Redirect"] == (
        "/accounts/login/?next=/payments/00000000-0000-0000-0000-000000000001/reviewed"
    )


def test_sign_in_page_has_labelled_inputs_and_signs_in(client, clerk):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert '<label for="id_username">Username</label>' in page.content.decode()
    assert '<label for="id_password">Password</label>' in page.content.decode()
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_user_without_organization_is_told_so(client):
    user = org_services.user_create(username="lonely", password="correct-horse-battery")
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 403
    assert "not a member of any organization" in text(response)


def test_switcher_lists_the_clerks_organizations_and_switches(ui, clerk, org, other_org):
    org_services.membership_add(organization=other_org, user=clerk)
    customer_with_invoices(other_org, 1)
    page = text(ui.get("/"))
    assert '<select id="org-switch" name="organization" data-autosubmit>' in page
    assert f'<option value="{org.pk}" selected>Acme Receivables</option>' in page
    assert "0 open invoices" in page

    response = ui.post(reverse("organization-switch"), {"organization": other_org.pk}, **csrf(ui))
    assert response.status_code == 302
    assert response["Location"] == "/"
    page = text(ui.get("/"))
    assert f'<option value="{other_org.pk}" selected>Globex Receivables</option>' in page
    assert "1 open invoice" in page


def test_switching_to_an_organization_of_which_one_is_no_member_is_404(ui, other_org):
    response = ui.post(reverse("organization-switch"), {"organization": other_org.pk}, **csrf(ui))
    assert response.status_code == 404
    bad = ui.post(reverse("organization-switch"), {"organization": "x"}, **csrf(ui))
    assert bad.status_code == 400
    assert ui.get(reverse("organization-switch")).status_code == 405


def test_one_organization_shows_its_name_without_a_switcher(ui):
    page = text(ui.get("/"))
    assert 'id="org-switch"' not in page
    assert '<span class="org-name" title="Organization">Acme Receivables</span>' in page


# --- isolation ------------------------------------------------------------------------------


def test_objects_of_another_organization_are_404(ui, other_org, settings):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    [invoice] = book(other_org, 1)
    payment = Payment.objects.for_org(other_org).get()
    from webhooks import services as webhook_services

    endpoint = webhook_services.endpoint_create(
        organization=other_org, url="http://127.0.0.1:9/x", events=["*"]
    )
    for url in [
        reverse("receivables:invoice", args=[invoice.pk]),
        reverse("receivables:customer-panel", args=[invoice.customer_id]),
        reverse("customers:detail", args=[invoice.customer_id]),
        reverse("payments:detail", args=[payment.pk]),
        reverse("payments:invoice-search", args=[payment.pk]) + "?q=INV",
        reverse("payments:invoice-panel", args=[invoice.pk]),
        reverse("reconciliation:invoice-history", args=[invoice.pk]),
        reverse("webhooks:detail", args=[endpoint.pk]),
    ]:
        assert ui.get(url).status_code == 404, url
    headers = csrf(ui)
    for url in [
        reverse("payments:apply", args=[payment.pk, 1]),
        reverse("payments:allocate", args=[payment.pk]),
        reverse("payments:unapply", args=[payment.pk]),
        reverse("payments:write-off", args=[payment.pk]),
        reverse("payments:review-mark", args=[payment.pk]),
        reverse("webhooks:test", args=[endpoint.pk]),
    ]:
        assert ui.post(url, {}, **headers).status_code == 404, url
    assert Payment.objects.get(pk=payment.pk).reviewed is False


def test_lists_show_only_the_clerks_organization(ui, org, other_org):
    customer_with_invoices(org, 1)
    customer_with_invoices(other_org, 2)
    invoices = text(ui.get(reverse("receivables:invoices")))
    assert "INV-00001" in invoices
    assert "INV-00002" not in invoices
    customers = text(ui.get(reverse("customers:list")))
    assert "Customer 001 Holdings" in customers
    assert "Customer 002 Holdings" not in customers


def test_approving_a_change_of_another_organization_is_404(ui, other_org):
    book(other_org, 1)
    payment = Payment.objects.for_org(other_org).get()
    from payments import services as payment_services

    payment_services.payment_update(
        organization=other_org,
        payment_id=payment.pk,
        invoice_id=Invoice.objects.for_org(other_org).get().pk,
    )
    change = AccountingChange.objects.for_org(other_org).first()
    response = ui.post(
        reverse("reconciliation:change-action"),
        {"action": "approve", "change_ids": [str(change.pk)]},
        **csrf(ui),
    )
    assert response.status_code == 404
    change.refresh_from_db()
    assert change.status == AccountingChange.Status.PENDING


# --- CSRF -----------------------------------------------------------------------------------


def test_every_form_carries_a_csrf_token_and_posts_without_it_are_refused(ui, org, endpoint):
    book(org, 1)
    payment = Payment.objects.for_org(org).get()
    for url in [
        reverse("payments:review"),
        reverse("payments:import"),
        reverse("webhooks:list"),
        reverse("reconciliation:changes"),
    ]:
        page = ui.get(url).content.decode()
        forms = page.count('method="post"')
        assert forms >= 1, url
        assert page.count('name="csrfmiddlewaretoken"') >= forms, url
    for url in [
        reverse("payments:apply", args=[payment.pk, 1]),
        reverse("payments:allocate", args=[payment.pk]),
        reverse("payments:review-mark", args=[payment.pk]),
        reverse("payments:unapply", args=[payment.pk]),
        reverse("payments:import"),
        reverse("reconciliation:change-action"),
        reverse("webhooks:list"),
        reverse("organization-switch"),
        "/accounts/logout/",
    ]:
        assert ui.post(url, {}).status_code == 403, url
    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNMATCHED


# --- review queue actions -------------------------------------------------------------------


def test_review_queue_shows_payment_suggestions_and_evidence(ui, org):
    book(org, 2)
    page = text(ui.get(reverse("payments:review")))
    assert "2 unreviewed payments</span>, unmatched first, then best suggestion first." in page
    assert "Customer 000 Holdings" in page
    assert "The reference names invoice INV-00001." in page
    assert 'data-shortcut="apply"' in page
    assert 'data-shortcut="review"' in page
    assert 'data-shortcut="search"' in page
    assert "<kbd>j</kbd> / <kbd>k</kbd>" in page


def test_queue_rows_escape_what_banks_send(ui, org):
    """Rows are rendered by Jinja2 with autoescaping: a payer name or reference is text."""
    book(org, 1)
    Payment.objects.for_org(org).update(
        payer_name='<script>alert("x")</script>', payer_reference="<b>INV & co</b>"
    )
    page = ui.get(reverse("payments:review")).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;b&gt;INV &amp; co&lt;/b&gt;" in page


def test_applying_the_first_suggestion_updates_the_row_and_says_what_changed(ui, org):
    [invoice] = book(org, 1)
    payment = Payment.objects.for_org(org).get()
    response = ui.post(reverse("payments:apply", args=[payment.pk, 1]), **HTMX, **csrf(ui))
    assert response.status_code == 200
    row = text(response)
    assert row.startswith(f'<article class="review-item flash" id="payment-{payment.pk}"')
    assert "<li>Payment: Unmatched → Applied</li>" in row
    assert "<li>Applied: $0.00 → $100.00</li>" in row
    assert "<li>INV-00000: due $100.00 → $0.00 (Pending → Paid)</li>" in row
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.applied_amount) == ("applied", Decimal("100.00"))
    assert (invoice.status, invoice.amount_due) == ("paid", Decimal("0.00"))


def test_without_htmx_an_action_redirects_back_with_a_message(ui, org):
    book(org, 1)
    payment = Payment.objects.for_org(org).get()
    response = ui.post(
        reverse("payments:apply", args=[payment.pk, 1]),
        {"next": "/payments/review/?status=unmatched"},
        **csrf(ui),
    )
    assert response.status_code == 302
    assert response["Location"] == "/payments/review/?status=unmatched"
    page = text(ui.get(response["Location"]))
    assert "Payment: Unmatched → Applied" in page


def test_splitting_a_payment_over_two_invoices(ui, org):
    _, first = customer_with_invoices(org, 1)
    _, second = customer_with_invoices(org, 2)
    from tests.payments.factories import make_payment

    payment = make_payment(org, amount="150.00", payer_name="Somebody")
    response = ui.post(
        reverse("payments:allocate", args=[payment.pk]),
        {"invoice_id": [str(first.pk), str(second.pk)], "amount": ["100.00", "50"]},
        **HTMX,
        **csrf(ui),
    )
    row = text(response)
    assert "<li>INV-00001: due $100.00 → $0.00 (Pending → Paid)</li>" in row
    assert "<li>INV-00002: due $100.00 → $50.00 (Pending → Partially paid)</li>" in row
    assert "<li>Payment: Unmatched → Applied</li>" in row
    payment.refresh_from_db()
    assert payment.applied_amount == Decimal("150.00")
    assert sorted(a.amount for a in payment.allocations.all()) == [
        Decimal("50.00"),
        Decimal("100.00"),
    ]


def test_a_split_over_the_payment_amount_is_refused_in_the_row(ui, org):
    _, first = customer_with_invoices(org, 1)
    _, second = customer_with_invoices(org, 2)
    from tests.payments.factories import make_payment

    payment = make_payment(org, amount="120.00")
    response = ui.post(
        reverse("payments:allocate", args=[payment.pk]),
        {"invoice_id": [str(first.pk), str(second.pk)], "amount": ["100.00", "50.00"]},
        **HTMX,
        **csrf(ui),
    )
    assert response.status_code == 200
    assert "more than the payment" in text(response)
    assert 'role="alert"' in text(response)
    payment.refresh_from_db()
    assert payment.applied_amount == Decimal("0.00")


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        (["abc"], "Row 1: “abc” is not an amount."),
        (["1.234"], "Row 1: At most two decimal places."),
        (["-5"], "Row 1: Must be greater than zero."),
    ],
)
def test_split_amounts_are_validated(ui, org, amounts, message):
    _, invoice = customer_with_invoices(org, 1)
    from tests.payments.factories import make_payment

    payment = make_payment(org, amount="100.00")
    response = ui.post(
        reverse("payments:allocate", args=[payment.pk]),
        {"invoice_id": [str(invoice.pk)], "amount": amounts},
        **HTMX,
        **csrf(ui),
    )
    assert message in response.content.decode()


def test_unapply_and_write_off_and_mark_reviewed(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    from tests.payments.factories import make_payment

    payment = make_payment(org, amount="99.50")
    headers = {**HTMX, **csrf(ui)}
    ui.post(
        reverse("payments:allocate", args=[payment.pk]),
        {"invoice_id": [str(invoice.pk)], "amount": ["99.50"]},
        **headers,
    )
    row = text(ui.get(reverse("payments:review")))
    assert "Write off $0.50 short" in row

    written = text(ui.post(reverse("payments:write-off", args=[payment.pk]), **headers))
    assert "<li>Written off: $0.00 → $0.50</li>" in written
    assert "<li>INV-00001: due $0.50 → $0.00 (Partially paid → Paid)</li>" in written

    undone = text(
        ui.post(
            reverse("payments:unapply", args=[payment.pk]),
            {"invoice_id": str(invoice.pk)},
            **headers,
        )
    )
    assert "<li>Payment: Applied → Unmatched</li>" in undone
    assert "<li>INV-00001: due $0.00 → $100.00 (Paid → Pending)</li>" in undone

    reviewed = text(ui.post(reverse("payments:review-mark", args=[payment.pk]), **headers))
    assert re.search(r"<li>Marked reviewed and approved \d+ accounting changes</li>", reviewed)
    assert "Undo reviewed" in reviewed
    assert "payment-" not in text(ui.get(reverse("payments:review")))


def test_invoice_search_finds_open_invoices_by_number_or_customer(ui, org):
    _, invoice = customer_with_invoices(org, 7)
    customer_with_invoices(org, 8)
    from tests.payments.factories import make_payment

    payment = make_payment(org)
    url = reverse("payments:invoice-search", args=[payment.pk])
    by_number = text(ui.get(url + "?q=inv-00007"))
    assert f'data-invoice-id="{invoice.pk}"' in by_number
    assert "INV-00008" not in by_number
    by_customer = text(ui.get(url + "?q=Customer 008"))
    assert "INV-00008" in by_customer
    assert "No open invoice matches “zzz”." in text(ui.get(url + "?q=zzz"))


# --- import ---------------------------------------------------------------------------------

BANK_CSV = b"""Date,Amount,Payer,Reference
2026-11-20,100.00,Customer 001 Holdings,Payment INV-00001
2026-11-21,-20.00,Bank fee,Monthly fee
2026-11-22,abc,Broken Line,INV-9
"""


def test_importing_a_bank_file_shows_the_outcome_and_leads_to_review(
    ui, org, django_capture_on_commit_callbacks
):
    customer_with_invoices(org, 1)
    headers = csrf(ui)
    with django_capture_on_commit_callbacks(execute=True):
        response = ui.post(
            reverse("payments:import"),
            {"file": SimpleUploadedFile("november.csv", BANK_CSV, content_type="text/csv")},
            **headers,
        )
    payment_import = PaymentImport.objects.for_org(org).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("payments:import-detail", args=[payment_import.pk])
    page = text(ui.get(response["Location"]))
    assert "Finished" in page
    assert '<dd class="stat-value" data-count="created">1</dd>' in page
    assert '<dd class="stat-value" data-count="rejected">1</dd>' in page
    assert "line 4: amount &#x27;abc&#x27; is not a number" in page
    assert f"/payments/review/?import_id={payment_import.pk}" in page
    queue = text(ui.get(f"/payments/review/?import_id={payment_import.pk}"))
    assert "1 unreviewed payment</span>, unmatched first" in queue


def test_a_file_that_is_not_a_bank_file_is_refused_on_the_form(ui):
    response = ui.post(
        reverse("payments:import"),
        {"file": SimpleUploadedFile("x.json", b'{"a": 1}', content_type="application/json")},
        **csrf(ui),
    )
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert "not a bank file" in text(response)


def test_import_progress_polls_while_running(ui, org):
    payment_import = PaymentImport.objects.create(
        organization=org, filename="big.csv", data=b"", status="running", total=10, processed=4
    )
    fragment = text(ui.get(reverse("payments:import-detail", args=[payment_import.pk]), **HTMX))
    assert 'hx-trigger="every 1s"' in fragment
    assert "4 of 10 lines processed" in fragment
    assert "<html" not in fragment


# --- accounting changes ---------------------------------------------------------------------


def _applied_changes(org, size=2):
    book(org, size)
    from payments import services as payment_services

    for payment in Payment.objects.for_org(org):
        payment_services.payment_update(
            organization=org,
            payment_id=payment.pk,
            invoice_id=uuid.UUID(payment.suggestions.first().invoice_ids[0]),
        )
    return list(
        AccountingChange.objects.for_org(org)
        .filter(status="pending", change_type="payment_applied")
        .order_by("sequence")
    )


def test_approving_many_changes_at_once(ui, org, clerk):
    changes = _applied_changes(org)
    response = ui.post(
        reverse("reconciliation:change-action"),
        {"action": "approve", "status": "pending", "change_ids": [str(c.pk) for c in changes]},
        **csrf(ui),
    )
    assert response.status_code == 302
    page = text(ui.get(response["Location"]))
    assert "Approved 2 changes." in page
    assert {c.status for c in AccountingChange.objects.filter(pk__in=[c.pk for c in changes])} == {
        "approved"
    }
    assert AccountingChange.objects.get(pk=changes[0].pk).decided_by == "alice"


def test_rejecting_a_change_with_a_reason_and_retrying_a_failed_one(ui, org):
    changes = _applied_changes(org)
    ui.post(
        reverse("reconciliation:change-action"),
        {"action": "reject", "change_ids": [str(changes[0].pk)], "reason": "wrong customer"},
        **csrf(ui),
    )
    rejected = AccountingChange.objects.get(pk=changes[0].pk)
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "wrong customer")
    from reconciliation import services as reconciliation_services

    reconciliation_services.changes_approve(organization=org, change_ids=[changes[1].pk])
    reconciliation_services.changes_sync_status(
        organization=org, action="mark_failed", change_ids=[changes[1].pk], error_message="GL down"
    )
    failed_page = text(ui.get(reverse("reconciliation:changes") + "?status=failed"))
    assert "GL down" in failed_page
    assert 'value="retry"' in failed_page
    ui.post(
        reverse("reconciliation:change-action"),
        {"action": "retry", "status": "failed", "change_ids": [str(changes[1].pk)]},
        **csrf(ui),
    )
    assert AccountingChange.objects.get(pk=changes[1].pk).status == "approved"


def test_a_change_in_the_wrong_status_is_reported_not_changed(ui, org):
    changes = _applied_changes(org, 1)
    from reconciliation import services as reconciliation_services

    reconciliation_services.changes_approve(organization=org, change_ids=[changes[0].pk])
    response = ui.post(
        reverse("reconciliation:change-action"),
        {"action": "approve", "change_ids": [str(changes[0].pk)]},
        **csrf(ui),
        follow=True,
    )
    page = text(response)
    assert "Approved 0 changes." in page
    assert "left alone" in page


# --- dashboard ------------------------------------------------------------------------------


def test_dashboard_numbers_link_to_their_lists(ui, org):
    book(org, 3)
    page = text(ui.get("/"))
    assert '<a class="kpi" href="/invoices/?open=1" data-kpi="open">' in page
    assert "$300.00" in page
    assert 'href="/invoices/?status=overdue"' in page
    assert 'href="/payments/review/?status=unmatched"' in page
    assert 'href="/changes/?status=pending"' in page
    assert 'href="/changes/?status=failed"' in page
    for key in ["current", "1-30", "31-60", "61-90", "90+"]:
        assert f'href="/invoices/?aging={key}"' in page


def test_aging_links_filter_the_invoice_list(ui, org):
    book(org, 3)  # due today, 20 and 40 days ago
    current = text(ui.get("/invoices/?aging=current"))
    assert "INV-00000" in current
    assert "INV-00001" not in current
    late = text(ui.get("/invoices/?aging=1-30"))
    assert "INV-00001" in late
    assert "INV-00000" not in late
    assert "INV-00002" in text(ui.get("/invoices/?aging=31-60"))


# --- webhooks -------------------------------------------------------------------------------


def test_registering_an_endpoint_shows_its_secret_once(admin_ui, org, settings):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    response = admin_ui.post(
        reverse("webhooks:list"),
        {"url": "http://127.0.0.1:9/hooks", "description": "ERP", "events": ["invoice.paid"]},
        **csrf(admin_ui),
    )
    endpoint = WebhookEndpoint.objects.for_org(org).get()
    assert response["Location"] == reverse("webhooks:detail", args=[endpoint.pk])
    assert endpoint.events == ["invoice.paid"]
    first = text(admin_ui.get(response["Location"]))
    assert endpoint.secret in first
    assert "shown only this once" in first
    assert endpoint.secret not in text(admin_ui.get(response["Location"]))


def test_an_endpoint_needs_events_and_a_valid_url(admin_ui, org):
    response = admin_ui.post(reverse("webhooks:list"), {"url": "not a url"}, **csrf(admin_ui))
    assert response.status_code == 400
    page = text(response)
    assert "Enter a valid URL." in page
    assert "Choose every event type or at least one." in page
    assert not WebhookEndpoint.objects.for_org(org).exists()


def test_redelivering_swaps_the_delivery_row(admin_ui, org, endpoint):
    from webhooks import services as webhook_services

    webhook_services.endpoint_send_test(endpoint=endpoint)
    delivery = WebhookDelivery.objects.for_org(org).get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    response = admin_ui.post(
        reverse("webhooks:redeliver", args=[endpoint.pk, delivery.pk]), **HTMX, **csrf(admin_ui)
    )
    row = text(response)
    assert row.startswith(f'<tr id="delivery-{delivery.pk}" class="flash">')
    delivery.refresh_from_db()
    assert delivery.status in ("pending", "failed")
    assert delivery.attempt_count <= 1


# --- money ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("0"), "EUR", "€0.00"),
        (Decimal("-12"), "GBP", "\u2212£12.00"),
        (Decimal("1000000.005"), "CAD", "CAD 1,000,000.01"),
        (None, "USD", "—"),
    ],
)
def test_money_is_shown_in_the_organization_currency_with_two_decimals(value, currency, shown):
    assert format_money(value, currency) == shown


def test_pages_use_the_organization_currency(ui, org):
    org.currency = "EUR"
    org.save()
    customer_with_invoices(org, 1)
    assert "€100.00" in text(ui.get(reverse("receivables:invoices")))


def test_a_cached_queue_row_shows_balances_changed_elsewhere(ui, org):
    [invoice] = book(org, 1)
    payment = Payment.objects.for_org(org).get()
    first = text(ui.get(reverse("payments:review")))
    assert "due $100.00" in first
    assert 'data-shortcut="apply"' in first
    # Another payment pays the suggested invoice, outside this page.
    from payments import services as payment_services
    from tests.payments.factories import make_payment

    other = make_payment(org, amount="100.00")
    payment_services.payment_update(organization=org, payment_id=other.pk, invoice_id=invoice.pk)
    again = text(ui.get(reverse("payments:review")))
    row = again[again.index(f'id="payment-{payment.pk}"') :]
    assert "due $0.00" not in row.split("</article>")[0]
    assert "1 suggestion no longer fits: its invoice was paid or closed since." in row
    assert 'data-shortcut="apply"' not in row.split("</article>")[0]
