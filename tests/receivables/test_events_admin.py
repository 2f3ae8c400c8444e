import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection

from arpilot.errors import ValidationFailed
from receivables import services
from receivables.models import Invoice, InvoiceOfflinePayment
from tests.factories import CustomerFactory
from tests.receivables.factories import invoice_payload, make_invoice


@pytest.fixture
def subscriber(org, settings):
    """An endpoint that wants every event (events nobody wants are not even rendered)."""
    from webhooks import services as webhook_services

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    return webhook_services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/hook", events=["*"]
    )


@pytest.mark.django_db
def test_events_are_emitted_with_the_invoice(api, org, customer, subscriber):
    with mock.patch("receivables.services.state.event_emit") as emit:
        created = api.post("/api/v1/invoices", invoice_payload(customer), format="json").json()
        invoice_id = created["data"]["id"]
        api.patch(f"/api/v1/invoices/{invoice_id}", {"external_payment_amount": 100}, format="json")

    calls = [(c.kwargs["event_type"], c.kwargs["data"]["status"]) for c in emit.call_args_list]
    assert calls == [
        ("invoice.created", "pending"),
        ("invoice.updated", "paid"),
        ("invoice.paid", "paid"),
    ]
    assert {c.kwargs["organization_id"] for c in emit.call_args_list} == {org.pk}
    assert emit.call_args_list[0].kwargs["data"]["id"] == invoice_id


@pytest.mark.django_db
def test_void_emits_voided(org, subscriber):
    invoice = make_invoice(org)

    with mock.patch("receivables.services.state.event_emit") as emit:
        services.invoice_void(invoice=invoice)

    assert [c.kwargs["event_type"] for c in emit.call_args_list] == ["invoice.voided"]


@pytest.mark.django_db
def test_aplos_put_after_money_cannot_change_lines(api, org):
    invoice = make_invoice(org, amount="100.00", amount_due="50.00")

    response = api.put(
        f"/hermes/api/v1/receivables/{invoice.aplos_id}",
        {"lines": [{"amount": 10}], "note": "x"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    invoice.refresh_from_db()
    assert (invoice.amount, invoice.notes) == (Decimal("100.00"), "")


@pytest.mark.django_db
def test_admin_pages_render(admin_client, org):
    invoice = make_invoice(org)
    for url in [
        "/admin/receivables/invoice/",
        f"/admin/receivables/invoice/{invoice.pk}/change/",
        "/admin/receivables/account/",
        "/admin/receivables/fund/",
        "/admin/receivables/journalentry/",
    ]:
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get("/admin/receivables/invoice/add/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_concurrent_offline_payments_never_overpay(org):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    invoice = make_invoice(org, customer=CustomerFactory(organization=org), amount="100.00")
    barrier = threading.Barrier(2)
    outcomes = []

    def pay():
        try:
            barrier.wait()
            fresh = Invoice.objects.get(pk=invoice.pk)
            services.invoice_record_offline_payment(invoice=fresh, amount=Decimal("60.00"))
            outcomes.append("ok")
        except ValidationFailed:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    invoice.refresh_from_db()
    assert sorted(outcomes) == ["ok", "refused"]
    assert invoice.amount_due == Decimal("40.00")
    assert InvoiceOfflinePayment.objects.count() == 1


@pytest.mark.django_db
def test_events_nobody_subscribes_to_are_neither_rendered_nor_stored(org):
    invoice = make_invoice(org)

    with mock.patch("receivables.services.state.event_emit") as emit:
        services.invoice_void(invoice=invoice)

    emit.assert_not_called()
