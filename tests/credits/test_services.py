"""Deductions: opened, changed and resolved through the services; the default reasons."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from arpilot import services as org_services
from arpilot.errors import Conflict, NotFound, ValidationFailed
from credits import services
from credits.models import Deduction, DeductionReason
from receivables.models import Account, Invoice, JournalLine
from reconciliation.models import AccountingChange
from tests.dunning.factories import pay, subscriber
from tests.factories import make_invoice
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db
D = Decimal


def _open(org, invoice, amount="20.00", reason="pricing", **kwargs):
    return services.deduction_open(
        organization=org, invoice_id=invoice.pk, amount=D(amount), reason_code=reason, **kwargs
    )


def test_a_new_organization_has_the_default_reasons_each_on_its_account(org):
    reasons = {r.code: r for r in DeductionReason.objects.for_org(org).select_related("account")}

    assert set(reasons) == {
        "pricing",
        "damaged_goods",
        "promotion",
        "freight",
        "early_payment_discount",
        "unknown",
    }
    assert reasons["pricing"].account.account_number == 4910
    assert reasons["pricing"].account.type == Account.Type.INCOME
    assert reasons["freight"].account.type == Account.Type.EXPENSE
    assert len({reason.account_id for reason in reasons.values()}) == 6


def test_an_older_organization_is_seeded_lazily_and_once(org):
    DeductionReason.objects.for_org(org).delete()
    accounts = Account.objects.for_org(org).count()

    services.reasons_ensure(org)
    services.reasons_ensure(org)
    services.reasons_seed(organization=org)

    assert DeductionReason.objects.for_org(org).count() == 6
    assert Account.objects.for_org(org).count() == accounts  # the accounts were found again


def test_open_keeps_the_remainder_on_the_invoice_and_emits(org, customer):
    subscriber(org)
    invoice = make_invoice(org, customer=customer, amount="100.00")

    deduction = _open(org, invoice, "20.00", note="price list disagreement")

    invoice.refresh_from_db()
    assert invoice.amount_due == D("100.00")  # nothing moves when it opens
    assert (deduction.status, deduction.amount, deduction.customer_id) == (
        "open",
        D("20.00"),
        customer.pk,
    )
    event = WebhookEvent.objects.get(event_type="deduction.opened")
    assert event.payload["data"]["amount"] == 20.0
    assert event.payload["data"]["reason_code"] == "pricing"


@pytest.mark.parametrize(
    ("amount", "field"), [("0.00", "amount"), ("-1.00", "amount"), ("100.01", "amount")]
)
def test_open_checks_the_amount(org, customer, amount, field):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    with pytest.raises(ValidationFailed) as error:
        _open(org, invoice, amount)

    assert field in error.value.fields


def test_open_names_an_unknown_reason(org, customer):
    invoice = make_invoice(org, customer=customer)

    with pytest.raises(ValidationFailed) as error:
        _open(org, invoice, reason="nope")

    assert "reason_code" in error.value.fields


def test_one_open_deduction_per_invoice(org, customer):
    invoice = make_invoice(org, customer=customer)
    _open(org, invoice)

    with pytest.raises(Conflict):
        _open(org, invoice, "5.00")


def test_another_organizations_invoice_is_not_found(org, other_org):
    invoice = make_invoice(other_org)

    with pytest.raises(NotFound):
        _open(org, invoice)


def test_update_changes_note_and_reason_while_open(org, customer):
    invoice = make_invoice(org, customer=customer)
    deduction = _open(org, invoice)

    services.deduction_update(
        organization=org, deduction_id=deduction.pk, note="called", reason_code="freight"
    )
    deduction.refresh_from_db()
    assert (deduction.note, deduction.reason.code) == ("called", "freight")

    services.deduction_resolve(organization=org, deduction_id=deduction.pk, resolution="collected")
    with pytest.raises(Conflict):
        services.deduction_update(organization=org, deduction_id=deduction.pk, note="late")


def test_write_off_posts_to_the_reasons_account_and_records_a_change(org, customer):
    subscriber(org)
    invoice = make_invoice(org, customer=customer, amount="100.00")
    deduction = _open(org, invoice, "20.00", reason="freight")

    services.deduction_resolve(
        organization=org, deduction_id=deduction.pk, resolution="write_off", note="ok"
    )

    deduction.refresh_from_db()
    invoice.refresh_from_db()
    assert invoice.amount_due == D("80.00")
    assert (deduction.status, deduction.resolution) == ("resolved", "write_off")
    assert deduction.resolution_amount == D("20.00")
    debit = JournalLine.objects.get(entry=deduction.journal_entry, debit__gt=0)
    assert debit.account.account_number == 6920
    change = AccountingChange.objects.get(pk=deduction.accounting_change_id)
    assert (change.change_type, change.amount) == ("write_off", D("20.00"))
    event = WebhookEvent.objects.get(event_type="deduction.resolved")
    assert event.payload["data"]["accounting_change_id"] == str(change.pk)


def test_credit_note_posts_to_the_reasons_account(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    deduction = _open(org, invoice, "100.00", reason="damaged_goods")

    services.deduction_resolve(
        organization=org, deduction_id=deduction.pk, resolution="credit_note"
    )

    deduction.refresh_from_db()
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (D("0.00"), Invoice.Status.PAID)
    assert deduction.accounting_change.change_type == "credit_note"
    debit = JournalLine.objects.get(entry=deduction.journal_entry, debit__gt=0)
    # A credit note document (tests/credits/test_deduction_credit_note.py), to the reason's.
    assert debit.account_id == deduction.reason.account_id


def test_rebill_credits_the_original_and_bills_a_new_invoice_on_its_terms(org, customer):
    today = timezone.localdate()
    invoice = make_invoice(
        org,
        customer=customer,
        amount="100.00",
        issue_date=today - timedelta(days=40),
        due_date=today - timedelta(days=10),
    )
    deduction = _open(org, invoice, "30.00", reason="promotion")

    services.deduction_resolve(organization=org, deduction_id=deduction.pk, resolution="rebill")

    deduction.refresh_from_db()
    invoice.refresh_from_db()
    new = deduction.rebill_invoice
    assert invoice.amount_due == D("70.00")
    assert (new.amount, new.amount_due, new.customer_id) == (D("30.00"), D("30.00"), customer.pk)
    assert new.invoice_number == f"{invoice.invoice_number}-R"
    assert new.due_date - new.issue_date == timedelta(days=30)
    original_line = invoice.lines.get()
    assert new.lines.get().account_id == original_line.account_id
    assert deduction.accounting_change.change_type == "credit_note"


def test_collected_moves_nothing(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    deduction = _open(org, invoice, "20.00")

    services.deduction_resolve(organization=org, deduction_id=deduction.pk, resolution="collected")

    deduction.refresh_from_db()
    invoice.refresh_from_db()
    assert invoice.amount_due == D("100.00")
    assert (deduction.resolution, deduction.journal_entry_id, deduction.resolution_amount) == (
        "collected",
        None,
        None,
    )


def test_money_moving_resolution_of_a_paid_invoice_is_a_conflict(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    deduction = _open(org, invoice, "20.00")
    pay(invoice)

    with pytest.raises(Conflict):
        services.deduction_resolve(
            organization=org, deduction_id=deduction.pk, resolution="write_off"
        )
    services.deduction_resolve(organization=org, deduction_id=deduction.pk, resolution="collected")


def test_write_off_takes_at_most_what_is_still_owed(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    deduction = _open(org, invoice, "20.00")
    pay(invoice, "90.00")

    services.deduction_resolve(organization=org, deduction_id=deduction.pk, resolution="write_off")

    deduction.refresh_from_db()
    assert deduction.resolution_amount == D("10.00")


def test_resolve_twice_is_a_conflict_and_another_orgs_is_not_found(org, other_org, customer):
    invoice = make_invoice(org, customer=customer)
    deduction = _open(org, invoice)
    services.deduction_resolve(organization=org, deduction_id=deduction.pk, resolution="collected")

    with pytest.raises(Conflict):
        services.deduction_resolve(
            organization=org, deduction_id=deduction.pk, resolution="collected"
        )
    with pytest.raises(NotFound):
        services.deduction_resolve(
            organization=other_org, deduction_id=deduction.pk, resolution="collected"
        )


def test_reasons_create_and_update(org):
    account = Account.objects.for_org(org).get(account_number=4910)

    reason = services.reason_create(
        organization=org, code="returns", name="Returns", account_number=4910
    )
    assert reason.account_id == account.pk
    with pytest.raises(Conflict):
        services.reason_create(organization=org, code="returns", name="Again", account_number=4910)
    with pytest.raises(ValidationFailed) as error:
        services.reason_create(organization=org, code="x", name="X", account_number=1100)
    assert "account_number" in error.value.fields

    services.reason_update(organization=org, reason_id=reason.pk, is_active=False, name="Ret")
    reason.refresh_from_db()
    assert (reason.is_active, reason.name) == (False, "Ret")


def test_a_new_organization_made_twice_does_not_duplicate_accounts(db):
    first = org_services.organization_create(name="One")
    second = org_services.organization_create(name="Two")

    assert DeductionReason.objects.for_org(first).count() == 6
    assert DeductionReason.objects.for_org(second).count() == 6
    assert Deduction.objects.count() == 0
