"""The accounting-changes pages and the dashboard's pending changes, through the Django test
client: rejecting needs a reason and a confirmation and says what it undid, each change shows
its payment, payer and ledger lines, the type filter survives actions, a banner says when no
sync target takes approved changes, and the dashboard counts pending changes by kind."""

import re
import uuid

import pytest
from django.urls import reverse

from payments.models import Payment
from reconciliation import services as reconciliation_services
from reconciliation.models import AccountingChange
from tests.factories import make_change
from tests.ui.builders import book

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
CHANGES = "/changes/"


def csrf(client) -> dict:
    client.get(reverse("reconciliation:dashboard"))
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


def applied_changes(org, size=2) -> list[AccountingChange]:
    """``size`` payments each applied to its invoice: one pending ``payment_applied`` each."""
    from payments import services as payment_services

    book(org, size)
    for payment in Payment.objects.for_org(org).order_by("payer_name"):
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


# --- reject: reason, confirmation, what it undid --------------------------------------------


def test_the_reject_button_asks_for_a_confirmation_first(ui, org):
    change = applied_changes(org, 1)[0]

    response = ui.post(
        reverse("reconciliation:change-reject-confirm"),
        {"change_ids": [str(change.pk)], "status": "pending", "change_type": "payment_applied"},
        **csrf(ui),
    )

    assert response.status_code == 200
    page = text(response)
    assert '<h1 id="reject-title">Reject 1 change?</h1>' in page
    assert (
        "Unapplies $100.00 of the payment from Customer 000 Holdings from invoice INV-00000: "
        "the invoice owes it again and the payment goes back to the review queue."
    ) in page
    assert '<label for="reject-reason">Reason for rejecting</label>' in page
    assert re.search(r'<textarea id="reject-reason" name="reason"[^>]* required', page)
    assert '<input type="hidden" name="change_type" value="payment_applied">' in page
    assert 'href="/changes/?status=pending&amp;change_type=payment_applied">Cancel</a>' in page
    change.refresh_from_db()
    assert change.status == "pending"


def test_the_confirmation_comes_bare_to_htmx_for_the_dialog(ui, org):
    change = applied_changes(org, 1)[0]

    response = ui.post(
        reverse("reconciliation:change-reject-confirm"),
        {"change_ids": [str(change.pk)], "status": "pending"},
        **csrf(ui),
        **HTMX,
    )

    page = text(response)
    assert "<html" not in page
    assert '<h2 id="reject-title">Reject 1 change?</h2>' in page
    assert '<button type="button" class="btn" data-dialog-close>Cancel</button>' in page


def test_the_list_offers_the_dialog_and_the_page(ui, org):
    applied_changes(org, 1)
    page = text(ui.get(CHANGES))
    assert 'formaction="/changes/reject"' in page
    assert 'hx-post="/changes/reject" hx-target="#reject-dialog-body"' in page
    assert (
        '<dialog id="reject-dialog" class="confirm-dialog" aria-labelledby="reject-title">' in page
    )
    assert 'src="/static/js/approvals.js"' in page


@pytest.mark.parametrize("reason", ["", "   "])
def test_rejecting_without_a_reason_is_refused(ui, org, reason):
    change = applied_changes(org, 1)[0]

    response = ui.post(
        reverse("reconciliation:change-action"),
        {"action": "reject", "change_ids": [str(change.pk)], "reason": reason},
        **csrf(ui),
    )

    assert response.status_code == 400
    page = text(response)
    assert (
        '<p class="field-error" id="reject-reason-err" role="alert">Give a reason for rejecting: '
        "it is kept with the changes and shown to others.</p>"
    ) in page
    assert 'aria-invalid="true"' in page
    change.refresh_from_db()
    assert change.status == "pending"
    payment = Payment.objects.get(pk=change.payment_id)
    assert payment.status == Payment.Status.APPLIED


