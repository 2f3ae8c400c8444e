from decimal import Decimal

from django.db.models import Count, Prefetch, Q, Sum

from arpilot.compiled import CompiledInstances, Slot, organization_slot
from customers.models import Contact, Customer, Tag

# The invoice statuses that still owe money, and the late one (receivables' Invoice.
# OPEN_STATUSES and Status.OVERDUE: customers sits below receivables, so it names them here
# and a test keeps the two the same).
OPEN_INVOICE_STATUSES = ("pending", "partial", "overdue")
OVERDUE_INVOICE_STATUS = "overdue"
_ZERO = Decimal("0.00")


CONTACT_ORDER = ("escalation_level", "contact_name", "id")


def customer_list(*, organization):
    """Customers with their contacts and tags, in a fixed number of queries."""
    return Customer.objects.for_org(organization).prefetch_related(
        Prefetch("contacts", queryset=Contact.objects.order_by(*CONTACT_ORDER)),
        Prefetch("tags", queryset=Tag.objects.order_by("name")),
    )


# ``GET /customers/{id}``, every API client's lookup: its three statements compiled once
# (``arpilot.compiled``), the same SQL as ``customer_list``'s and its prefetches'.
_CUSTOMER = CompiledInstances(
    Customer,
    lambda organization, pk: (
        Customer.objects.for_org(organization).filter(pk__eq=pk).order_by("pk")
    ),
    organization_slot(),
    Slot("pk"),
    limit=1,
)
_CONTACTS = CompiledInstances(
    Contact,
    lambda customer: Contact.objects.filter(customer_id__eq=customer).order_by(*CONTACT_ORDER),
    Slot("customer"),
)
_TAGS = CompiledInstances(
    Tag,
    lambda customer: Tag.objects.filter(customers__id__eq=customer).order_by("name"),
    Slot("customer"),
)


def customer_detail(*, organization, pk) -> Customer | None:
    """The organization's customer ``pk`` as ``customer_list`` gives it (contacts and tags
    held as its prefetches hold them), or None."""
    found = _CUSTOMER.get(organization=getattr(organization, "pk", organization), pk=pk)
    if not found:
        return None
    customer = found[0]
    contacts = _CONTACTS.get(customer=customer.pk)
    for contact in contacts:
        Contact.customer.field.set_cached_value(contact, customer)
    customer._prefetched_objects_cache = {}
    _hold(customer, "contacts", contacts)
    _hold(customer, "tags", _TAGS.get(customer=customer.pk))
    return customer


def _hold(instance, name: str, objects: list) -> None:
    """Hold ``objects`` as ``instance.<name>``'s prefetched rows (a queryset whose results are
    in, as ``prefetch_related`` leaves it: ``all()``, ``count()`` and the like read no more)."""
    queryset = getattr(instance, name).get_queryset()
    queryset._result_cache = objects
    queryset._prefetch_done = True
    instance._prefetched_objects_cache[name] = queryset


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
