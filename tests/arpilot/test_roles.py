"""Who may do what: admins manage webhook endpoints, the sync target, API keys and members;
clerks work payments, imports and approvals. The clerk pages and Django admin enforce it."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from arpilot import services as org_services
from arpilot.models import Membership, Organization
from tests.receivables.factories import make_invoice
from tests.reconciliation.factories import make_change

pytestmark = pytest.mark.django_db
CLERK, ADMIN = Membership.Role.CLERK, Membership.Role.ADMIN


def _signed_in(org, role, *, staff=False) -> Client:
    user = org_services.user_create(username=f"{role}-user", password="x" * 12, is_staff=staff)
    if staff:  # every model permission: only the role may stand in the way
        user.user_permissions.set(Permission.objects.all())
    org_services.membership_add(organization=org, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def endpoint(org, settings):
    from webhooks import services as webhook_services

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    return webhook_services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/hook", events=["invoice.paid"]
    )


def _delivery(endpoint):
    from webhooks import services as webhook_services
    from webhooks.models import WebhookDelivery

    webhook_services.endpoint_send_test(endpoint=endpoint)
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    return delivery


# --- clerk pages -----------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "allowed"), [(CLERK, False), (ADMIN, True)])
def test_registering_a_webhook_endpoint_is_for_admins(org, settings, role, allowed):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    client = _signed_in(org, role)

    page = client.get(reverse("webhooks:list")).content.decode()
    response = client.post(
        reverse("webhooks:list"),
        {"url": "http://127.0.0.1:9/new", "all_events": "on"},
    )

    assert ("Register endpoint</button>" in page) is allowed
    assert response.status_code == (302 if allowed else 403)


@pytest.mark.parametrize(("role", "status"), [(CLERK, 403), (ADMIN, 302)])
def test_sending_a_test_event_is_for_admins(org, endpoint, role, status):
    client = _signed_in(org, role)

    assert client.post(reverse("webhooks:test", args=[endpoint.pk])).status_code == status


@pytest.mark.parametrize(("role", "status"), [(CLERK, 403), (ADMIN, 302)])
def test_redelivering_is_for_admins(org, endpoint, role, status):
    delivery = _delivery(endpoint)
    client = _signed_in(org, role)

    response = client.post(reverse("webhooks:redeliver", args=[endpoint.pk, delivery.pk]))

    assert response.status_code == status


@pytest.mark.parametrize("role", [CLERK, ADMIN])
def test_clerks_and_admins_both_work_payments_imports_and_approvals(org, role):
    client = _signed_in(org, role)
    change = make_change(org, invoice=make_invoice(org))

    assert client.get(reverse("payments:review")).status_code == 200
    assert client.get(reverse("payments:import")).status_code == 200
    response = client.post(
        reverse("reconciliation:change-action"),
        {"action": "approve", "change_ids": [str(change.pk)], "status": "pending"},
    )
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == "approved"


def test_a_clerk_still_sees_another_organizations_endpoint_as_404(org, other_org, settings):
    from webhooks import services as webhook_services

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    theirs = webhook_services.endpoint_create(
        organization=other_org, url="http://127.0.0.1:9/x", events=["invoice.paid"]
    )
    client = _signed_in(org, CLERK)

    assert client.post(reverse("webhooks:test", args=[theirs.pk])).status_code == 404


# --- Django admin ----------------------------------------------------------------------------

ADMIN_ONLY = [
    "admin:webhooks_webhookendpoint_changelist",
    "admin:webhooks_webhookdelivery_changelist",
    "admin:reconciliation_synctarget_changelist",
    "admin:arpilot_organizationapikey_changelist",
    "admin:arpilot_membership_changelist",
    "admin:arpilot_organization_changelist",
]
CLERK_WORK = [
    "admin:payments_payment_changelist",
    "admin:payments_paymentimport_changelist",
    "admin:reconciliation_accountingchange_changelist",
]


@pytest.mark.parametrize("url_name", ADMIN_ONLY)
@pytest.mark.parametrize(("role", "status"), [(CLERK, 403), (ADMIN, 200)])
def test_admin_pages_for_endpoints_sync_target_keys_and_members_are_for_admins(
    org, url_name, role, status
):
    client = _signed_in(org, role, staff=True)

    assert client.get(reverse(url_name)).status_code == status


@pytest.mark.parametrize("url_name", CLERK_WORK)
@pytest.mark.parametrize("role", [CLERK, ADMIN])
def test_admin_pages_of_clerk_work_are_open_to_staff_of_either_role(org, url_name, role):
    client = _signed_in(org, role, staff=True)

    assert client.get(reverse(url_name)).status_code == 200


def test_a_clerk_without_staff_rights_cannot_open_django_admin(org):
    client = _signed_in(org, CLERK)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# --- the demo --------------------------------------------------------------------------------


def test_the_demo_seeds_a_clerk_without_staff_rights_and_a_separate_admin():
    call_command("seed_demo", "--small", stdout=StringIO())

    users = get_user_model().objects
    clerk, admin = users.get(username="clerk"), users.get(username="admin")
    org = Organization.objects.get()
    assert (clerk.is_staff, clerk.is_superuser) == (False, False)
    assert admin.is_staff is True
    assert Membership.objects.get(user=clerk).role == CLERK
    assert Membership.objects.get(user=admin).role == ADMIN
    assert org.maker_checker is True
