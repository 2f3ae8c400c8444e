"""The accounting change lifecycle, through the services."""

import uuid
from decimal import Decimal

import pytest

from arpilot import hooks
from arpilot.errors import Conflict
from receivables import services as receivables_services
from reconciliation import services
from reconciliation.models import AccountingChange
from tests.reconciliation.factories import make_change
from webhooks import services as webhook_services
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

Status = AccountingChange.Status


def _last_change(org, **filters) -> AccountingChange:
    return AccountingChange.objects.for_org(org).filter(**filters).order_by("sequence").last()


def _lines(change):
    return [
        (line["account_number"], line["fund_name"], line["debit"], line["credit"])
        for line in change.payload["lines"]
    ]


# --- recording ------------------------------------------------------------------------------


def test_money_event_records_a_pending_change_with_what_the_ledger_needs(org, invoice):
    hooks.dispatch(
        hooks.MoneyMoved(
            organization=org,
            change_type="invoice_created",
            amount=Decimal("100.00"),
            invoice=invoice,
        )
    )

    change = _last_change(org, change_type="invoice_created", invoice=invoice)
    assert change.status == Status.PENDING
    assert change.amount == Decimal("100.00")
    assert change.customer_id == invoice.customer_id
    assert change.payment_id is None
    payload = change.payload
    assert payload["invoice_number"] == "INV-1042"
    assert payload["customer_name"] == "Acme Corp"
    assert payload["customer_external_id"] == "ACME-1"
    assert payload["currency"] == "USD"
    assert payload["date"] == invoice.issue_date.isoformat()
    assert payload["memo"] == "Invoice INV-1042 issued to Acme Corp"
    assert len(payload["journal_entry_ids"]) == 1
    # Exactly the issue entry ARPilot posted: Dr receivable / Cr revenue.
    assert _lines(change) == [
        (1100, "General Fund", "100.00", "0.00"),
        (4000, "General Fund", "0.00", "100.00"),
    ]


def test_offline_payment_change_carries_the_cash_entry(org, invoice):
    receivables_services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("30.00"))

    hooks.dispatch(
        hooks.MoneyMoved(
            organization=org,
            change_type="offline_payment",
            amount=Decimal("30.00"),
            invoice=invoice,
        )
    )

    change = _last_change(org, change_type="offline_payment")
    assert _lines(change) == [
        (1000, "General Fund", "30.00", "0.00"),
        (1100, "General Fund", "0.00", "30.00"),
    ]


def test_void_change_mirrors_the_issue(org, invoice):
    receivables_services.invoice_void(invoice=invoice)

    change = make_change(org, change_type="invoice_voided", invoice=invoice)

    assert sorted(_lines(change)) == [
        (1100, "General Fund", "0.00", "100.00"),
        (4000, "General Fund", "100.00", "0.00"),
    ]


def test_named_entries_and_payload_overrides_win(org, invoice):
    entry = invoice.journal_entries.get()

    change = make_change(
        org,
        change_type="invoice_changed",
        amount="0.00",
        invoice=invoice,
        payload={"journal_entry_id": str(entry.pk), "memo": "Lines moved", "source": "api"},
    )

    assert change.payload["journal_entry_ids"] == [str(entry.pk)]
    assert change.payload["memo"] == "Lines moved"
    assert change.payload["source"] == "api"
    assert len(change.payload["lines"]) == 2


def test_invoice_change_without_entries_gets_default_lines_signed_by_amount(org, invoice):
    change = make_change(org, change_type="invoice_changed", amount="-20.00", invoice=invoice)

    assert change.amount == Decimal("-20.00")
    assert _lines(change) == [
        (4000, "General Fund", "20.00", "0.00"),
        (1100, "General Fund", "0.00", "20.00"),
    ]


def test_sequence_orders_changes_within_the_organization(org, other_org, invoice, other_invoice):
    first = make_change(org, invoice=invoice)
    elsewhere = make_change(other_org, invoice=other_invoice, amount="50.00")
    second = make_change(org, invoice=invoice, change_type="invoice_changed", amount="5.00")

    assert first.sequence < second.sequence
    assert elsewhere.organization_id == other_org.pk


def test_unknown_change_type_is_refused(org, invoice):
    with pytest.raises(ValueError, match="Unknown accounting change type"):
        make_change(org, change_type="teleport", invoice=invoice)


def test_objects_of_another_organization_are_refused(org, other_invoice):
    with pytest.raises(ValueError, match="belong to its organization"):
        make_change(org, invoice=other_invoice)


def test_deleting_the_invoice_keeps_the_change_and_its_payload(org, invoice):
    change = make_change(org, invoice=invoice)

    receivables_services.invoice_delete(invoice=invoice)

    change.refresh_from_db()
    assert change.invoice_id is None
    assert change.payload["invoice_number"] == "INV-1042"


# --- approve --------------------------------------------------------------------------------


def test_approve_moves_pending_to_approved_and_emits_an_event(org, invoice, insecure, receiver):
    webhook_services.endpoint_create(
        organization=org, url=receiver.url, events=["accounting_change.approved"]
    )
    change = make_change(org, invoice=invoice)

    result = services.changes_approve(organization=org, change_ids=[change.pk])

    change.refresh_from_db()
    assert result.as_dict() == {"updated": [str(change.pk)], "skipped": []}
    assert change.status == Status.APPROVED
    assert change.approved_at is not None
    assert change.decided_by == "api"
    event = WebhookEvent.objects.get(event_type="accounting_change.approved")
    assert event.payload["data"]["id"] == str(change.pk)
    assert event.payload["data"]["status"] == "approved"


