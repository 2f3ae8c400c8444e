from django.contrib import admin, messages

from arpilot import services
from arpilot.models import IdempotencyKey, Membership, Organization, OrganizationAPIKey


def is_organization_admin(request) -> bool:
    """A superuser, or a user who is an admin of some organization (once per request)."""
    cached = getattr(request, "_arpilot_organization_admin", None)
    if cached is None:
        user = request.user
        cached = user.is_active and (
            user.is_superuser
            or Membership.objects.filter(user=user, role=Membership.Role.ADMIN).exists()
        )
        request._arpilot_organization_admin = cached
    return cached


class OrganizationAdminOnly:
    """Models that only organization admins manage (webhook endpoints, the sync target, API
    keys, members): a staff user who is only a clerk neither sees nor changes them."""

    def has_view_permission(self, request, obj=None):
        return is_organization_admin(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return is_organization_admin(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return is_organization_admin(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_organization_admin(request) and super().has_delete_permission(request, obj)


class ReadOnlyInline(admin.TabularInline):
    """An inline that shows history and never edits it (allocations, ledger lines)."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(OrganizationAdminOnly, admin.ModelAdmin):
    list_display = ["id", "name", "currency", "timezone", "created_at"]
    search_fields = ["name"]
    list_filter = ["currency"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(OrganizationAdminOnly, admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "user__email", "organization__name"]
    list_select_related = ["user", "organization"]


@admin.register(OrganizationAPIKey)
class OrganizationAPIKeyAdmin(OrganizationAdminOnly, admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "organization",
        "created",
        "revoked",
        "expiry_date",
        "last_used_at",
    ]
    list_filter = ["revoked", "organization"]
    search_fields = ["name", "prefix", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = ["prefix", "created", "last_used_at"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, key = services.api_key_create(organization=obj.organization, name=obj.name)
        obj.pk = api_key.pk
        self.message_user(
            request,
            f"The new API key is: {key} — copy it now, it is shown once.",
            level=messages.WARNING,
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset.filter(revoked=False):
            services.api_key_revoke(api_key=api_key)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "organization", "state", "response_status", "created_at"]
    list_filter = ["state", "organization"]
    search_fields = ["key"]
    readonly_fields = [f.name for f in IdempotencyKey._meta.fields]
