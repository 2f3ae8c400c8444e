from decimal import Decimal

from django.db.models import Count, Prefetch, Q, Sum

from customers.models import Contact, Customer, Tag

# The invoice statuses that still owe money, and the late one (receivables' Invoice.
# OPEN_STATUSES and Status.OVERDUE: customers sits below receivables, so it names them here
# and a test keeps the two the same).
OPEN_INVOICE_STATUSES = ("pending", "partial", "overdue")
OVERDUE_INVOICE_STATUS = "overdue"
_ZERO = Decimal("0.00")


def customer_list(*, organization):
    """Customers with their contacts and tags, in a fixed number of queries."""
    return Customer.objects.for_org(organization).prefetch_related(
        Prefetch(
            "contacts", queryset=Contact.objects.order_by("escalation_level", "contact_name", "id")
        ),
        Prefetch("tags", queryset=Tag.objects.order_by("name")),
    )


def customer_list_with_balances(*, organization):
    """``customer_list`` with each customer's ``open_balance`` and ``overdue_balance`` (the
    amount due of its open and of its overdue invoices), in the same query."""
    return customer_list(organization=organization).annotate(
        open_balance=Sum(
            "invoices__amount_due",
            filter=Q(invoices__status__in=OPEN_INVOICE_STATUSES),
            default=_ZERO,
        ),
        overdue_balance=Sum(
            "invoices__amount_due",
            filter=Q(invoices__status=OVERDUE_INVOICE_STATUS),
            default=_ZERO,
        ),
        overdue_count=Count("invoices", filter=Q(invoices__status=OVERDUE_INVOICE_STATUS)),
    )


def contact_list(*, organization):
    return Contact.objects.for_org(organization).order_by(
        "customer_id", "escalation_level", "contact_name", "id"
    )


def tag_list(*, organization):
    return (
        Tag.objects.for_org(organization)
        .annotate(customer_count=Count("customers"))
        .order_by("name", "id")
    )


def tag_detail(*, organization):
    return tag_list(organization=organization).prefetch_related(
        Prefetch("customers", queryset=Customer.objects.only("id").order_by("company_name", "id"))
    )
