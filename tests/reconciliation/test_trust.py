"""What a GL integration and an auditor rely on: the pull cursor follows approval order, a
rejected change takes its money back, and maker-checker keeps a user from approving their own
change."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from arpilot import services as org_services
from arpilot.models import Membership
from payments import services as payment_services
from receivables import services as receivable_services
from receivables.models import Invoice, InvoiceOfflinePayment, JournalEntry
from reconciliation import services
from reconciliation.models import AccountingChange
from tests.reconciliation.factories import make_change

pytestmark = pytest.mark.django_db

CHANGES = "/api/v1/reconciliation/changes"
Status = AccountingChange.Status


def _pull(api, cursor: int) -> tuple[list[str], int]:
    """One pull by cursor as an integration does it: (ids, the next cursor)."""
    data = api.get(CHANGES, {"sequence_after": cursor, "per_page": 100}).json()["data"]
    return [item["id"] for item in data], max(
        [cursor, *(item["approval_sequence"] for item in data)]
    )


# --- the pull cursor ------------------------------------------------------------------------


def test_a_change_approved_after_a_later_one_is_not_skipped_by_the_cursor(api, org, invoice):
    early = make_change(org, invoice=invoice)
    late = make_change(org, invoice=invoice, change_type="invoice_changed", amount="5.00")
    services.changes_approve(organization=org, change_ids=[late.pk])
    first_pull, cursor = _pull(api, 0)

    services.changes_approve(organization=org, change_ids=[early.pk])
    second_pull, cursor = _pull(api, cursor)

    assert first_pull == [str(late.pk)]
    assert second_pull == [str(early.pk)]
    assert _pull(api, cursor)[0] == []
    early.refresh_from_db()
    late.refresh_from_db()
    assert early.sequence < late.sequence
    assert early.approval_sequence > late.approval_sequence


def test_pending_changes_have_no_approval_sequence_yet(api, org, invoice):
    make_change(org, invoice=invoice)

    items = api.get(CHANGES, {"status": "pending"}).json()["data"]

    assert len(items) == 2  # the invoice's own creation and this one
    assert [item["approval_sequence"] for item in items] == [None, None]


# --- rejecting reverses the money -------------------------------------------------------------


def _offline_change(org, invoice, amount="30.00"):
    receivable_services.invoice_record_offline_payment(invoice=invoice, amount=Decimal(amount))
    return AccountingChange.objects.get(invoice=invoice, change_type="offline_payment")


def test_rejecting_an_offline_payment_change_restores_the_balance_with_a_ledger_reversal(
    api, org, invoice
):
    change = _offline_change(org, invoice)
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("70.00")

    response = api.post(
        "/api/v1/reconciliation/reject",
        {"change_ids": [str(change.pk)], "reason": "customer never paid"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["data"]["updated"] == [str(change.pk)]
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    offline = InvoiceOfflinePayment.objects.get(invoice=invoice)
    assert offline.reversed_at is not None
    assert offline.reversal_reason == "customer never paid"
    change.refresh_from_db()
    assert change.status == Status.REJECTED
    offset = AccountingChange.objects.get(invoice=invoice, change_type="payment_unapplied")
    assert offset.status == Status.REJECTED
    entries = JournalEntry.objects.filter(invoice=invoice)
    assert entries.count() == 3  # issue, offline payment, its reversal


def test_a_write_off_or_unapplication_cannot_be_rejected_alone(org, invoice):
    write_off = make_change(org, invoice=invoice, change_type="write_off", amount="1.00")
    unapplied = make_change(org, invoice=invoice, change_type="payment_unapplied", amount="9.00")

    result = services.changes_reject(organization=org, change_ids=[write_off.pk, unapplied.pk])

    assert result.updated == []
    assert [item["reason"] for item in result.skipped] == [
        "a write-off is rejected with the payment application it belongs to",
        "the money was already taken back in ARPilot; approve this change so the ledger "
        "follows, or apply the payment again",
    ]


# --- maker-checker ----------------------------------------------------------------------------


def _member(org, username, role=Membership.Role.CLERK):
    user = get_user_model().objects.create_user(username, password="x" * 12)
    org_services.membership_add(organization=org, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def maker_checker(org):
    org.maker_checker = True
    org.save(update_fields=["maker_checker"])
    return org


def _payment(org, amount="100.00"):
    return payment_services.payment_create(
        organization=org,
        amount=Decimal(amount),
        payment_date=date.today(),
        payer_name="Someone Else",
        payer_reference="no reference",
    )


def test_with_maker_checker_a_clerk_cannot_approve_the_change_they_caused(maker_checker, invoice):
    org = maker_checker
    maker = _member(org, "maker")
    checker = _member(org, "checker")
    payment = _payment(org)
    maker.post(
        f"/payments/{payment.pk}/allocate",
        {"invoice_id": [str(invoice.pk)], "amount": ["100.00"]},
    )
    change = AccountingChange.objects.get(payment=payment, change_type="payment_applied")
    assert change.caused_by == f"user:{get_user_model().objects.get(username='maker').pk}"

    maker.post(
        "/changes/action",
        {"action": "approve", "change_ids": [str(change.pk)], "status": "pending"},
    )
    change.refresh_from_db()
    assert change.status == Status.PENDING

    checker.post(
        "/changes/action",
        {"action": "approve", "change_ids": [str(change.pk)], "status": "pending"},
    )
    change.refresh_from_db()
    assert change.status == Status.APPROVED
    assert change.decided_by == "checker"


def test_with_maker_checker_off_the_maker_may_approve(org, invoice):
    maker = _member(org, "maker")
    payment = _payment(org)
    maker.post(
        f"/payments/{payment.pk}/allocate",
        {"invoice_id": [str(invoice.pk)], "amount": ["100.00"]},
    )
    change = AccountingChange.objects.get(payment=payment, change_type="payment_applied")

    maker.post(
        "/changes/action",
        {"action": "approve", "change_ids": [str(change.pk)], "status": "pending"},
    )

    change.refresh_from_db()
    assert change.status == Status.APPROVED


def test_with_maker_checker_an_api_key_cannot_approve_its_own_change(maker_checker, api, invoice):
    org = maker_checker
    payment = _payment(org)
    api.patch(f"/api/v1/payments/{payment.pk}", {"invoice_id": str(invoice.pk)}, format="json")
    change = AccountingChange.objects.get(payment=payment, change_type="payment_applied")

    response = api.post(
        "/api/v1/reconciliation/approve", {"change_ids": [str(change.pk)]}, format="json"
    )

    assert response.json()["data"]["skipped"] == [
        {
            "id": str(change.pk),
            "reason": "maker-checker: you made this change, another user must approve it",
        }
    ]
    other = org_services.api_key_create(organization=org, name="checker")[1]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {other}")
    response = api.post(
        "/api/v1/reconciliation/approve", {"change_ids": [str(change.pk)]}, format="json"
    )
    assert response.json()["data"]["updated"] == [str(change.pk)]


def test_with_maker_checker_reviewing_ones_own_application_leaves_its_change_pending(
    maker_checker, invoice
):
    org = maker_checker
    maker = _member(org, "maker")
    payment = _payment(org)
    maker.post(
        f"/payments/{payment.pk}/allocate",
        {"invoice_id": [str(invoice.pk)], "amount": ["100.00"]},
    )

    maker.post(f"/payments/{payment.pk}/reviewed", {"reviewed": "true"})

    change = AccountingChange.objects.get(payment=payment, change_type="payment_applied")
    assert change.status == Status.PENDING
    assert Invoice.objects.get(pk=invoice.pk).amount_due == Decimal("0.00")
