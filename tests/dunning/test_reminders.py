import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from arpilot.hooks import EmailGaveUp
from dunning import services
from dunning.models import Reminder
from mail.models import OutboundEmail
from mail.services import email_send
from tests.dunning.factories import (
    TODAY,
    customer_with_contacts,
    overdue_invoice,
    pay,
    subscriber,
)
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _send(reminder):
    return email_send(email_id=reminder.email_id)


def test_the_reminder_goes_when_its_invoices_are_still_owed(org, customer, mailoutbox):
    subscriber(org)
    invoice = overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]

    assert _send(reminder) == "sent"

    reminder.refresh_from_db()
    assert reminder.status == "sent"
    assert reminder.sent_at is not None
    assert len(mailoutbox) == 1
    event = WebhookEvent.objects.get(event_type="reminder.sent")
    assert event.payload["data"]["id"] == str(reminder.pk)
    assert event.payload["data"]["invoices"][0]["invoice_id"] == str(invoice.pk)


def test_a_payment_between_the_decision_and_the_send_drops_the_reminder(org, customer, mailoutbox):
    paid = overdue_invoice(org, customer, days_overdue=4)
    owed = overdue_invoice(org, customer, days_overdue=5)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]
    pay(paid)  # the payment arrives after the decision, before the send

    assert _send(reminder) == "cancelled"

    reminder.refresh_from_db()
    assert reminder.status == "cancelled"
    assert paid.invoice_number in reminder.cancelled_reason
    assert mailoutbox == []
    assert OutboundEmail.objects.get(pk=reminder.email_id).status == "cancelled"
    # its level is released: the next run reminds the invoice still owed, alone
    again = services.dunning_run(organization=org, today=TODAY)
    assert [[line.invoice_id for line in r.lines.all()] for r in again] == [[owed.pk]]


def test_a_partial_payment_does_not_drop_the_reminder(org, customer, mailoutbox):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]
    pay(invoice, "40.00")

    assert _send(reminder) == "sent"


def test_a_dispute_between_the_decision_and_the_send_drops_the_reminder(org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]
    services.dispute_open(organization=org, invoice_id=invoice.pk, reason_code="duplicate")

    assert _send(reminder) == "cancelled"
    assert Reminder.objects.get(pk=reminder.pk).cancelled_reason.startswith("An invoice")


def test_the_reminder_is_sent_when_the_server_takes_it_not_before(org, customer, mailoutbox):
    """Its last check says yes, as often as asked, without marking it sent or telling
    anyone; the server's acceptance does, once."""
    subscriber(org)
    overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]
    email = OutboundEmail.objects.get(pk=reminder.email_id)

    assert services.reminder_before_send(email) is True
    assert services.reminder_before_send(email) is True
    assert Reminder.objects.get(pk=reminder.pk).status == "queued"
    assert not WebhookEvent.objects.filter(event_type="reminder.sent").exists()

    assert _send(reminder) == "sent"
    assert _send(reminder) == ""  # a duplicate task finds nothing to send

    reminder.refresh_from_db()
    email.refresh_from_db()
    assert (reminder.status, reminder.sent_at) == ("sent", email.sent_at)
    assert WebhookEvent.objects.filter(event_type="reminder.sent").count() == 1
    assert len(mailoutbox) == 1


def test_an_unconfirmed_reminder_email_a_clerk_marks_sent_sends_the_reminder(org, customer):
    from mail.services import email_mark_sent

    subscriber(org)
    overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]
    OutboundEmail.objects.filter(pk=reminder.email_id).update(status="unconfirmed")

    email_mark_sent(email=OutboundEmail.objects.get(pk=reminder.email_id))

    assert Reminder.objects.get(pk=reminder.pk).status == "sent"
    assert WebhookEvent.objects.filter(event_type="reminder.sent").count() == 1


# --- the API ----------------------------------------------------------------------------------


def _reminders(org, customers=1):
    made = []
    for _ in range(customers):
        customer = customer_with_contacts(org)
        overdue_invoice(org, customer, days_overdue=4)
        overdue_invoice(org, customer, days_overdue=31)
    made = services.dunning_run(organization=org, today=TODAY)
    return made