def test_approve_reports_what_it_skipped_and_why(org, other_org, invoice, other_invoice):
    pending = make_change(org, invoice=invoice)
    approved = make_change(org, invoice=invoice, status="approved")
    rejected = make_change(org, invoice=invoice, status="rejected")
    foreign = make_change(other_org, invoice=other_invoice)
    missing = uuid.uuid4()

    result = services.changes_approve(
        organization=org,
        change_ids=[missing, pending.pk, approved.pk, foreign.pk, rejected.pk, pending.pk],
    )

    assert result.as_dict() == {
        "updated": [str(pending.pk)],
        "skipped": [
            {"id": str(missing), "reason": "unknown id"},
            {"id": str(approved.pk), "reason": "wrong status: approved"},
            {"id": str(foreign.pk), "reason": "unknown id"},
            {"id": str(rejected.pk), "reason": "wrong status: rejected"},
        ],
    }
    foreign.refresh_from_db()
    assert foreign.status == Status.PENDING


# --- sync status, retry ---------------------------------------------------------------------


def test_mark_synced_takes_approved_and_failed_changes(org, invoice):
    approved = make_change(org, invoice=invoice, status="approved")
    failed = make_change(org, invoice=invoice, status="failed")
    pending = make_change(org, invoice=invoice)

    result = services.changes_sync_status(
        organization=org, action="mark_synced", change_ids=[approved.pk, failed.pk, pending.pk]
    )

    assert result.updated == [approved.pk, failed.pk]
    assert result.skipped == [{"id": str(pending.pk), "reason": "wrong status: pending"}]
    for change in (approved, failed):
        change.refresh_from_db()
        assert change.status == Status.SYNCED
        assert change.synced_at is not None
        assert change.error_message == ""


def test_mark_failed_keeps_the_error_and_counts_an_attempt(org, invoice):
    approved = make_change(org, invoice=invoice, status="approved")
    synced = make_change(org, invoice=invoice, status="synced")

    result = services.changes_sync_status(
        organization=org,
        action="mark_failed",
        change_ids=[approved.pk, synced.pk],
        error_message="  Account 4000 is closed  ",
    )

    approved.refresh_from_db()
    assert result.updated == [approved.pk]
    assert result.skipped == [{"id": str(synced.pk), "reason": "wrong status: synced"}]
    assert approved.status == Status.FAILED
    assert approved.error_message == "Account 4000 is closed"
    assert approved.attempts == 1
    assert approved.failed_at is not None


def test_retry_puts_a_failed_change_back_in_the_queue(org, invoice):
    failed = make_change(org, invoice=invoice, status="failed")

    services.change_retry(change=failed)

    failed.refresh_from_db()
    assert failed.status == Status.APPROVED
    assert failed.attempts == 0
    assert failed.error_message == ""
    assert failed.failed_at is None


def test_only_a_failed_change_can_be_retried(org, invoice):
    approved = make_change(org, invoice=invoice, status="approved")

    with pytest.raises(Conflict, match="this one is approved"):
        services.change_retry(change=approved)


def test_batch_retry_skips_changes_that_did_not_fail(org, invoice):
    failed = make_change(org, invoice=invoice, status="failed")
    synced = make_change(org, invoice=invoice, status="synced")

    result = services.changes_retry(organization=org, change_ids=[failed.pk, synced.pk])

    assert result.updated == [failed.pk]
    assert result.skipped == [{"id": str(synced.pk), "reason": "wrong status: synced"}]


# --- reject ---------------------------------------------------------------------------------


def test_reject_takes_pending_and_failed_changes(org, invoice):
    pending = make_change(org, invoice=invoice)
    failed = make_change(org, invoice=invoice, status="failed")
    approved = make_change(org, invoice=invoice, status="approved")

    result = services.changes_reject(
        organization=org, change_ids=[pending.pk, failed.pk, approved.pk], reason="Duplicate"
    )

    assert result.updated == [pending.pk, failed.pk]
    assert result.skipped == [{"id": str(approved.pk), "reason": "wrong status: approved"}]
    pending.refresh_from_db()
    assert pending.status == Status.REJECTED
    assert pending.rejection_reason == "Duplicate"
    assert pending.rejected_at is not None


def test_database_refuses_a_status_without_its_timestamp(org, invoice):
    from django.db import IntegrityError, transaction

    change = make_change(org, invoice=invoice)
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountingChange.objects.filter(pk=change.pk).update(status="synced")


def test_the_payload_date_is_the_ledger_entry_date(org, customer):
    from datetime import date, timedelta

    from tests.receivables.factories import make_invoice

    issued = date.today() - timedelta(days=40)
    old_invoice = make_invoice(org, customer=customer, issue_date=issued, due_in_days=60)

    change = make_change(org, invoice=old_invoice)

    assert change.payload["date"] == issued.isoformat()


def test_the_receivers_and_the_beat_entry_are_configured(settings):
    receivers = settings.ARPILOT_HOOK_RECEIVERS
    assert receivers["MoneyMoved"] == ["reconciliation.receivers.money_moved"]
    assert receivers["PaymentReviewed"] == ["reconciliation.receivers.payment_reviewed"]
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "reconciliation.tasks.sync_due" in beat
