"""Accounting changes made by the payments app: review approves, rejecting unapplies."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from arpilot import hooks
from reconciliation import services
from reconciliation.models import AccountingChange
from tests.receivables.factories import make_invoice

payment_services = pytest.importorskip("payments.services")
for _name in ("payment_create", "payment_update", "payment_mark_reviewed", "payment_unapply"):
    if not hasattr(payment_services, _name):
        pytest.skip(f"payments.services.{_name} is not there yet", allow_module_level=True)

pytestmark = pytest.mark.django_db

Status = AccountingChange.Status


def _payment(org, amount="100.00", reference="INV-1042"):
    return payment_services.payment_create(
        organization=org,
        amount=Decimal(amount),
        payment_date=date.today(),
        payer_name="Acme Corp",
        payer_reference=reference,
    )


def _apply(org, payment, invoice):
    return payment_services.payment_update(
        organization=org, payment_id=payment.pk, invoice_id=invoice.pk
    )


def _changes(payment, **filters):
    return list(AccountingChange.objects.filter(payment=payment, **filters).order_by("sequence"))


def test_applying_a_payment_records_a_pending_change_with_the_cash_entry(org, invoice):
    payment = _payment(org)

    _apply(org, payment, invoice)

    [change] = _changes(payment)
    assert change.change_type == "payment_applied"
    assert change.status == Status.PENDING
    assert change.amount == Decimal("100.00")
    assert change.invoice_id == invoice.pk
    assert change.customer_id == invoice.customer_id
    assert change.payload["payment_reference"] == "INV-1042"
    assert change.payload["payer_name"] == "Acme Corp"
    assert [
        (line["account_number"], line["debit"], line["credit"]) for line in change.payload["lines"]
    ] == [(1000, "100.00", "0.00"), (1100, "0.00", "100.00")]


def test_marking_the_payment_reviewed_approves_its_pending_changes(org, invoice):
    payment = _payment(org)
    _apply(org, payment, invoice)
    unrelated = services.change_record_from_event(
        hooks.MoneyMoved(
            organization=org, change_type="invoice_changed", amount=Decimal("1.00"), invoice=invoice
        )
    )

    payment_services.payment_mark_reviewed(organization=org, payment_id=payment.pk, reviewed=True)

    [change] = _changes(payment)
    assert change.status == Status.APPROVED
    assert change.decided_by == "payment review"
    unrelated.refresh_from_db()
    assert unrelated.status == Status.PENDING


def test_rejecting_an_application_unapplies_it_and_rejects_the_offsetting_change(org, invoice):
    payment = _payment(org)
    _apply(org, payment, invoice)
    [applied] = _changes(payment)

    result = services.changes_reject(organization=org, change_ids=[applied.pk], reason="Wrong")

    assert result.as_dict() == {"updated": [str(applied.pk)], "skipped": []}
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    assert payment.applied_amount == Decimal("0.00")
    assert payment.status == "unmatched"
    assert payment.unapplied_by_clerk is True
    applied, unapplied = _changes(payment)
    assert applied.status == Status.REJECTED
    assert applied.rejection_reason == "Wrong"
    assert unapplied.change_type == "payment_unapplied"
    assert unapplied.status == Status.REJECTED
    assert unapplied.rejection_reason.startswith(f"Offsets rejected change #{applied.sequence}")


def test_rejecting_an_application_already_undone_rejects_the_pair(org, invoice):
    payment = _payment(org)
    _apply(org, payment, invoice)
    payment_services.payment_unapply(organization=org, payment_id=payment.pk, by_clerk=True)
    applied, unapplied = _changes(payment)
    _apply(org, payment, invoice)  # applied again: that application must stay

    result = services.changes_reject(organization=org, change_ids=[applied.pk])

    assert result.updated == [applied.pk]
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("0.00")
    applied.refresh_from_db()
    unapplied.refresh_from_db()
    assert (applied.status, unapplied.status) == (Status.REJECTED, Status.REJECTED)
    assert _changes(payment)[-1].status == Status.PENDING


def test_an_application_whose_undo_reached_the_ledger_cannot_be_rejected(org, invoice):
    payment = _payment(org)
    _apply(org, payment, invoice)
    payment_services.payment_unapply(organization=org, payment_id=payment.pk, by_clerk=True)
    applied, unapplied = _changes(payment)
    services.changes_approve(organization=org, change_ids=[unapplied.pk])

    result = services.changes_reject(organization=org, change_ids=[applied.pk])

    assert result.updated == []
    assert result.skipped == [
        {
            "id": str(applied.pk),
            "reason": "cannot unapply: the application was already unapplied and that "
            "unapplication is not pending or failed",
        }
    ]


def test_rejecting_spreads_over_several_payments_in_one_request(org, customer):
    first_invoice = make_invoice(org, customer=customer, amount="40.00")
    second_invoice = make_invoice(org, customer=customer, amount="60.00")
    first, second = _payment(org, "40.00", "A"), _payment(org, "60.00", "B")
    _apply(org, first, first_invoice)
    _apply(org, second, second_invoice)
    ids = [_changes(second)[0].pk, _changes(first)[0].pk]

    result = services.changes_reject(organization=org, change_ids=ids)

    assert result.updated == ids  # in request order
    for invoice in (first_invoice, second_invoice):
        invoice.refresh_from_db()
        assert invoice.amount_due == invoice.amount


def test_a_written_off_short_payment_records_a_write_off_change(org, invoice):
    payment = _payment(org, "99.50")
    payment_services.payment_update(
        organization=org,
        payment_id=payment.pk,
        invoice_id=invoice.pk,
        write_off_short_payment=True,
    )

    applied, write_off = _changes(payment)

    assert (applied.change_type, applied.amount) == ("payment_applied", Decimal("99.50"))
    assert (write_off.change_type, write_off.amount) == ("write_off", Decimal("0.50"))
    debit, credit = write_off.payload["lines"]
    assert (debit["debit"], credit["account_number"], credit["credit"]) == ("0.50", 1100, "0.50")


def test_rejecting_a_written_off_application_rejects_the_write_off_with_it(org, invoice):
    payment = _payment(org, "99.50")
    payment_services.payment_update(
        organization=org,
        payment_id=payment.pk,
        invoice_id=invoice.pk,
        write_off_short_payment=True,
    )
    applied, _write_off = _changes(payment)

    result = services.changes_reject(organization=org, change_ids=[applied.pk])

    assert result.updated == [applied.pk]
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    statuses = [(c.change_type, c.status) for c in _changes(payment)]
    assert statuses == [
        ("payment_applied", "rejected"),
        ("write_off", "rejected"),
        ("payment_unapplied", "rejected"),
    ]
    unapplied = _changes(payment)[-1]
    # its lines reverse both the cash entry and the write-off
    assert len(unapplied.payload["lines"]) == 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "sqlite" in connection.settings_dict["ENGINE"],
    reason="row locks need PostgreSQL",
)
@pytest.mark.parametrize("round_", range(3))
def test_rejecting_while_the_payment_is_reviewed_never_deadlocks(org, invoice, round_):
    import threading

    from django.db import connections

    payment = _payment(org)
    _apply(org, payment, invoice)
    [applied] = _changes(payment)
    barrier = threading.Barrier(2)
    errors, results = [], {}

    def reject():
        try:
            barrier.wait()
            results["reject"] = services.changes_reject(organization=org, change_ids=[applied.pk])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def review():
        try:
            barrier.wait()
            payment_services.payment_mark_reviewed(
                organization=org, payment_id=payment.pk, reviewed=True
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reject), threading.Thread(target=review)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    applied.refresh_from_db()
    invoice.refresh_from_db()
    if applied.status == Status.REJECTED:
        assert invoice.amount_due == Decimal("100.00")
        assert results["reject"].updated == [applied.pk]
    else:
        assert applied.status == Status.APPROVED
        assert invoice.amount_due == Decimal("0.00")
        assert results["reject"].skipped == [
            {"id": str(applied.pk), "reason": "wrong status: approved"}
        ]
