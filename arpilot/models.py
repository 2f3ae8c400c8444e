import uuid

from django.conf import settings
from django.db import models
from rest_framework_api_key.crypto import KeyGenerator
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

API_KEY_PREFIX = "arp_"


class OrgQuerySet(models.QuerySet):
    """A queryset that remembers which organization it was scoped to.

    ``for_org()`` is the one way to scope; API viewsets refuse to serve a queryset that did
    not go through it (``arpilot.api.views.OrgScopedViewSet``).
    """

    _scoped_org_id = None

    def for_org(self, organization):
        org_id = getattr(organization, "pk", organization)
        qs = self.filter(organization_id=org_id)
        qs._scoped_org_id = org_id
        return qs

    def _clone(self):
        clone = super()._clone()
        clone._scoped_org_id = self._scoped_org_id
        return clone


class OrgScopedModel(models.Model):
    """Base of every domain model: a UUID id, its organization, and timestamps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "arpilot.Organization", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        abstract = True


class SigningSecretFields(models.Model):
    """The secrets a model's outbound POSTs are signed with (``arpilot.outbound.signing``):
    the current one and, until ``previous_secret_expires_at``, the one it replaced."""

    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(max_length=64, default="UTC")
    maker_checker = models.BooleanField(
        default=False,
        help_text="A user (or API key) may not approve an accounting change their own action "
        "caused; another must approve it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="organizations"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        CLERK = "clerk", "Clerk"
        ADMIN = "admin", "Admin"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLERK)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"


class PrefixedKeyGenerator(KeyGenerator):
    """Keys read ``arp_<prefix>.<secret>``: recognisable in logs and by secret scanners."""

    def get_prefix(self) -> str:
        return API_KEY_PREFIX + super().get_prefix()


class OrganizationAPIKeyManager(BaseAPIKeyManager):
    key_generator = PrefixedKeyGenerator(prefix_length=8, secret_key_length=40)

    def get_usable_keys(self):
        return super().get_usable_keys().select_related("organization")


class OrganizationAPIKey(AbstractAPIKey):
    """An API key of one organization; only its sha512 hash is stored."""

    prefix = models.CharField(max_length=16, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = OrganizationAPIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"


class IdempotencyKey(models.Model):
    """The first response to a POST with an ``Idempotency-Key``, replayed to repeats."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key
