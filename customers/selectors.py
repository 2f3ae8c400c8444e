from django.db.models import Count, Prefetch

from customers.models import Contact, Customer, Tag


def customer_list(*, organization):
    """Customers with their contacts and tags, in a fixed number of queries."""
    return Customer.objects.for_org(organization).prefetch_related(
        Prefetch(
            "contacts", queryset=Contact.objects.order_by("escalation_level", "contact_name", "id")
        ),
        Prefetch("tags", queryset=Tag.objects.order_by("name")),
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
