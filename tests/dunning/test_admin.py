import pytest
from django.contrib import admin
from django.urls import reverse

from dunning import services
from tests.dunning.factories import TODAY, overdue_invoice

pytestmark = pytest.mark.django_db


def test_every_collections_model_has_a_searchable_filterable_admin():
    from django.apps import apps

    for model in apps.get_app_config("dunning").get_models():
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, model
        assert model_admin.list_filter or model._meta.model_name == "promiseinvoice", model


def test_changelists_search_and_change_pages_render(admin_client, org, customer):
    invoice = overdue_invoice(org, customer, days_overdue=31)
    reminder = services.dunning_run(organization=org, today=TODAY)[0]
    services.dispute_open(organization=org, invoice_id=invoice.pk, reason_code="pricing")

    for model in admin.site._registry:
        if model._meta.app_label != "dunning":
            continue
        url = reverse(f"admin:dunning_{model._meta.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url, {"q": "acme"}).status_code == 200, url
    change = reverse("admin:dunning_reminder_change", args=[reminder.pk])
    policy = reverse("admin:dunning_dunningpolicy_changelist")
    assert admin_client.get(change).status_code == 200
    assert admin_client.get(policy).status_code == 200
