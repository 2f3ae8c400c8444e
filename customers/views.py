"""Clerk pages of customers: the searchable list and a customer's page."""

from itertools import groupby

from django.shortcuts import render

from arpilot.workspace import org_object_or_404, paginate, workspace_view
from customers import selectors
from customers.filters import CustomerFilterSet


@workspace_view
def customer_list(request):
    """Customers, searchable by name or external id, filtered by tag, with what each owes
    (open balance) and how much of it is late (overdue)."""
    organization = request.organization
    filterset = CustomerFilterSet(
        request.GET, queryset=selectors.customer_list_with_balances(organization=organization)
    )
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = paginate(request, queryset.order_by("company_name", "id"))
    return render(
        request,
        "customers/customer_list.html",
        {
            "filterset": filterset,
            "page_obj": page,
            "customers": page.object_list,
            "tags": selectors.tag_list(organization=organization),
        },
    )


@workspace_view
def customer_detail(request, pk):
    """A customer: balances, contacts by escalation level and tags; open invoices and aging,
    payments and the activity timeline load in panels of the apps that hold them."""
    customer = org_object_or_404(
        selectors.customer_list_with_balances(organization=request.organization), pk=pk
    )
    contacts = list(customer.contacts.all())
    levels = [
        (level, list(group))
        for level, group in groupby(contacts, key=lambda contact: contact.escalation_level)
    ]
    return render(
        request,
        "customers/customer_detail.html",
        {"customer": customer, "levels": levels, "tags": list(customer.tags.all())},
    )
