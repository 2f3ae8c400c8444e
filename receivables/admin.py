from django.contrib import admin

from arpilot.admin import ReadOnlyInline
from receivables.models import (
    Account,
    AplosContact,
    ExchangeRate,
    Fund,
    Invoice,
    InvoiceLine,
    InvoiceOfflinePayment,
    JournalEntry,
    JournalLine,
    ReceivablesCounter,
)


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["position", "amount", "note", "account", "fund"]
    readonly_fields = fields


class JournalEntryInline(ReadOnlyInline):
    model = JournalEntry
    fk_name = "invoice"
    fields = ["date", "kind", "memo", "source", "reverses", "created_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Money changes go through the API and services; here only the wording can change."""

    list_display = [
        "invoice_number",
        "organization",
        "customer",
        "currency",
        "amount",
        "amount_due",
        "status",
        "issue_date",
        "due_date",
    ]
    list_filter = ["status", "currency", "organization"]
    search_fields = ["invoice_number", "customer__company_name", "customer_name"]
    list_select_related = ["organization", "customer"]
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline, JournalEntryInline]
    readonly_fields = [
        "organization",
        "aplos_id",
        "invoice_number",
        "customer",
        "currency",
        "amount",
        "amount_due",
        "issue_date",
        "due_date",
        "status",
        "ar_account",
        "voided_at",
        "created_at",
        "updated_at",
    ]
    fields = [
        *readonly_fields[:4],
        "customer_name",
        "customer_address",
        *readonly_fields[4:],
        "notes",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["account_number", "name", "type", "role", "organization"]
    list_filter = ["type", "organization"]
    search_fields = ["name", "account_number"]
    readonly_fields = ["role"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Fund)
class FundAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "is_default", "organization"]
    list_filter = ["organization"]
    search_fields = ["name"]
    readonly_fields = ["is_default"]

    def has_delete_permission(self, request, obj=None):
        return False


class JournalLineInline(ReadOnlyInline):
    model = JournalLine
    fields = ["account", "fund", "debit", "credit"]
    readonly_fields = fields


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    """The ledger, read-only: entries are immutable, corrections are reversals."""

    list_display = ["date", "kind", "memo", "invoice", "organization", "created_at"]
    list_filter = ["kind", "organization"]
    search_fields = ["memo", "invoice__invoice_number"]
    list_select_related = ["invoice", "organization"]
    inlines = [JournalLineInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: viewable, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyAdmin):
    list_display = ["id", "invoice", "amount", "account", "fund", "note"]
    list_select_related = ["invoice", "account", "fund"]
    search_fields = ["invoice__invoice_number", "note"]


@admin.register(InvoiceOfflinePayment)
class InvoiceOfflinePaymentAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "amount", "received_date", "source", "created_at"]
    list_filter = ["source"]
    list_select_related = ["invoice"]
    search_fields = ["invoice__invoice_number"]


@admin.register(JournalLine)
class JournalLineAdmin(ReadOnlyAdmin):
    list_display = ["id", "entry", "account", "fund", "debit", "credit"]
    list_select_related = ["entry", "account", "fund"]
    search_fields = ["entry__memo"]


@admin.register(AplosContact)
class AplosContactAdmin(ReadOnlyAdmin):
    list_display = ["id", "customer", "type", "organization"]
    list_select_related = ["customer", "organization"]
    search_fields = ["customer__company_name"]


@admin.register(ReceivablesCounter)
class ReceivablesCounterAdmin(ReadOnlyAdmin):
    list_display = ["organization", "last_invoice_aplos_id"]


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ReadOnlyAdmin):
    """Rates are written through the API (checked there: the base currency, places)."""

    list_display = ["currency", "date", "rate", "organization", "updated_at"]
    list_filter = ["currency", "organization"]
    date_hierarchy = "date"
    list_select_related = ["organization"]
