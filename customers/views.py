"""Clerk pages of customers: the searchable list and a customer's page."""

from itertools import groupby

from django.db.models import Count, Q, Sum
from django.shortcuts import render

from arpilot.money import ZERO
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


def _with_base_balances(queryset, organization):
    """``queryset`` with each customer's open and overdue balance of its invoices in the
    organization's base currency and the count of its open invoices in another (in the same
    query): a foreign amount is never added to a base one. Those invoices count in base, at
    their booked rates, in the receivables panel's aging (customers cannot read the rates)."""
    base = (getattr(organization, "currency", "") or "USD").upper()
    open_q = Q(invoices__status__in=selectors.OPEN_INVOICE_STATUSES)
    in_base = Q(invoices__currency=base)
    return queryset.annotate(
        base_open_balance=Sum("invoices__amount_due", filter=open_q & in_base, default=ZERO),
        base_overdue_balance=Sum(
            "invoices__amount_due",
            filter=Q(invoices__status=selectors.OVERDUE_INVOICE_STATUS) & in_base,
            default=ZERO,
        ),
        other_currency_open_count=Count("invoices", filter=open_q & ~in_base),
    )


@workspace_view
def customer_detail(request, pk):
    """A customer: balances, contacts by escalation level and tags; open invoices and aging,
    payments and the activity timeline load in panels of the apps that hold them."""
    organization = request.organization
    customer = org_object_or_404(
        _with_base_balances(
            selectors.customer_list_with_balances(organization=organization), organization
        ),
        pk=pk,
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
