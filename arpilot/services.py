from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from arpilot import hooks
from arpilot.models import IdempotencyKey, Membership, Organization, OrganizationAPIKey


@transaction.atomic
def organization_create(*, name: str, currency: str = "USD") -> Organization:
    """Create an organization and let each domain app seed what it needs."""
    organization = Organization.objects.create(name=name, currency=currency)
    hooks.dispatch(hooks.OrganizationCreated(organization=organization))
    return organization


def organization_get_or_create(*, name: str) -> tuple[Organization, bool]:
    existing = Organization.objects.filter(name=name).first()
    if existing is not None:
        return existing, False
    return organization_create(name=name), True


def api_key_create(*, organization: Organization, name: str) -> tuple[OrganizationAPIKey, str]:
    """Create a key; the plain key is returned this once and never stored."""
    return OrganizationAPIKey.objects.create_key(organization=organization, name=name[:50])


def api_key_revoke(*, api_key: OrganizationAPIKey) -> OrganizationAPIKey:
    api_key.revoked = True
    api_key.save(update_fields=["revoked"])
    return api_key


@transaction.atomic
def membership_add(
    *, organization: Organization, user, role: str = Membership.Role.CLERK
) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership


def user_create(*, username: str, password: str, email: str = "", **extra):
    return get_user_model().objects.create_user(
        username=username, password=password, email=email, **extra
    )


def idempotency_keys_purge() -> int:
    """Delete idempotency records past their retention."""
    cutoff = timezone.now() - settings.ARPILOT_IDEMPOTENCY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
