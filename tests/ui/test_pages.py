"""Every clerk page renders for a signed-in clerk, scoped to the clerk's organization."""

import pytest
from django.urls import reverse

from payments.models import Payment
from tests.ui.builders import book

pytestmark = pytest.mark.django_db


def test_every_page_renders(ui, org, endpoint):
    invoices = book(org, 3)
    payment = Payment.objects.for_org(org).first()
    urls = [
        reverse("reconciliation:dashboard"),
        reverse("reconciliation:changes"),
        reverse("reconciliation:changes") + "?status=failed",
        reverse("reconciliation:invoice-history", args=[invoices[0].pk]),
        reverse("receivables:invoices"),
        reverse("receivables:invoices") + "?aging=1-30&search=INV",
        reverse("receivables:invoice", args=[invoices[0].pk]),
        reverse("receivables:customer-panel", args=[invoices[0].customer_id]),
        reverse("customers:list"),
        reverse("customers:list") + "?search=Customer",
        reverse("customers:detail", args=[invoices[0].customer_id]),
        reverse("payments:review"),
        reverse("payments:list"),
        reverse("payments:detail", args=[payment.pk]),
        reverse("payments:invoice-search", args=[payment.pk]) + "?q=INV",
        reverse("payments:invoice-panel", args=[invoices[0].pk]),
        reverse("payments:import"),
        reverse("webhooks:list"),
        reverse("webhooks:detail", args=[endpoint.pk]),
    ]
    for url in urls:
        response = ui.get(url)
        assert response.status_code == 200, url
