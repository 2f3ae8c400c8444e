import django_filters
from django.db.models import Q

from arpilot.api.filtering import FilterSet
from customers.models import Contact, Customer


class CustomerFilterSet(FilterSet):
    search = django_filters.CharFilter(
        method="filter_search", label="Company name or external customer ID (case-insensitive)"
    )
    tag_id = django_filters.UUIDFilter(method="filter_tag", label="Customers carrying this tag")

    class Meta:
        model = Customer
        fields = ["search", "tag_id"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(company_name__icontains=value) | Q(external_id__icontains=value))

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__id=value)


class ContactFilterSet(FilterSet):
    customer_id = django_filters.UUIDFilter(
        field_name="customer_id", required=True, label="Customer UUID (required)"
    )

    class Meta:
        model = Contact
        fields = ["customer_id"]
