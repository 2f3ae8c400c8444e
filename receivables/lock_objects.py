"""``select_for_update`` querysets of receivables, always locked in primary-key order."""

from arpilot.compiled import CompiledInstances, Slot, organization_slot
from customers.models import Customer
from receivables.models import Account, Invoice

# Every money move takes it: compiled once (``arpilot.compiled``). Read with it: the customer
# (its timezone decides overdue) and the receivable account (every money move posts to it);
# only the invoice rows are locked.
_LOCK = CompiledInstances(
    Invoice,
    lambda organization, ids: (
        Invoice.objects.for_org(organization)
        .filter(pk__any=ids)
        .order_by("pk")
        .select_for_update(of=("self",))
    ),
    organization_slot(),
    Slot("ids"),
    related=(("customer", Customer), ("ar_account", Account)),
)


def invoices_for_update(organization, ids) -> list[Invoice]:
    """Lock the organization's invoices ``ids`` (in id order, so lockers never deadlock),
    with their customer and receivable account loaded."""
    if not ids:
        return []
    return _LOCK.get(organization=getattr(organization, "pk", organization), ids=list(ids))
