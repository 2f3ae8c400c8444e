from django.contrib import admin

from credits.models import (
    CreditNote,
    CreditNoteAllocation,
    CreditNoteLine,
    Deduction,
    DeductionReason,
)


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


class CreditNoteLineInline(admin.TabularInline):
    model = CreditNoteLine
    extra = 0
    fields = ["position", "amount", "description", "account", "fund"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class CreditNoteAllocationInline(admin.TabularInline):
    model = CreditNoteAllocation
    extra = 0
    fields = ["invoice", "amount", "created_at", "created_by", "unapplied_at", "unapplied_by"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CreditNote)
class CreditNoteAdmin(admin.ModelAdmin):
    """Credit notes are posted, applied and voided through the services (money moves with
    them): the money fields are read-only here; the memo may be edited."""

    list_display = [
        "number",
        "issue_date",
        "customer",
        "currency",
        "amount",
        "amount_remaining",
        "status",
        "organization",
    ]
    list_filter = ["status", "currency", "organization"]
    search_fields = ["number", "customer__company_name", "invoice__invoice_number", "memo"]
    list_select_related = ["customer", "organization"]
    date_hierarchy = "issue_date"
    raw_id_fields = ["customer", "invoice", "ar_account"]
    readonly_fields = [
        "organization",
        "number",
        "customer",
        "currency",
        "exchange_rate",
        "issue_date",
        "invoice",
        "status",
        "amount",
        "amount_remaining",
        "ar_account",
        "journal_entry",
        "void_entry",
        "posted_at",
        "voided_at",
    ]
    inlines = [CreditNoteLineInline, CreditNoteAllocationInline]


@admin.register(CreditNoteAllocation)
class CreditNoteAllocationAdmin(admin.ModelAdmin):
    """Applied and unapplied through the services; read-only here."""

    list_display = ["credit_note", "invoice", "amount", "created_at", "unapplied_at"]
    list_filter = [("unapplied_at", admin.EmptyFieldListFilter), "organization"]
    search_fields = ["credit_note__number", "invoice__invoice_number", "created_by"]
    list_select_related = ["credit_note", "invoice"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CreditNoteLine)
class CreditNoteLineAdmin(admin.ModelAdmin):
    list_display = ["credit_note", "position", "amount", "account", "fund"]
    list_filter = ["organization"]
    search_fields = ["credit_note__number", "description", "account__name"]
    list_select_related = ["credit_note", "account", "fund"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
