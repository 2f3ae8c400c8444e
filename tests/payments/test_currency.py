"""A payment applies to an invoice of another currency only at a rate (given, or from the
organization's table; tests/payments/test_cross_currency.py): without one the service
refuses, naming ``exchange_rate``, whatever the entry point, and matching neither suggests
nor auto-applies across currencies."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from arpilot import services as org_services
from arpilot.errors import ValidationFailed
from arpilot.models import Membership
from payments import services
from payments.matching import MatchIndex, OpenInvoice, PaymentInput
from payments.models import MatchSuggestion, Payment, PaymentAllocation
from tests.payments.factories import ar_balance, make_invoice, make_payment, open_total

pytestmark = pytest.mark.django_db

MESSAGE_START = "This payment is in EUR; the invoice is in USD. Send exchange_rate (USD per EUR)"


def _unchanged(org, invoice, payment, amount_due="100.00") -> None:
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert invoice.amount_due == Decimal(amount_due)
    assert invoice.status == "pending"
    assert (payment.status, payment.applied_amount) == ("unmatched", Decimal("0.00"))
    assert not PaymentAllocation.objects.filter(payment=payment).exists()
    assert ar_balance(org) == open_total(org)


@pytest.fixture
def invoice(org, customer):
    assert org.currency == "USD"
    return make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-1042")


@pytest.fixture
def eur_payment(org):
    return make_payment(org, amount="100.00", currency="EUR", payer_name="Acme Corp")


# --- the API --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
def test_api_invoice_id_of_another_currency_without_a_rate_is_400_naming_exchange_rate(
    api, org, invoice, eur_payment, method
):
    response = getattr(api, method)(
        f"/api/v1/payments/{eur_payment.pk}", {"invoice_id": str(invoice.pk)}, format="json"
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"].startswith(MESSAGE_START)
    assert list(error["fields"]) == ["exchange_rate"]
    _unchanged(org, invoice, eur_payment)


def test_api_split_of_another_currency_without_a_rate_is_400_naming_exchange_rate(
    api, org, invoice, eur_payment
):
    response = api.patch(
        f"/api/v1/payments/{eur_payment.pk}",
        {"allocations": [{"invoice_id": str(invoice.pk), "amount": "60.00"}]},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == ["exchange_rate"]
    _unchanged(org, invoice, eur_payment)


def test_api_payment_in_the_organization_currency_still_applies(api, org, invoice):
    usd = make_payment(org, amount="100.00", currency="usd")
    blank = make_payment(org, amount="100.00")
    Payment.objects.filter(pk=blank.pk).update(currency="")  # an older payment: no currency

    response = api.patch(
        f"/api/v1/payments/{usd.pk}",
        {"allocations": [{"invoice_id": str(invoice.pk), "amount": "40.00"}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    response = api.patch(
        f"/api/v1/payments/{blank.pk}", {"invoice_id": str(invoice.pk)}, format="json"
    )
    assert response.status_code == 200, response.content
    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("0.00"), "paid")


def test_unapplying_and_metadata_stay_allowed_for_a_foreign_payment(api, org, eur_payment):
    for body in ({"invoice_id": None}, {"allocations": []}, {"notes": "EUR transfer"}):
        response = api.patch(f"/api/v1/payments/{eur_payment.pk}", body, format="json")
        assert response.status_code == 200, (body, response.content)
    eur_payment.refresh_from_db()
    assert eur_payment.notes == "EUR transfer"


def test_the_service_refuses_every_caller_without_a_rate(org, invoice, eur_payment):
    with pytest.raises(ValidationFailed) as caught:
        services.payment_update(
            organization=org.pk, payment_id=eur_payment.pk, invoice_id=invoice.pk
        )
    assert list(caught.value.fields) == ["exchange_rate"]
    with pytest.raises(ValidationFailed) as caught:
        services.payment_update(
            organization=org,
            payment_id=eur_payment.pk,
            write_off_short_payment=True,
        )
    assert "write_off_short_payment" in caught.value.fields
    assert not services.payment_auto_apply(
        organization=org.pk,
        payment_id=eur_payment.pk,
        invoice_ids=[invoice.pk],
        amount=Decimal("100.00"),
    )
    _unchanged(org, invoice, eur_payment)


# --- the clerk pages ------------------------------------------------------------------------


@pytest.fixture
def ui(org) -> Client:
    user = org_services.user_create(username="clerk", password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user, role=Membership.Role.CLERK)
    client = Client()
    client.force_login(user)
    return client


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


def test_clerk_split_shows_the_error_and_changes_nothing(ui, org, invoice, eur_payment):
    response = ui.post(
        reverse("payments:allocate", args=[eur_payment.pk]),
        {"invoice_id": str(invoice.pk), "amount": "100.00"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    page = _text(response)
    assert '<p class="ri-error" role="alert">' in page
    assert "This payment is in EUR; the invoice is in USD." in page
    _unchanged(org, invoice, eur_payment)


def test_clerk_apply_of_a_stale_suggestion_shows_the_error(ui, org, invoice, eur_payment):
    # A suggestion stored before payments carried the rule.
    MatchSuggestion.objects.create(
        organization=org,
        payment=eur_payment,
        rank=1,
        invoice_ids=[str(invoice.pk)],
        invoice_numbers=[invoice.invoice_number],
        amount=Decimal("100.00"),
        score=0.99,
        reasons=["reference names INV-1042"],
    )

    response = ui.post(
        reverse("payments:apply", args=[eur_payment.pk, 1]),
        {"next": reverse("payments:review")},
    )

    assert response.status_code == 302
    page = _text(ui.get(response["Location"]))
    assert "This payment is in EUR; the invoice is in USD." in page
    _unchanged(org, invoice, eur_payment)


def test_the_row_of_a_foreign_payment_offers_the_search_like_any_other(ui, org, eur_payment):
    page = _text(ui.get(reverse("payments:review")))
    assert "No suggestions. Search invoices below." in page
    assert "invoices are in USD" not in page


# --- matching -------------------------------------------------------------------------------


def _body(**overrides) -> dict:
    body = {
        "amount": "100.00",
        "payment_date": (timezone.localdate() - timedelta(days=2)).isoformat(),
        "payer_name": "Acme Corp",
        "payer_reference": "INV-1042",
    }
    body.update(overrides)
    return body


def test_api_created_foreign_payment_gets_no_suggestion_and_is_not_auto_applied(api, org, invoice):
    data = api.post("/api/v1/payments", _body(currency="EUR"), format="json").json()["data"]

    assert (data["currency"], data["status"], data["auto_applied"]) == ("EUR", "unmatched", False)
    assert data["suggestions"] == []
    assert not MatchSuggestion.objects.filter(payment_id=data["id"]).exists()
    invoice.refresh_from_db()
    assert invoice.amount_due == Decimal("100.00")


def test_api_created_payment_in_the_organization_currency_is_still_auto_applied(api, org, invoice):
    data = api.post("/api/v1/payments", _body(currency="USD"), format="json").json()["data"]

    assert (data["status"], data["auto_applied"]) == ("applied", True)
    assert data["suggestions"][0]["invoice_ids"] == [str(invoice.pk)]
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_imported_foreign_credit_is_left_alone_and_a_local_one_applied(
    api, org, customer, django_capture_on_commit_callbacks
):
    usd_invoice = make_invoice(org, customer=customer, amount="250.00", invoice_number="INV-2001")
    eur_invoice = make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-1042")
    day = (timezone.localdate() - timedelta(days=2)).isoformat()
    data = (
        f"Date,Description,Amount,Currency\n{day},INV-1042,100.00,EUR\n{day},INV-2001,250.00,USD\n"
    ).encode()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/payments/import",
            {"file": SimpleUploadedFile("mixed.csv", data)},
            format="multipart",
        )
    assert response.status_code == 202, response.content

    eur = Payment.objects.for_org(org).get(currency="EUR")
    usd = Payment.objects.for_org(org).get(currency="USD")
    assert (eur.status, eur.auto_applied) == ("unmatched", False)
    assert not MatchSuggestion.objects.filter(payment=eur).exists()
    assert (usd.status, usd.auto_applied) == ("applied", True)
    eur_invoice.refresh_from_db()
    usd_invoice.refresh_from_db()
    assert (eur_invoice.amount_due, usd_invoice.amount_due) == (Decimal("100.00"), Decimal("0"))


def test_rematching_drops_a_foreign_payment_s_old_suggestions(org, invoice, eur_payment):
    MatchSuggestion.objects.create(
        organization=org,
        payment=eur_payment,
        rank=1,
        invoice_ids=[str(invoice.pk)],
        invoice_numbers=[invoice.invoice_number],
        amount=Decimal("100.00"),
        score=0.99,
        reasons=[],
    )

    run = services.payments_match(organization=org.pk, auto_apply=True)

    assert (run.payments, run.suggestions, run.auto_applied) == (1, 0, 0)
    assert not MatchSuggestion.objects.filter(payment=eur_payment).exists()


def test_engine_skips_payments_of_another_currency():
    today = timezone.localdate()
    invoice = OpenInvoice(
        id=1,
        invoice_number="INV-1042",
        customer_id=7,
        customer_name="Acme Corp",
        customer_external_id=None,
        contact_names=(),
        open_balance=Decimal("100.00"),
        issue_date=today,
    )
    index = MatchIndex.build([invoice], currency="usd")
    base = {"amount": Decimal("100.00"), "payment_date": today, "payer_name": "Acme Corp"}
    base["reference"] = "INV-1042"

    assert index.suggest(PaymentInput(id="eur", currency="EUR", **base)) == []
    assert index.suggest(PaymentInput(id="usd", currency="USD", **base))
    assert index.suggest(PaymentInput(id="none", **base))  # no currency: the invoices'
    assert MatchIndex.build([invoice]).suggest(PaymentInput(id="any", currency="EUR", **base))
