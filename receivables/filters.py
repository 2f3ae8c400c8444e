"""FilterSets of receivables, shared by the API and (later) the clerk pages."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q

from arpilot.api.filtering import FilterSet
from customers.models import Contact
from receivables.models import ExchangeRate, Invoice, InvoiceLine


class InvoiceFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices, help_text="Status")
    customer_id = django_filters.UUIDFilter(field_name="customer_id", help_text="Customer UUID")
    currency = django_filters.CharFilter(
        method="filter_currency", help_text="ISO 4217 code (case-insensitive)"
    )
    due_date_from = django_filters.DateFilter(
        field_name="due_date", lookup_expr="gte", help_text="Due on or after (YYYY-MM-DD)"
    )
    due_date_to = django_filters.DateFilter(
        field_name="due_date", lookup_expr="lte", help_text="Due on or before (YYYY-MM-DD)"
    )
    issue_date_from = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="gte", help_text="Issued on or after (YYYY-MM-DD)"
    )
    issue_date_to = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="lte", help_text="Issued on or before (YYYY-MM-DD)"
    )
    amount_min = django_filters.NumberFilter(
        field_name="amount", lookup_expr="gte", help_text="Amount at least"
    )
    amount_max = django_filters.NumberFilter(
        field_name="amount", lookup_expr="lte", help_text="Amount at most"
    )
    search = django_filters.CharFilter(
        method="filter_search",
        help_text="Part of the invoice number or of the customer name (case-insensitive)",
    )

    class Meta:
        model = Invoice
        fields = []

    def filter_currency(self, queryset, name, value):
        value = value.strip().upper()
        return queryset.filter(currency=value) if value else queryset

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(invoice_number__icontains=value)
            | Q(customer_name__icontains=value)
            | (Q(customer_name="") & Q(customer__company_name__icontains=value))
        )


class ExchangeRateFilterSet(FilterSet):
    currency = django_filters.CharFilter(
        method="filter_currency", help_text="ISO 4217 code (case-insensitive)"
    )
    date_from = django_filters.DateFilter(
        field_name="date", lookup_expr="gte", help_text="Dated on or after (YYYY-MM-DD)"
    )
    date_to = django_filters.DateFilter(
        field_name="date", lookup_expr="lte", help_text="Dated on or before (YYYY-MM-DD)"
    )

    class Meta:
        model = ExchangeRate
        fields = []

    def filter_currency(self, queryset, name, value):
        value = value.strip().upper()
        return queryset.filter(currency=value) if value else queryset


class BigIntegerFormField(forms.IntegerField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class IntegerFilter(django_filters.Filter):
    field_class = BigIntegerFormField


APLOS_DATE_FORMAT = "%Y-%m-%d"


class AplosReceivableFilterSet(FilterSet):
    """The nine ``f_`` filters of the Aplos receivables search."""

    f_accountnumber = IntegerFilter(method="filter_account_number")
    f_amount = django_filters.NumberFilter(field_name="amount")
    f_contact = IntegerFilter(field_name="customer__aplos_contact__id")
    f_contactname = django_filters.CharFilter(method="filter_contact_name")
    f_fund = IntegerFilter(method="filter_fund")
    f_note = django_filters.CharFilter(field_name="notes", lookup_expr="icontains")
    # Only yyyy-MM-dd (Django's other input formats, e.g. 12/31/2014, are a 400 here).
    f_rangestart = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="gte", input_formats=[APLOS_DATE_FORMAT]
    )
    f_rangeend = django_filters.DateFilter(
        field_name="issue_date", lookup_expr="lte", input_formats=[APLOS_DATE_FORMAT]
    )
    f_referencenum = django_filters.CharFilter(field_name="invoice_number", lookup_expr="iexact")

    class Meta:
        model = Invoice
        fields = []

    def filter_account_number(self, queryset, name, value):
        lines = InvoiceLine.objects.filter(invoice=OuterRef("pk"), account__account_number=value)
        return queryset.filter(Exists(lines))

    def filter_fund(self, queryset, name, value):
        return queryset.filter(
            Exists(InvoiceLine.objects.filter(invoice=OuterRef("pk"), fund_id=value))
        )

    def filter_contact_name(self, queryset, name, value):
        contacts = Contact.objects.filter(
            customer_id=OuterRef("customer_id"), contact_name__icontains=value
        )
        return queryset.filter(
            Q(customer__company_name__icontains=value)
            | Q(customer_name__icontains=value)
            | Exists(contacts)
        )
