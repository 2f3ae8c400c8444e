import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import ContactFactory, CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


INLINE_ONLY = {"customers.CustomerTag", "mail.OutboundEmailAttachment"}


def test_every_model_is_registered_in_admin():
    from django.apps import apps

    project_apps = {
        "arpilot",
        "customers",
        "receivables",
        "payments",
        "reconciliation",
        "webhooks",
        "mail",
        "dunning",
    }
    missing = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in project_apps
        and model not in admin.site._registry
        and model._meta.label not in INLINE_ONLY
    ]
    assert missing == []


def test_admin_changelists_and_search_render(admin_client, org):
    customer = CustomerFactory(organization=org, company_name="Acme Corp")
    ContactFactory(customer=customer)
    TagFactory(organization=org)
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = admin_client.get(url, {"q": "acme"} if model_admin.search_fields else {})
        assert response.status_code == 200, url


def test_admin_customer_change_page_shows_contact_inline(admin_client, org):
    customer = CustomerFactory(organization=org)
    ContactFactory(customer=customer, contact_name="Inline Person")

    response = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))

    assert response.status_code == 200
    assert b"Inline Person" in response.content
