"""What the invoice list page reads from its query string, besides the FilterSet the API
shares: the sort order, the filters in force (as removable chips) and errors in words."""

from dataclasses import dataclass

from django.http import QueryDict

# ?sort= value → (column label, ordering). The id last keeps pages stable.
INVOICE_SORTS = {
    "number": ("Invoice", ("invoice_number", "id")),
    "customer": ("Customer", ("customer__company_name", "invoice_number", "id")),
    "issued": ("Issued", ("issue_date", "created_at", "id")),
    "due": ("Due", ("due_date", "invoice_number", "id")),
    "amount": ("Amount", ("amount", "invoice_number", "id")),
    "amount_due": ("Amount due", ("amount_due", "invoice_number", "id")),
    "status": ("Status", ("status", "invoice_number", "id")),
}
DEFAULT_ORDER = ("-issue_date", "-created_at", "id")

# How the page names each query parameter (the FilterSet's, and the page's own).
FILTER_LABELS = {
    "search": "Search",
    "status": "Status",
    "customer_id": "Customer",
    "due_date_from": "Due date from",
    "due_date_to": "Due date to",
    "issue_date_from": "Issue date from",
    "issue_date_to": "Issue date to",
    "amount_min": "Amount at least",
    "amount_max": "Amount at most",
    "aging": "Aging",
    "open": "Open only",
}


@dataclass(frozen=True)
class InvoiceSort:
    key: str  # "" for the default order
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key

    def ordering(self) -> tuple:
        if not self.key:
            return DEFAULT_ORDER
        fields = INVOICE_SORTS[self.key][1]
        if not self.descending:
            return fields
        return (*(f"-{field}" for field in fields[:-1]), fields[-1])


def invoice_sort(value: str) -> InvoiceSort:
    """``?sort=due`` (ascending) or ``?sort=-due``; anything else is the default order."""
    key = value.removeprefix("-")
    if key not in INVOICE_SORTS:
        return InvoiceSort("", False)
    return InvoiceSort(key, value.startswith("-"))


def sort_columns(query: QueryDict, sort: InvoiceSort) -> list[dict]:
    """Each sortable column with the link that sorts by it and its ``aria-sort`` state:
    a click on the sorted column reverses it, on another column sorts it ascending."""
    columns = []
    for key, (label, _) in INVOICE_SORTS.items():
        current = sort.key == key
        descending_next = current and not sort.descending
        link = query.copy()
        link.pop("page", None)
        link["sort"] = f"-{key}" if descending_next else key
        columns.append(
            {
                "key": key,
                "label": label,
                "href": "?" + link.urlencode(),
                "aria_sort": (
                    ("descending" if sort.descending else "ascending") if current else "none"
                ),
                "next": "descending" if descending_next else "ascending",
            }
        )
    return columns


def _words(message: str) -> str:
    """``Enter a valid date.`` → ``enter a valid date`` (it follows the field's name)."""
    message = str(message).strip().rstrip(".")
    return message[:1].lower() + message[1:]


def filter_errors(filterset) -> list[dict]:
    """The FilterSet's errors as ``{"field", "label", "text"}``, e.g.
    ``Due date to: enter a valid date``."""
    errors = []
    for field, messages in filterset.errors.items():
        label = FILTER_LABELS.get(field, field.replace("_", " ").capitalize())
        text = "; ".join(_words(message) for message in messages)
        errors.append({"field": field, "label": label, "text": f"{label}: {text}"})
    return errors


def active_filters(query: QueryDict, *, describe: dict) -> list[dict]:
    """The filters in force, each with a link that removes it (and the page number).

    ``describe`` maps a parameter to ``{value: how it reads}`` (a status's label, the
    customer's name); other values are shown as given."""
    chips = []
    for name, label in FILTER_LABELS.items():
        value = query.get(name, "").strip()
        if not value:
            continue
        rest = query.copy()
        rest.pop(name, None)
        rest.pop("page", None)
        shown = describe.get(name, {}).get(value, value)
        chips.append(
            {
                "name": name,
                "label": label,
                "value": "" if name == "open" else shown,
                "href": "?" + rest.urlencode() if rest else "?",
            }
        )
    return chips
