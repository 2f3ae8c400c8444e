from django.contrib import admin

from credits.models import Deduction, DeductionReason


@admin.register(DeductionReason)
class DeductionReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "account", "is_active", "organization"]
    list_filter = ["is_active", "organization"]
    search_fields = ["code", "name", "account__name"]
    list_select_related = ["organization", "account"]
    raw_id_fields = ["account"]


@admin.register(Deduction)
class DeductionAdmin(admin.ModelAdmin):
    """Deductions are opened and resolved through the services (money moves with them):
    the money fields are read-only here; the note may be edited."""

    list_display = [
        "created_at",
        "invoice",
        "customer",
        "amount",
        "reason",
        "status",
        "resolution",
        "resolved_at",
    ]
    list_filter = ["status", "resolution", "reason__code", "organization"]
    search_fields = [
        "invoice__invoice_number",
        "customer__company_name",
        "note",
        "resolution_note",
    ]
    list_select_related = ["invoice", "customer", "reason"]
    date_hierarchy = "created_at"
    raw_id_fields = ["invoice", "customer", "payment", "reason"]
    readonly_fields = [
        "organization",
        "invoice",
        "customer",
        "payment",
        "amount",
        "status",
        "resolution",
        "resolution_amount",
        "resolved_at",
        "journal_entry",
        "accounting_change",
        "rebill_invoice",
    ]
