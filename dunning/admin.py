from django.contrib import admin

from arpilot.admin import ReadOnlyInline
from dunning.models import (
    CustomerNote,
    Dispute,
    DisputeReason,
    DunningLevel,
    DunningPolicy,
    Promise,
    PromiseInvoice,
    Reminder,
    ReminderInvoice,
)


class LevelInline(admin.StackedInline):
    model = DunningLevel
    extra = 0
    fields = [
        "level",
        "days_after_due",
        "contact_escalation_levels",
        "subject",
        "body_text",
        "body_html",
        "attach_statement",
    ]


@admin.register(DunningPolicy)
class DunningPolicyAdmin(admin.ModelAdmin):
    list_display = ["organization", "enabled", "run_at", "minimum_overdue", "last_run_on"]
    list_filter = ["enabled"]
    search_fields = ["organization__name"]
    list_select_related = ["organization"]
    readonly_fields = ["organization", "last_run_on"]
    inlines = [LevelInline]


@admin.register(DunningLevel)
class DunningLevelAdmin(admin.ModelAdmin):
    list_display = ["policy", "level", "days_after_due", "attach_statement", "organization"]
    list_filter = ["level", "attach_statement"]
    search_fields = ["subject", "organization__name"]
    list_select_related = ["organization", "policy"]
    raw_id_fields = ["policy"]


class ReminderInvoiceInline(ReadOnlyInline):
    model = ReminderInvoice
    fields = ["invoice", "level", "amount_due", "days_overdue", "released"]
    readonly_fields = fields


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """Reminders are decided by the run and settled by the send check: read-only here."""

    list_display = ["created_at", "customer", "level", "status", "total", "run_date"]
    list_filter = ["status", "level", "organization"]
    search_fields = ["customer__company_name", "subject", "lines__invoice__invoice_number"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    inlines = [ReminderInvoiceInline]
    readonly_fields = [
        "organization",
        "customer",
        "level",
        "status",
        "to",
        "subject",
        "total",
        "run_date",
        "attach_statement",
        "email_id",
        "sent_at",
        "cancelled_reason",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(ReminderInvoice)
class ReminderInvoiceAdmin(admin.ModelAdmin):
    list_display = ["invoice", "level", "amount_due", "days_overdue", "released", "reminder"]
    list_filter = ["level", "released"]
    search_fields = ["invoice__invoice_number"]
    list_select_related = ["invoice", "reminder"]
    raw_id_fields = ["reminder", "invoice"]


class PromiseInvoiceInline(admin.TabularInline):
    model = PromiseInvoice
    extra = 0
    raw_id_fields = ["invoice"]
    fields = ["invoice"]


@admin.register(Promise)
class PromiseAdmin(admin.ModelAdmin):
    list_display = ["customer", "amount", "promised_date", "status", "created_at"]
    list_filter = ["status", "organization"]
    search_fields = ["customer__company_name", "note"]
    list_select_related = ["customer"]
    date_hierarchy = "promised_date"
    raw_id_fields = ["customer", "contact"]
    readonly_fields = ["organization", "amount_due_at_promise", "resolved_at"]
    inlines = [PromiseInvoiceInline]


@admin.register(PromiseInvoice)
class PromiseInvoiceAdmin(admin.ModelAdmin):
    list_display = ["promise", "invoice"]
    search_fields = ["invoice__invoice_number"]
    list_select_related = ["promise", "invoice"]
    raw_id_fields = ["promise", "invoice"]


@admin.register(DisputeReason)
class DisputeReasonAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "is_active", "organization"]
    list_filter = ["is_active", "organization"]
    search_fields = ["code", "label"]
    list_select_related = ["organization"]


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = ["invoice", "reason", "status", "resolution", "created_at", "resolved_at"]
    list_filter = ["status", "resolution", "reason__code"]
    search_fields = ["invoice__invoice_number", "note", "resolution_note"]
    list_select_related = ["invoice", "reason"]
    raw_id_fields = ["invoice"]


@admin.register(CustomerNote)
class CustomerNoteAdmin(admin.ModelAdmin):
    list_display = ["created_at", "customer", "kind", "contact", "created_by_name"]
    list_filter = ["kind", "organization"]
    search_fields = ["customer__company_name", "body"]
    list_select_related = ["customer", "contact"]
    date_hierarchy = "created_at"
    raw_id_fields = ["customer", "contact"]
    readonly_fields = ["organization", "created_by", "created_by_name"]
