"""An invoice with an open deduction is out of dunning: the run, the send-time check and the
worklist's overdue figure leave it out; resolved as ``collected`` it returns."""

from decimal import Decimal

import pytest

from credits import services as credit_services
from dunning import services
from dunning.models import Reminder
from mail.services import email_send
from tests.dunning.factories import TODAY, customer_with_contacts, overdue_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mail_and_pdf(settings, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    monkeypatch.setattr(
        "dunning.services.run.statement_pdf", lambda statement, organization_name: b"%PDF-fake"
    )


@pytest.fixture
def customer(org):
    return customer_with_contacts(org, company_name="Deducting Ltd")


def _deduct(org, invoice, amount="20.00"):
    return credit_services.deduction_open(
        organization=org, invoice_id=invoice.pk, amount=Decimal(amount), reason_code="pricing"
    )


def test_the_run_skips_an_invoice_with_an_open_deduction(org, customer):
    deducted = overdue_invoice(org, customer, days_overdue=10)
    owed = overdue_invoice(org, customer, days_overdue=10)
    deduction = _deduct(org, deducted)

    reminders = services.dunning_run(organization=org, today=TODAY)

    assert [[line.invoice_id for line in r.lines.all()] for r in reminders] == [[owed.pk]]

    credit_services.deduction_resolve(
        organization=org, deduction_id=deduction.pk, resolution="collected"
    )
    again = services.dunning_run(organization=org, today=TODAY)
    assert [[line.invoice_id for line in r.lines.all()] for r in again] == [[deducted.pk]]


def test_a_deduction_between_the_decision_and_the_send_drops_the_reminder(org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]
    _deduct(org, invoice)

    assert email_send(email_id=reminder.email_id) == "cancelled"
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.CANCELLED
    assert "deduction" in reminder.cancelled_reason


def test_the_worklist_leaves_a_deducted_invoice_out(api, org, customer):
    from dunning.api.views import services as dunning_services

    today = dunning_services.organization_today(org)
    deducted = overdue_invoice(org, customer, days_overdue=15, amount="300.00", today=today)
    overdue_invoice(org, customer, days_overdue=15, amount="100.00", today=today)
    _deduct(org, deducted)

    rows = api.get("/api/v1/collections/worklist").json()["data"]

    assert [row["overdue_total"] for row in rows] == [100.0]
