"""Row locks for customer writes. Lock order across the project: customer, then contacts."""

from customers.models import Customer


def customer_for_update(*, organization, customer_id):
    return Customer.objects.for_org(organization).select_for_update().get(pk=customer_id)
