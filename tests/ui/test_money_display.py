"""Every amount in its own currency, formatted by Babel: a payment's in the payment's
currency, an invoice's in the organization's."""

import re
from decimal import Decimal

import pytest
from django.db import transaction
from django.template import Context, Template, engines
from django.test import RequestFactory
from django.urls import reverse

from arpilot.errors import ValidationFailed
from arpilot.templatetags.money import MINUS, format_money
from payments import services as payment_services
from payments.models import Payment
from tests.payments.factories import make_payment
from tests.ui.builders import customer_with_invoices

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


def row_of(page: str, payment) -> str:
    return page[page.index(f'id="payment-{payment.pk}"') :].split("</article>")[0]


@pytest.fixture
def eur_payment(org):
    assert org.currency == "USD"
    return make_payment(org, amount="1234.50", currency="EUR", payer_name="Euro Payer GmbH")


def test_a_eur_payment_shows_euros_in_the_review_queue_row(ui, org, eur_payment):
    usd = make_payment(org, amount="99.00", payer_name="Dollar Payer")
    page = text(ui.get(reverse("payments:review")))

    row = row_of(page, eur_payment)
    assert '<span class="ri-amount"><span class="money">€1,234.50</span></span>' in row
    assert '<span class="money">€0.00</span> applied' in row
    assert '<strong><span class="money">€1,234.50</span></strong> unapplied' in row
    assert "$" not in row
    assert '<span class="money">$99.00</span>' in row_of(page, usd)


def test_a_eur_payment_shows_euros_on_its_page(ui, org, eur_payment):
    page = text(ui.get(reverse("payments:detail", args=[eur_payment.pk])))

    assert 'Payment of <span class="money">€1,234.50</span> from Euro Payer GmbH' in page
    assert '<span class="ri-amount"><span class="money">€1,234.50</span></span>' in page
    assert "$1,234.50" not in page


def test_the_payment_list_shows_each_payment_in_its_currency(ui, org, eur_payment):
    make_payment(org, amount="20.00", payer_name="Dollar Payer")
    page = text(ui.get(reverse("payments:list")))

    assert page.count('<td class="num"><span class="money">€1,234.50</span></td>') == 2
    assert page.count('<td class="num"><span class="money">$20.00</span></td>') == 2
    assert "$1,234.50" not in page


def test_invoices_stay_in_the_organization_currency(ui, org, eur_payment):
    customer, invoice = customer_with_invoices(org, 1)
    usd = make_payment(
        org,
        amount="100.00",
        payer_name=customer.company_name,
        payer_reference=f"Payment for {invoice.invoice_number}",
    )
    payment_services.payments_match(organization=org, auto_apply=False)

    search = text(
        ui.get(
            reverse("payments:invoice-search", args=[eur_payment.pk]),
            {"q": invoice.invoice_number},
        )
    )
    assert 'open <span class="money">$100.00</span>' in search
    row = row_of(text(ui.get(reverse("payments:review"))), usd)
    assert "due $100.00" in row
    assert "$100.00" in text(ui.get(reverse("receivables:invoices")))


def test_an_applied_payment_s_changes_are_in_its_currency_and_its_invoices_in_theirs(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00", currency="USD")
    payment_services.payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    page = text(ui.get(reverse("payments:detail", args=[payment.pk])))
    assert '<span class="money">$100.00</span> applied' in page
    assert "(due now $0.00, paid)" in page


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("1234.5"), "EUR", "€1,234.50"),
        (Decimal("-12"), "EUR", f"{MINUS}€12.00"),
        (Decimal("-0.5"), "USD", f"{MINUS}$0.50"),
        (Decimal("1235.00"), "JPY", "¥1,235"),
        (Decimal("1234.50"), "JPY", "¥1,234.50"),
        (Decimal("-1235"), "JPY", f"{MINUS}¥1,235"),
        (Decimal("5"), "CHF", "CHF 5.00"),
        (Decimal("1.5"), "BHD", "BHD 1.500"),
        (Decimal("1"), "", "$1.00"),
        (None, "EUR", "—"),
    ],
)
def test_format_money(value, currency, shown):
    assert format_money(value, currency) == shown


def test_negative_amounts_keep_the_minus_sign_and_class(org):
    request = RequestFactory().get("/")
    request.organization = org
    rendered = Template(
        "{% load money %}{% money a %}|{% money a 'EUR' %}|{% money_text a 'JPY' %}|"
        "{{ a|money_in:'GBP' }}"
    ).render(Context({"request": request, "a": Decimal("-1200.00")}))
    assert rendered == (
        f'<span class="money negative">{MINUS}$1,200.00</span>|'
        f'<span class="money negative">{MINUS}€1,200.00</span>|'
        f"{MINUS}¥1,200|"
        f'<span class="money negative">{MINUS}£1,200.00</span>'
    )
    jinja = engines["jinja2"].from_string("{{ a|money_in('EUR') }}|{{ a|money_text_in('JPY') }}")
    assert jinja.render({"a": Decimal("-3")}) == (
        f'<span class="money negative">{MINUS}€3.00</span>|{MINUS}¥3'
    )


def test_jpy_payment_renders_without_decimals_when_whole(ui, org):
    whole = make_payment(org, amount="1235.00", currency="JPY", payer_name="Tokyo KK")
    # Yen has no decimals: the service refuses 1234.50; a row from before payments were
    # checked against their currency's places still shows what it holds, never rounded.
    refused = pytest.raises(ValidationFailed, match="JPY amounts have no decimal places")
    with refused, transaction.atomic():
        make_payment(org, amount="1234.50", currency="JPY", payer_name="Osaka KK")
    fraction = make_payment(org, amount="1234.00", currency="JPY", payer_name="Osaka KK")
    Payment.objects.filter(pk=fraction.pk).update(amount=Decimal("1234.50"))
    page = text(ui.get(reverse("payments:review")))

    assert '<span class="ri-amount"><span class="money">¥1,235</span></span>' in row_of(page, whole)
    assert '<span class="ri-amount"><span class="money">¥1,234.50</span></span>' in row_of(
        page, fraction
    )