def test_rejecting_a_payment_application_unapplies_it_and_says_so(ui, org):
    change = applied_changes(org, 1)[0]

    response = ui.post(
        reverse("reconciliation:change-action"),
        {
            "action": "reject",
            "status": "pending",
            "change_type": "payment_applied",
            "change_ids": [str(change.pk)],
            "reason": "wrong customer",
        },
        **csrf(ui),
    )

    assert response.status_code == 302
    assert response["Location"] == "/changes/?status=pending&change_type=payment_applied"
    page = text(ui.get(response["Location"]))
    assert (
        "Rejected 1 change. Undone in ARPilot: payment from Customer 000 Holdings unapplied "
        "from INV-00000 ($100.00)."
    ) in page
    change.refresh_from_db()
    assert (change.status, change.rejection_reason, change.decided_by) == (
        "rejected",
        "wrong customer",
        "alice",
    )
    assert Payment.objects.get(pk=change.payment_id).status == Payment.Status.UNMATCHED


def test_rejecting_an_invoice_change_undoes_nothing_in_arpilot(ui, org):
    change = make_change(org, change_type="invoice_created", amount="55.00")

    confirm = text(
        ui.post(
            reverse("reconciliation:change-reject-confirm"),
            {"change_ids": [str(change.pk)]},
            **csrf(ui),
        )
    )
    assert "Nothing changes in ARPilot; the ledger will not get this change." in confirm
    ui.post(
        reverse("reconciliation:change-action"),
        {"action": "reject", "change_ids": [str(change.pk)], "reason": "duplicate"},
        **csrf(ui),
    )
    page = text(ui.get(CHANGES + "?status=rejected"))
    assert "Rejected 1 change." in page
    assert "Undone in ARPilot" not in page
    assert "duplicate" in page


def test_the_confirmation_without_a_checked_change_goes_back_with_a_message(ui, org):
    response = ui.post(
        reverse("reconciliation:change-reject-confirm"),
        {"status": "failed", "change_type": "invoice_created"},
        **csrf(ui),
    )
    assert response.status_code == 302
    assert response["Location"] == "/changes/?status=failed&change_type=invoice_created"
    assert "Select at least one change." in text(ui.get(response["Location"]))

    htmx = ui.post(reverse("reconciliation:change-reject-confirm"), {}, **csrf(ui), **HTMX)
    assert (htmx.status_code, htmx["HX-Redirect"]) == (204, "/changes/?status=pending")


def test_the_confirmation_of_another_organizations_change_is_404(ui, other_org):
    theirs = make_change(other_org)
    response = ui.post(
        reverse("reconciliation:change-reject-confirm"),
        {"change_ids": [str(theirs.pk)]},
        **csrf(ui),
    )
    assert response.status_code == 404


# --- the list: payment, payer, ledger lines, filter, banner ---------------------------------


def test_each_change_shows_its_payment_payer_and_ledger_lines(ui, org):
    change = applied_changes(org, 1)[0]
    payment = Payment.objects.get(pk=change.payment_id)
    lines = change.payload["lines"]
    assert len(lines) == 2

    page = text(ui.get(CHANGES + "?status=pending&change_type=payment_applied"))

    assert (
        f'<a href="/payments/{payment.pk}/"><span class="sr-only">Payment from </span>Customer 000 Holdings</a>'
        in page
    )
    assert f"{payment.payment_date.isoformat()} · " in page
    assert "Payment for INV-00000 thanks" in page
    assert '<summary>Ledger lines <span class="sr-only">of change' in page
    for line in lines:
        assert f"{line['account_number']} {line['account_name']}" in page
    assert page.count('<span class="money">$100.00</span>') >= 3  # debit, credit, amount


