"""A refund of customer credit (``payments.services.credit.credit_refund``) records a
``refund`` accounting change. The money went out to the customer: rejecting the change alone
would leave ARPilot and the ledger apart, so it is refused with the way out (approve it)."""

from decimal import Decimal

import pytest

from payments.services import credit
from reconciliation import services
from reconciliation.models import AccountingChange
from tests.factories import make_payment

pytestmark = pytest.mark.django_db

Status = AccountingChange.Status
REFUSAL = (
    "the refund was already paid out of the customer's credit in ARPilot; approve this change "
    "so the ledger follows"
)


def refund_change(org, customer, amount="30.00") -> AccountingChange:
    """A payment of 100.00 assigned to ``customer``, ``amount`` of it refunded: the change."""
    payment = make_payment(org, amount="100.00")
    credit.payment_customer_assign(organization=org, payment_id=payment.pk, customer_id=customer.pk)
    refund = credit.credit_refund(
        organization=org, customer_id=customer.pk, payment_id=payment.pk, amount=Decimal(amount)
    )
    change = refund.accounting_change
    assert (change.change_type, change.status) == ("refund", Status.PENDING)
    return change


def test_a_refund_change_is_not_rejected_alone(org, customer):
    change = refund_change(org, customer)

    result = services.changes_reject(organization=org, change_ids=[change.pk], reason="No")

    assert result.as_dict() == {
        "updated": [],
        "skipped": [{"id": str(change.pk), "reason": REFUSAL}],
    }
    change.refresh_from_db()
    assert (change.status, change.rejection_reason) == (Status.PENDING, "")
    change.payment.refresh_from_db()
    assert change.payment.refunded_amount == Decimal("30.00")


def test_a_failed_refund_change_is_not_rejected_either(org, customer):
    change = refund_change(org, customer)
    services.changes_approve(organization=org, change_ids=[change.pk])
    services.changes_sync_status(
        organization=org, action="mark_failed", change_ids=[change.pk], error_message="boom"
    )

    result = services.changes_reject(organization=org, change_ids=[change.pk])

    assert result.skipped == [{"id": str(change.pk), "reason": REFUSAL}]
    change.refresh_from_db()
    assert change.status == Status.FAILED


def test_rejecting_through_the_api_skips_the_refund_and_rejects_the_rest(
    api, org, customer, invoice
):
    change = refund_change(org, customer)
    created = AccountingChange.objects.for_org(org).get(
        change_type="invoice_created", invoice=invoice
    )

    response = api.post(
        "/api/v1/reconciliation/reject",
        {"change_ids": [str(change.pk), str(created.pk)], "reason": "Typo"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "updated": [str(created.pk)],
            "skipped": [{"id": str(change.pk), "reason": REFUSAL}],
        }
    }
    change.refresh_from_db()
    assert change.status == Status.PENDING


def test_a_refund_change_is_approved_like_any_other(org, customer):
    change = refund_change(org, customer)

    result = services.changes_approve(organization=org, change_ids=[change.pk])

    assert result.updated == [change.pk]
    change.refresh_from_db()
    assert change.status == Status.APPROVED


def test_another_organization_cannot_touch_the_refund_change(other_api, org, customer):
    change = refund_change(org, customer)

    rejected = other_api.post(
        "/api/v1/reconciliation/reject", {"change_ids": [str(change.pk)]}, format="json"
    )
    shown = other_api.get(f"/api/v1/reconciliation/changes/{change.pk}")

    assert rejected.json()["data"]["skipped"] == [{"id": str(change.pk), "reason": "unknown id"}]
    assert shown.status_code == 404
    change.refresh_from_db()
    assert change.status == Status.PENDING
