"""Offline payments: one payment per update, and reversing a mistaken one."""

from dataclasses import fields
from decimal import Decimal

import pytest
from django.urls import reverse

from receivables import services
from receivables.models import Invoice, InvoiceOfflinePayment, JournalEntry
from tests.receivables.factories import make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def money_events(settings):
    """The money events the receivables services emit, recorded instead of handled."""
    settings.ARPILOT_HOOK_RECEIVERS = {
        **settings.ARPILOT_HOOK_RECEIVERS,
        "MoneyMoved": ["tests.receivables.test_offline_payments.record_money_event"],
    }
    RECORDED.clear()
    yield RECORDED
    RECORDED.clear()


RECORDED: list[dict] = []


def record_money_event(event) -> None:
    RECORDED.append({field.name: getattr(event, field.name) for field in fields(event)})


def _ar_open(invoice) -> Decimal:
    from receivables.models import JournalLine

    total = Decimal("0")
    for debit, credit in JournalLine.objects.filter(
        entry__invoice=invoice, account=invoice.ar_account
    ).values_list("debit", "credit"):
        total += debit - credit
    return total


# --- 1. one offline payment per update ------------------------------------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
def test_amount_due_with_external_payment_records_one_payment(api, org, customer, method):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = getattr(api, method)(
        f"/api/v1/invoices/{invoice.id}",
        {"amount_due": 70, "external_payment_amount": 30},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["data"]["amount_due"] == 70
    assert InvoiceOfflinePayment.objects.filter(invoice=invoice).count() == 1
    assert JournalEntry.objects.filter(invoice=invoice, kind="payment").count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("70.00") == _ar_open(invoice)


@pytest.mark.parametrize("method", ["patch", "put"])
def test_amount_due_not_the_balance_after_the_payment_is_400_and_nothing_changes(
    api, org, customer, method
):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    response = getattr(api, method)(
        f"/api/v1/invoices/{invoice.id}",
        {"amount_due": 40, "external_payment_amount": 30, "notes": "changed"},
        format="json",
    )

    assert response.status_code == 400, response.json()
    assert "amount_due" in response.json()["error"]["fields"]
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.notes) == (Decimal("100.00"), "")
    assert not InvoiceOfflinePayment.objects.exists()
    assert not JournalEntry.objects.filter(kind="payment").exists()


def test_two_updates_with_external_payments_leave_40(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    url = f"/api/v1/invoices/{invoice.id}"

    api.patch(url, {"external_payment_amount": 30, "amount_due": 70}, format="json")
    second = api.put(url, {"external_payment_amount": 30, "amount_due": 40}, format="json")

    assert second.status_code == 200, second.json()
    assert second.json()["data"]["amount_due"] == 40
    assert [p["amount"] for p in second.json()["data"]["offline_payments"]] == [30, 30]


# --- 2. reversing an offline payment ---------------------------------------------------------


def test_reverse_service_restores_balance_and_status_and_emits(org, customer, money_events):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("100.00"))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    money_events.clear()

    reversed_ = services.invoice_offline_payment_reverse(
        invoice=invoice,
        offline_payment_id=payment.pk,
        reason="Typed the wrong invoice",
        reversed_by="alice",
    )

    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00") == _ar_open(invoice)
    assert invoice.status == Invoice.Status.PENDING
    assert reversed_.reversed_at is not None
    assert (reversed_.reversed_by, reversed_.reversal_reason) == (
        "alice",
        "Typed the wrong invoice",
    )
    assert reversed_.reversal_entry.kind == JournalEntry.Kind.PAYMENT_REVERSAL
    assert reversed_.reversal_entry.reverses_id == payment.journal_entry_id
    [event] = money_events
    assert event["change_type"] == "payment_unapplied"
    assert event["amount"] == Decimal("100.00")
    assert event["invoice"] == invoice
    assert event["payload"]["journal_entry_id"] == str(reversed_.reversal_entry_id)
    assert event["payload"]["offline_payment_id"] == str(payment.pk)
    assert event["payload"]["reason"] == "Typed the wrong invoice"
    assert event["payload"]["reversed_by"] == "alice"


def test_offline_payment_event_names_the_offline_payment(org, customer, money_events):
    invoice = make_invoice(org, customer=customer, amount="100.00")

    payment = services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("10.00"))

    assert money_events[-1]["change_type"] == "offline_payment"
    assert money_events[-1]["payload"]["offline_payment_id"] == str(payment.pk)


