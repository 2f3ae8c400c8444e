"""``select_for_update`` querysets of receivables, always locked in primary-key order."""

from receivables.models import Invoice


def invoices_for_update(organization, ids) -> list[Invoice]:
    """Lock the organization's invoices ``ids`` (in id order, so lockers never deadlock)."""
    if not ids:
        return []
    return list(
        Invoice.objects.for_org(organization)
        .filter(pk__in=list(ids))
        .order_by("pk")
        .select_related("customer")  # read with it: its timezone decides overdue
        .select_for_update(of=("self",))
    )