def test_list_and_filters(api, org):
    reminders = _reminders(org, 2)
    first = reminders[0]
    invoice_id = first.lines.get().invoice_id if first.lines.count() == 1 else None

    all_ = api.get("/api/v1/reminders").json()
    by_level = api.get("/api/v1/reminders", {"level": 3}).json()
    by_customer = api.get("/api/v1/reminders", {"customer_id": str(first.customer_id)}).json()
    by_invoice = api.get("/api/v1/reminders", {"invoice_id": str(invoice_id)}).json()
    by_status = api.get("/api/v1/reminders", {"status": "sent"}).json()

    assert len(all_["data"]) == 4
    assert {r["level"] for r in by_level["data"]} == {3}
    assert len(by_level["data"]) == 2
    assert {r["customer_id"] for r in by_customer["data"]} == {str(first.customer_id)}
    assert [r["id"] for r in by_invoice["data"]] == [str(first.pk)]
    assert by_status["data"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"level": "x"}, "level"),
        ({"customer_id": "nope"}, "customer_id"),
        ({"invoice_id": "nope"}, "invoice_id"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(api, params, field):
    response = api.get("/api/v1/reminders", params)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_detail_and_cross_organization_404(api, other_api, org):
    reminder = _reminders(org)[0]

    response = api.get(f"/api/v1/reminders/{reminder.pk}")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "queued"
    assert data["email_id"] == str(reminder.email_id)
    assert other_api.get(f"/api/v1/reminders/{reminder.pk}").status_code == 404
    assert other_api.get("/api/v1/reminders").json()["data"] == []
    assert api.get(f"/api/v1/reminders/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/v1/reminders/not-an-id").status_code == 404


@pytest.mark.parametrize("customers", [1, 4])
def test_list_query_count_is_constant(api, org, customers):
    _reminders(org, customers)

    with CaptureQueriesContext(connection) as captured:
        response = api.get("/api/v1/reminders")

    assert response.status_code == 200
    assert len(response.json()["data"]) == 2 * customers
    # the API key, the count, the page, the lines with their invoices
    assert len(captured) == 4


# --- an email that will not go (arpilot.hooks.EmailGaveUp) -------------------------------------


def test_a_queued_reminders_email_cancelled_by_a_clerk_cancels_it(api, org, customer):
    from mail.services import email_cancel

    invoice = overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]  # not attempted yet

    email_cancel(email=OutboundEmail.objects.get(pk=reminder.email_id))

    data = api.get(f"/api/v1/reminders/{reminder.pk}").json()["data"]
    assert (data["status"], data["cancelled_reason"]) == (
        "cancelled",
        "Its email was cancelled by a clerk.",
    )
    again = services.dunning_run(organization=org, today=TODAY)
    assert [[line.invoice_id for line in r.lines.all()] for r in again] == [[invoice.pk]]


def test_a_failed_reminder_is_listed_as_failed(api, org, customer):
    from dunning.receivers import email_gave_up

    overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]
    OutboundEmail.objects.filter(pk=reminder.email_id).update(
        status="failed", last_error="The mail server refused the recipients."
    )
    email = OutboundEmail.objects.get(pk=reminder.email_id)

    changed = email_gave_up(EmailGaveUp(organization=org, email=email))
    assert email_gave_up(EmailGaveUp(organization=org, email=email)) is None  # once

    assert changed.pk == reminder.pk
    failed = api.get("/api/v1/reminders", {"status": "failed"}).json()["data"]
    assert [item["id"] for item in failed] == [str(reminder.pk)]
    assert failed[0]["cancelled_reason"].endswith("refused the recipients.")


def test_another_emails_gave_up_changes_no_reminder(org, customer):
    from dunning.receivers import email_gave_up

    overdue_invoice(org, customer, days_overdue=4)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]
    stranger = OutboundEmail(
        organization=org, kind="reminder", reference={"reminder_id": str(reminder.pk)}
    )  # claims the reminder, but is not its email

    assert email_gave_up(EmailGaveUp(organization=org, email=stranger)) is None
    assert Reminder.objects.get(pk=reminder.pk).status == "queued"
