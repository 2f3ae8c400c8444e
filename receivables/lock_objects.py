"""``select_for_update`` querysets of receivables, always locked in primary-key order."""

from arpilot.compiled import CompiledRows, Slot
from customers.models import Customer
from receivables.models import Account, Invoice

_RELATED = (("customer", Customer), ("ar_account", Account))
_FIELDS = {
    name: tuple(field.attname for field in model._meta.concrete_fields)
    for name, model in (("self", Invoice), *_RELATED)
}


def _locking_read(organization, ids):
    # Read with it: the customer (its timezone decides overdue) and the receivable account
    # (every money move posts to it); only the invoice rows are locked.
    columns = list(_FIELDS["self"])
    for name, _ in _RELATED:
        columns += [f"{name}__{attname}" for attname in _FIELDS[name]]
    return (
        Invoice.objects.for_org(organization)
        .filter(pk__any=ids)
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list(*columns)
    )


# Every money move takes it: compiled once (``arpilot.compiled``), the rows made into the
# instances ``select_related("customer", "ar_account")`` would give.
_LOCK = CompiledRows(Invoice, _locking_read, Slot("organization", -7_000_000_001), Slot("ids"))


def invoices_for_update(organization, ids) -> list[Invoice]:
    """Lock the organization's invoices ``ids`` (in id order, so lockers never deadlock),
    with their customer and receivable account loaded."""
    if not ids:
        return []
    db = Invoice.objects.db
    invoices = []
    for row in _LOCK.rows(organization=getattr(organization, "pk", organization), ids=list(ids)):
        width = len(_FIELDS["self"])
        invoice = Invoice.from_db(db, _FIELDS["self"], row[:width])
        for name, model in _RELATED:
            related = model.from_db(db, _FIELDS[name], row[width : width + len(_FIELDS[name])])
            width += len(_FIELDS[name])
            setattr(invoice, name, related)
        invoices.append(invoice)
    return invoices
