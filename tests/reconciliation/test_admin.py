"""Admin of accounting changes and sync targets: actions go through the services."""

import pytest
from django.urls import reverse

from reconciliation.models import AccountingChange
from tests.reconciliation.factories import make_change

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:reconciliation_accountingchange_changelist"


def _act(admin_client, action, changes):
    return admin_client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [str(change.pk) for change in changes]},
        follow=True,
    )


def test_changelist_filters_and_searches_by_invoice_number_and_customer(admin_client, org, invoice):
    make_change(org, invoice=invoice, change_type="invoice_changed", amount="5.00")
    only_changed = {"change_type__exact": "invoice_changed", "status__exact": "pending"}

    by_number = admin_client.get(reverse(CHANGELIST), {"q": "INV-1042", **only_changed})
    by_customer = admin_client.get(reverse(CHANGELIST), {"q": "acme", **only_changed})
    nothing = admin_client.get(reverse(CHANGELIST), {"q": "no-such-thing"})

    assert by_number.status_code == 200
    assert by_number.context["cl"].result_count == 1
    assert by_customer.context["cl"].result_count == 1
    assert nothing.context["cl"].result_count == 0


def test_admin_actions_approve_reject_and_retry_through_the_services(admin_client, org, invoice):
    to_approve = make_change(org, invoice=invoice)
    to_reject = make_change(org, invoice=invoice)
    failed = make_change(org, invoice=invoice, status="failed")

    approved = _act(admin_client, "approve", [to_approve, failed])
    _act(admin_client, "reject", [to_reject])
    _act(admin_client, "retry", [failed])

    statuses = dict(
        AccountingChange.objects.filter(
            pk__in=[to_approve.pk, to_reject.pk, failed.pk]
        ).values_list("pk", "status")
    )
    assert statuses == {to_approve.pk: "approved", to_reject.pk: "rejected", failed.pk: "approved"}
    to_approve.refresh_from_db()
    assert to_approve.decided_by == "admin:admin"
    messages = [str(message) for message in approved.context["messages"]]
    assert "Approved 1 change(s)." in messages
    assert any("wrong status: failed" in message for message in messages)


def test_change_page_is_read_only(admin_client, org, invoice):
    change = make_change(org, invoice=invoice)

    response = admin_client.get(
        reverse("admin:reconciliation_accountingchange_change", args=[change.pk])
    )

    assert response.status_code == 200
    assert b"INV-1042" in response.content


def test_sync_target_admin_lists_and_rotates(admin_client, target):
    old_secret = target.secret

    listed = admin_client.get(reverse("admin:reconciliation_synctarget_changelist"))
    admin_client.post(
        reverse("admin:reconciliation_synctarget_changelist"),
        {"action": "rotate_secret", "_selected_action": [str(target.pk)]},
    )

    assert listed.status_code == 200
    target.refresh_from_db()
    assert target.secret != old_secret
    assert target.previous_secret == old_secret
