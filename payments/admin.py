from django import forms
from django.contrib import admin

from arpilot.admin import ReadOnlyInline
from arpilot.errors import ValidationFailed
from payments.models import (
    CreditRefund,
    MatchRule,
    MatchSuggestion,
    PayerCustomerHistory,
    Payment,
    PaymentAllocation,
    PaymentImport,
    PaymentSettings,
    Remittance,
    RemittanceLine,
)


class AllocationInline(ReadOnlyInline):
    model = PaymentAllocation
    fields = [
        "invoice",
        "amount",
        "write_off_amount",
        "applied_by",
        "journal_entry",
        "write_off_entry",
        "created_at",
        "unapplied_at",
        "unapplied_by_clerk",
        "unapply_reason",
    ]
    readonly_fields = fields
    raw_id_fields = ["invoice"]


class SuggestionInline(ReadOnlyInline):
    model = MatchSuggestion
    fields = ["rank", "invoice_numbers", "amount", "score", "reasons"]
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Money moves through the API and services; here only notes and the payer's wording."""

    list_display = [
        "payment_date",
        "amount",
        "payer_name",
        "status",
        "applied_amount",
        "reviewed",
        "auto_applied",
        "source",
        "organization",
    ]
    list_filter = ["status", "reviewed", "auto_applied", "source", "organization"]
    search_fields = ["payer_name", "payer_reference", "external_payment_id"]
    list_select_related = ["organization"]
    date_hierarchy = "payment_date"
    inlines = [AllocationInline, SuggestionInline]
    readonly_fields = [
        "organization",
        "amount",
        "payment_date",
        "payment_method",
        "external_payment_id",
        "currency",
        "bank_account",
        "status",
        "applied_amount",
        "written_off_amount",
        "refunded_amount",
        "customer",
        "reviewed",
        "reviewed_at",
        "auto_applied",
        "unapplied_by_clerk",
        "source",
        "payment_import",
        "line_number",
        "fingerprint",
        "created_at",
        "updated_at",
    ]
    fields = [
        "organization",
        "amount",
        "payment_date",
        "payment_method",
        "payer_name",
        "payer_reference",
        "external_payment_id",
        "notes",
        *readonly_fields[5:],
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(admin.ModelAdmin):
    list_display = [
        "payment",
        "invoice",
        "amount",
        "write_off_amount",
        "applied_by",
        "created_at",
        "unapplied_at",
    ]
    list_filter = ["applied_by", "organization"]
    list_select_related = ["payment", "invoice"]
    raw_id_fields = ["payment", "invoice"]
    readonly_fields = [field.name for field in PaymentAllocation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PaymentImport)
class PaymentImportAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "filename",
        "format",
        "status",
        "total",
        "created_count",
        "duplicates_count",
        "debits_skipped",
        "organization",
    ]
    list_filter = ["status", "format", "organization"]
    search_fields = ["filename"]
    exclude = ["data"]
    readonly_fields = [
        "organization",
        "status",
        "format",
        "filename",
        "file_size",
        "csv_mapping",
        "bank_account",
        "currency",
        "total",
        "processed",
        "created_count",
        "duplicates_count",
        "debits_skipped",
        "rejected",
        "error",
        "started_at",
        "finished_at",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")


@admin.register(MatchSuggestion)
class MatchSuggestionAdmin(admin.ModelAdmin):
    list_display = ["payment", "rank", "invoice_numbers", "amount", "score", "created_at"]
    list_filter = ["organization"]
    raw_id_fields = ["payment"]
    readonly_fields = [
        "organization",
        "payment",
        "rank",
        "invoice_ids",
        "invoice_numbers",
        "amount",
        "score",
        "reasons",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(PaymentSettings)
class PaymentSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "organization",
        "write_off_tolerance",
        "auto_apply_enabled",
        "auto_apply_threshold",
        "auto_apply_margin",
        "auto_apply_max_age_days",
        "auto_apply_credit",
    ]
    raw_id_fields = ["write_off_account"]


@admin.register(PayerCustomerHistory)
class PayerCustomerHistoryAdmin(admin.ModelAdmin):
    list_display = ["payer_key", "customer", "count", "organization", "updated_at"]
    search_fields = ["payer_key"]
    raw_id_fields = ["customer"]


@admin.register(CreditRefund)
class CreditRefundAdmin(admin.ModelAdmin):
    """Refunds of customer credit: recorded by the service (with their ledger entry)."""

    list_display = ["refund_date", "amount", "currency", "customer", "method", "organization"]
    list_filter = ["currency", "method", "refund_date", "organization"]
    search_fields = ["reference", "method", "customer__company_name", "payment__payer_name"]
    list_select_related = ["customer", "organization"]
    readonly_fields = [
        "organization",
        "payment",
        "customer",
        "amount",
        "currency",
        "refund_date",
        "method",
        "reference",
        "journal_entry",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False


class RemittanceLineInline(ReadOnlyInline):
    model = RemittanceLine
    fields = ["line_number", "reference", "invoice", "amount", "deduction", "status", "message"]
    raw_id_fields = ["invoice"]


@admin.register(Remittance)
class RemittanceAdmin(admin.ModelAdmin):
    """Remittance advice as received, with the payment it was linked to and its lines."""

    list_display = ["created_at", "format", "total", "status", "payment", "organization"]
    list_filter = ["status", "format", "organization"]
    search_fields = ["filename", "payer_name", "payment_reference", "lines__reference"]
    raw_id_fields = ["payment"]
    readonly_fields = ["organization", "format", "content", "total", "rejected", "created_at"]
    inlines = [RemittanceLineInline]


@admin.register(RemittanceLine)
class RemittanceLineAdmin(admin.ModelAdmin):
    """Each invoice a remittance advice named, what was paid and deducted, what became of it."""

    list_display = ["reference", "invoice", "amount", "deduction", "status", "remittance"]
    list_filter = ["status", "remittance__organization"]
    search_fields = ["reference", "message", "deduction_reason"]
    raw_id_fields = ["remittance", "invoice"]


class MatchRuleAdminForm(forms.ModelForm):
    """Patterns checked as the service checks them (400s here become form errors)."""

    class Meta:
        model = MatchRule
        fields = [
            "organization",
            "name",
            "sequence",
            "active",
            "payer_contains",
            "payer_regex",
            "reference_regex",
            "amount_min",
            "amount_max",
            "currency",
            "action",
            "customer",
            "write_off_account",
            "write_off_tolerance",
        ]

    def clean(self):
        data = super().clean()
        from payments.services import rules

        for name, groups in (("payer_regex", ()), ("reference_regex", rules.CAPTURE_GROUPS)):
            try:
                rules.pattern_compile(data.get(name) or "", name, groups=frozenset(groups))
            except ValidationFailed as exc:
                self.add_error(name, exc.message)
        return data


@admin.register(MatchRule)
class MatchRuleAdmin(admin.ModelAdmin):
    """An organization's matching rules (clerks keep them at Payments → Matching rules)."""

    form = MatchRuleAdminForm
    list_display = ["name", "sequence", "action", "active", "organization"]
    list_filter = ["action", "active", "organization"]
    search_fields = ["name", "payer_contains", "reference_regex"]
    raw_id_fields = ["customer", "write_off_account"]

    def save_model(self, request, obj, form, change):
        # Matching reads whether rules exist along with the payment-settings row.
        from payments.services import payment_settings_get

        payment_settings_get(organization=obj.organization_id)
        super().save_model(request, obj, form, change)