def test_reverse_twice_is_409(org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("30.00"))
    services.invoice_offline_payment_reverse(
        invoice=invoice, offline_payment_id=payment.pk, reason="mistake", reversed_by="alice"
    )

    from arpilot.errors import Conflict

    with pytest.raises(Conflict):
        services.invoice_offline_payment_reverse(
            invoice=invoice, offline_payment_id=payment.pk, reason="again", reversed_by="bob"
        )
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    assert JournalEntry.objects.filter(kind="payment_reversal").count() == 1


def test_reverse_over_the_api(api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    url = f"/api/v1/invoices/{invoice.id}"
    api.patch(url, {"external_payment_amount": 30}, format="json")
    payment = InvoiceOfflinePayment.objects.get()

    response = api.post(
        f"{url}/offline-payments/{payment.pk}/reverse", {"reason": "Wrong invoice"}, format="json"
    )

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert data["amount_due"] == 100
    assert data["status"] == "pending"
    [shown] = data["offline_payments"]
    assert shown["id"] == str(payment.pk)
    assert shown["amount"] == 30
    assert shown["reason"] == "Wrong invoice"
    assert shown["reversed_at"] is not None
    assert shown["reversed_by"].startswith("api")
    assert api.get(url).json()["data"] == data
    assert api.get("/api/v1/invoices").json()["data"] == [data]

    again = api.post(
        f"{url}/offline-payments/{payment.pk}/reverse", {"reason": "Again"}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert api.get(url).json()["data"] == data
    assert JournalEntry.objects.filter(kind="payment_reversal").count() == 1


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_reverse_needs_a_reason(api, org, customer, body):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("30.00"))

    response = api.post(
        f"/api/v1/invoices/{invoice.id}/offline-payments/{payment.pk}/reverse", body, format="json"
    )

    assert response.status_code == 400, response.json()
    assert "reason" in response.json()["error"]["fields"]
    payment.refresh_from_db()
    assert payment.reversed_at is None


def test_reverse_unknown_or_foreign_payment_is_404(api, other_api, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    other = make_invoice(org, customer=customer, amount="100.00")
    payment = services.invoice_record_offline_payment(invoice=other, amount=Decimal("30.00"))
    base = f"/api/v1/invoices/{invoice.id}/offline-payments"

    assert (
        api.post(f"{base}/{payment.pk}/reverse", {"reason": "x"}, format="json").status_code == 404
    )
    assert api.post(f"{base}/nope/reverse", {"reason": "x"}, format="json").status_code == 404
    foreign = f"/api/v1/invoices/{other.id}/offline-payments/{payment.pk}/reverse"
    assert other_api.post(foreign, {"reason": "x"}, format="json").status_code == 404


def test_reverse_is_in_the_openapi_document(api):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    path = "/api/v1/invoices/{id}/offline-payments/{payment_id}/reverse"
    assert schema["paths"][path]["post"]["summary"] == "Reverse an offline payment"


# --- the clerk page ----------------------------------------------------------------------


@pytest.fixture
def clerk_client(org):
    from django.test import Client

    from arpilot import services as org_services
    from arpilot.models import Membership

    user = org_services.user_create(username="alice", password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user, role=Membership.Role.CLERK)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _csrf(client, url) -> str:
    client.get(url)
    return client.cookies["csrftoken"].value


def test_clerk_reverses_from_the_invoice_page(clerk_client, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("30.00"))
    page_url = reverse("receivables:invoice", args=[invoice.pk])
    action = reverse("receivables:offline-payment-reverse", args=[invoice.pk, payment.pk])

    page = clerk_client.get(page_url).content.decode()
    assert f'action="{action}"' in page
    assert 'name="reason" required' in page

    token = _csrf(clerk_client, page_url)
    response = clerk_client.post(
        action, {"reason": "Duplicate entry", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    payment.refresh_from_db()
    assert (payment.reversed_by, payment.reversal_reason) == ("alice", "Duplicate entry")
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")
    page = clerk_client.get(page_url).content.decode()
    assert "reversed" in page and "Duplicate entry" in page
    assert f'action="{action}"' not in page


def test_clerk_reverse_without_reason_changes_nothing(clerk_client, org, customer):
    invoice = make_invoice(org, customer=customer, amount="100.00")
    payment = services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("30.00"))
    page_url = reverse("receivables:invoice", args=[invoice.pk])
    action = reverse("receivables:offline-payment-reverse", args=[invoice.pk, payment.pk])
    token = _csrf(clerk_client, page_url)

    response = clerk_client.post(action, {"reason": "", "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.reversed_at is None
    assert clerk_client.get(action).status_code == 405
