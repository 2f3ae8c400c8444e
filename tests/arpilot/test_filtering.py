"""arpilot.api.filtering.FilterSet: the form class is built once per FilterSet class, while
each request still validates with a form of its own."""

import pytest
from django.http import QueryDict

from receivables.filters import InvoiceFilterSet
from receivables.models import Invoice
from tests.factories import make_invoice

pytestmark = pytest.mark.django_db


def filterset(query: str) -> InvoiceFilterSet:
    return InvoiceFilterSet(QueryDict(query), queryset=Invoice.objects.all())


class NarrowerInvoices(InvoiceFilterSet):
    pass


def test_one_form_class_per_filterset_class_and_a_form_per_request():
    first, second = filterset("amount_min=x"), filterset("amount_min=5")

    assert type(first.form) is type(second.form)
    assert first.form is not second.form
    assert not first.is_valid() and "amount_min" in first.errors
    assert second.is_valid() and not second.errors  # the first's error stayed its own
    assert first.form.fields["amount_min"] is not second.form.fields["amount_min"]
    narrower = NarrowerInvoices(QueryDict(""), queryset=Invoice.objects.all())
    assert type(narrower.form) is not type(first.form)  # a subclass builds its own
    assert type(narrower.form).__name__ == "NarrowerInvoicesForm"


def test_the_same_rows_as_before(org):
    small = make_invoice(org, amount="10.00")
    make_invoice(org, amount="500.00")

    for _ in range(2):  # the second filterset uses the class built by the first
        found = filterset("amount_max=100")
        assert found.is_valid()
        assert list(found.qs.filter(organization=org)) == [small]