def test_the_type_filter_survives_an_approval(ui, org):
    changes = applied_changes(org, 2)
    response = ui.post(
        reverse("reconciliation:change-action"),
        {
            "action": "approve",
            "status": "pending",
            "change_type": "payment_applied",
            "change_ids": [str(changes[0].pk)],
        },
        **csrf(ui),
    )
    assert response["Location"] == "/changes/?status=pending&change_type=payment_applied"
    page = text(ui.get(response["Location"]))
    assert '<option value="payment_applied" selected>Payment applied</option>' in page
    assert '<input type="hidden" name="change_type" value="payment_applied">' in page
    assert "Approved 1 change." in page
    assert (
        '<a href="?status=approved&amp;change_type=payment_applied">Approved '
        '<span class="count">1</span></a>'
    ) in page


def test_an_unknown_type_is_dropped_from_the_way_back(ui, org):
    change = make_change(org)
    response = ui.post(
        reverse("reconciliation:change-action"),
        {"action": "approve", "change_type": "nonsense", "change_ids": [str(change.pk)]},
        **csrf(ui),
    )
    assert response["Location"] == "/changes/?status=pending"


def test_a_banner_says_when_no_sync_target_is_configured(ui, org):
    page = text(ui.get(CHANGES))
    assert "No sync target is configured: approved changes stay here, approved," in page


def test_a_banner_says_when_the_sync_target_is_disabled(ui, org, settings):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True  # a loopback target, as in development
    reconciliation_services.sync_target_save(
        organization=org, url="http://127.0.0.1:9/ledger", enabled=False
    )
    page = text(ui.get(CHANGES))
    assert "The sync target is disabled" in page
    assert "No sync target is configured" not in page


def test_no_banner_with_an_enabled_sync_target(ui, org, settings):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    reconciliation_services.sync_target_save(
        organization=org, url="http://127.0.0.1:9/ledger", enabled=True
    )
    page = text(ui.get(CHANGES))
    assert "data-sync-banner" not in page


# --- dashboard ------------------------------------------------------------------------------


def test_the_dashboard_counts_pending_changes_by_kind_never_summing_them(ui, org):
    applied_changes(org, 2)  # two payments of $100.00 applied
    make_change(org, change_type="invoice_created", amount="700.00")
    make_change(org, change_type="invoice_voided", amount="50.00", status="approved")
    pending_invoices = AccountingChange.objects.for_org(org).filter(
        status="pending", change_type="invoice_created"
    )
    created = pending_invoices.count()

    page = text(ui.get("/"))

    kpi = re.search(r'data-kpi="pending">(.*?)</a>', page).group(1)
    assert f'<span class="kpi-value">{created + 2}</span>' in kpi
    assert f"2 payment changes · {created} invoice change{'s' if created != 1 else ''}" in kpi
    assert "$" not in kpi
    rows = dict(re.findall(r'<tr data-kind="(\w+)">(.*?)</tr>', page))
    assert set(rows) == {"payment_applied", "invoice_created"}
    assert (
        '<td class="num">2</td><td class="num"><span class="money">$200.00</span>'
        in (rows["payment_applied"])
    )
    assert (
        'href="/changes/?status=pending&amp;change_type=invoice_created"' in rows["invoice_created"]
    )
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\d">\d{4}-\d\d-\d\d</time>', page)


# --- query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 6])
def test_the_approval_pages_do_not_grow_with_rows(ui, org, size, django_assert_num_queries):
    changes = applied_changes(org, size)
    for index in range(size):
        make_change(org, change_type="invoice_created", amount=f"{index + 1}.00")
    headers = csrf(ui)
    # Session, user, memberships; then counts by type, aging, payment figures and totals.
    with django_assert_num_queries(7):
        assert ui.get("/").status_code == 200
    # + the filter's page count and rows, the tab counts, the sync target.
    with django_assert_num_queries(7):
        assert ui.get(CHANGES).status_code == 200
    # + the checked changes with their invoices, customers and payments.
    with django_assert_num_queries(4):
        response = ui.post(
            reverse("reconciliation:change-reject-confirm"),
            {"change_ids": [str(change.pk) for change in changes]},
            **headers,
        )
    assert response.status_code == 200
