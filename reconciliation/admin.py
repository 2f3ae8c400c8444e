from django import forms
from django.contrib import admin, messages

from arpilot.admin import OrganizationAdminOnly
from arpilot.errors import ApplicationError
from reconciliation import services
from reconciliation.models import AccountingChange, SyncTarget


@admin.register(AccountingChange)
class AccountingChangeAdmin(admin.ModelAdmin):
    """Changes move only through the services: approve, reject (unapplying a payment
    application) and retry are actions here; nothing is edited by hand."""

    list_display = [
        "sequence",
        "organization",
        "change_type",
        "status",
        "amount",
        "invoice_number",
        "customer",
        "attempts",
        "created_at",
    ]
    list_filter = ["status", "change_type", "organization"]
    search_fields = [
        "invoice__invoice_number",
        "payload__invoice_number",
        "customer__company_name",
        "customer__external_id",
        "payload__customer_name",
        "payment__payer_name",
        "payment__payer_reference",
    ]
    list_select_related = ["organization", "invoice", "customer"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["approve", "reject", "retry"]
    readonly_fields = [
        "id",
        "organization",
        "sequence",
        "change_type",
        "status",
        "amount",
        "invoice",
        "customer",
        "payment",
        "payload",
        "approved_at",
        "synced_at",
        "failed_at",
        "rejected_at",
        "decided_by",
        "rejection_reason",
        "error_message",
        "attempts",
        "next_attempt_at",
        "locked_until",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Invoice", ordering="invoice__invoice_number")
    def invoice_number(self, obj):
        if obj.invoice is not None:
            return obj.invoice.invoice_number
        return obj.payload.get("invoice_number") or "—"

    def _run(self, request, queryset, service, verb: str) -> None:
        by_org: dict = {}
        for change_id, organization_id in queryset.values_list("pk", "organization_id"):
            by_org.setdefault(organization_id, []).append(change_id)
        updated, skipped = 0, []
        for organization_id, ids in by_org.items():
            try:
                result = service(
                    organization=organization_id,
                    change_ids=ids,
                    decided_by=f"admin:{request.user.get_username()}",
                )
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            updated += len(result.updated)
            skipped += result.skipped
        self.message_user(request, f"{verb} {updated} change(s).", messages.SUCCESS)
        if skipped:
            shown = "; ".join(f"{item['id']}: {item['reason']}" for item in skipped[:10])
            self.message_user(request, f"Skipped {len(skipped)}: {shown}", messages.WARNING)

    @admin.action(description="Approve selected pending changes")
    def approve(self, request, queryset):
        self._run(request, queryset, services.changes_approve, "Approved")

    @admin.action(description="Reject selected changes (unapplies payment applications)")
    def reject(self, request, queryset):
        self._run(request, queryset, services.changes_reject, "Rejected")

    @admin.action(description="Retry selected failed changes")
    def retry(self, request, queryset):
        self._run(request, queryset, services.changes_retry, "Queued again")


class SyncTargetForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = SyncTarget
        fields = ["url", "enabled"]


@admin.register(SyncTarget)
class SyncTargetAdmin(OrganizationAdminOnly, admin.ModelAdmin):
    form = SyncTargetForm
    list_display = ["url", "organization", "enabled", "last_success_at", "last_failure_at"]
    list_filter = ["enabled", "organization"]
    search_fields = ["url", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = [
        "id",
        "organization",
        "previous_secret_expires_at",
        "locked_until",
        "last_success_at",
        "last_failure_at",
        "last_error",
        "created_at",
        "updated_at",
    ]
    actions = ["rotate_secret", "sync_now"]

    def has_add_permission(self, request):
        return False  # configured through the API, which returns the secret once

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.sync_target_save(organization=obj.organization, **changes)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description="Rotate the signing secret (old one signs for 24 hours)")
    def rotate_secret(self, request, queryset):
        for target in queryset:
            services.sync_target_rotate_secret(target=target)
        self.message_user(request, f"Rotated {queryset.count()} secret(s).")

    @admin.action(description="Push approved changes now")
    def sync_now(self, request, queryset):
        for target in queryset:
            services.sync_kick(target.organization_id)
        self.message_user(request, f"Queued {queryset.count()} sync run(s).")
