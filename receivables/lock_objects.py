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
        # Read with it: the customer (its timezone decides overdue) and the receivable
        # account (every money move posts to it); only the invoice rows are locked.
        .select_related("customer", "ar_account")
        .select_for_update(of=("self",))
    )
