"""Statements compiled once (``arpilot.compiled``): the same rows as the queryset they come
from, one statement per run, the parameters of each run and nothing of the run before."""

import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from arpilot.compiled import CompiledInstances, CompiledRows, Slot, organization_slot
from customers.models import Customer
from receivables.models import Invoice, InvoiceLine
from tests.factories import OrganizationFactory, make_invoice

FIELDS = ("invoice_id", "id", "amount", "note", "account__name", "fund__name")


def _lines(ids):
    return InvoiceLine.objects.filter(invoice_id__in=ids).order_by("invoice_id", "position", "id")


LINES = CompiledRows(
    InvoiceLine,
    lambda ids: (
        InvoiceLine.objects.filter(invoice_id__any=ids)
        .order_by("invoice_id", "position", "id")
        .values_list(*FIELDS)
    ),
    Slot("ids"),
)

OPEN_OF_ORG = CompiledRows(
    Invoice,
    lambda organization, number: (
        Invoice.objects.for_org(organization)
        .filter(invoice_number__eq=number)
        .values_list("invoice_number", "amount", "amount_due", "created_at")
    ),
    organization_slot(),
    Slot("number"),
)


@pytest.fixture
def book(org):
    return [make_invoice(org, amount=f"{10 + index}.25") for index in range(5)]


def test_any_gives_the_rows_of_in(book):
    ids = [invoice.pk for invoice in book[1:4]]

    assert LINES.rows(ids=ids) == list(_lines(ids).values_list(*FIELDS))
    assert len(LINES.rows(ids=ids)) == 3
    assert InvoiceLine.objects.filter(invoice_id__any=ids).count() == 3  # as a plain lookup
    # UUIDs go as they are; other forms of an id are prepared by the field, with the same rows
    assert LINES.rows(ids=[str(pk) for pk in ids]) == LINES.rows(ids=ids)
    assert LINES.rows(ids=[ids[0], str(ids[1]), ids[2].hex]) == LINES.rows(ids=ids)


def test_an_empty_list_and_unknown_ids_give_nothing(book):
    assert LINES.rows(ids=[]) == []
    assert LINES.rows(ids=[uuid.uuid4()]) == []


def test_each_run_is_one_statement_with_its_own_values(book):
    LINES.rows(ids=[book[0].pk])  # compiled on first use

    with CaptureQueriesContext(connection) as first:
        one = LINES.rows(ids=[book[0].pk])
    with CaptureQueriesContext(connection) as second:
        two = LINES.rows(ids=[book[2].pk, book[3].pk])

    assert len(first) == len(second) == 1
    assert [row[0] for row in one] == [book[0].pk]
    assert {row[0] for row in two} == {book[2].pk, book[3].pk}


def test_values_come_through_the_backends_converters(book):
    invoice = book[2]

    [row] = OPEN_OF_ORG.rows(organization=invoice.organization_id, number=invoice.invoice_number)

    assert row == tuple(
        Invoice.objects.filter(pk=invoice.pk)
        .values_list("invoice_number", "amount", "amount_due", "created_at")
        .get()
    )
    assert str(row[1]) == "12.25"  # a Decimal with its places, on SQLite too


def test_rows_stay_in_their_organization(book):
    other = OrganizationFactory()
    invoice = book[0]

    assert OPEN_OF_ORG.rows(organization=other.pk, number=invoice.invoice_number) == []


def test_a_slot_the_statement_does_not_use_is_refused(db):
    unused = CompiledRows(Invoice, lambda number: Invoice.objects.values_list("pk"), Slot("number"))

    with pytest.raises(ImproperlyConfigured):
        unused.rows(number="X")


def test_a_sentinel_is_a_non_zero_integer():
    with pytest.raises(TypeError):
        Slot("organization", "org")
    with pytest.raises(TypeError):
        Slot("organization", 0)


WITH_CUSTOMER = CompiledInstances(
    Invoice,
    lambda organization: (
        Invoice.objects.for_org(organization)
        .annotate(twice=F("amount") * 2)
        .order_by("invoice_number")
    ),
    organization_slot(),
    related=(("customer", Customer),),
    extra=("twice",),
    limit=2,
)


def test_instances_are_those_select_related_and_annotate_give(book):
    org_id = book[0].organization_id

    with CaptureQueriesContext(connection) as captured:
        found = WITH_CUSTOMER.get(organization=org_id)
        names = [invoice.customer.company_name for invoice in found]  # loaded: no query

    expected = list(
        Invoice.objects.filter(organization_id=org_id)
        .select_related("customer")
        .order_by("invoice_number")[:2]
    )
    assert len(captured) == 1
    assert found == expected
    assert names == [invoice.customer.company_name for invoice in expected]
    assert [invoice.twice for invoice in found] == [invoice.amount * 2 for invoice in expected]
    assert not found[0]._state.adding


def test_a_reverse_one_to_one_is_cached_as_select_related_caches_it(org):
    """The customer lookup of every invoice write (``receivables.selectors``): the customer
    with its Aplos contact, or with ``None`` cached when it has none (no second read)."""
    from receivables.models import AplosContact
    from receivables.selectors import customer_with_contact
    from tests.factories import CustomerFactory

    with_contact = CustomerFactory(organization=org)
    contact = AplosContact.objects.create(organization=org, customer=with_contact)
    without = CustomerFactory(organization=org)
    stranger = CustomerFactory(organization=OrganizationFactory())

    with CaptureQueriesContext(connection) as captured:
        found = customer_with_contact(organization=org, pk=with_contact.pk)
        assert found == with_contact
        assert found.aplos_contact == contact
        assert found.aplos_contact.customer is found  # both sides, as select_related does
        bare = customer_with_contact(organization=org.pk, pk=without.pk)
        assert bare == without
        assert Customer.aplos_contact.is_cached(bare)
        with pytest.raises(AplosContact.DoesNotExist):
            bare.aplos_contact  # known missing: raises, not read again
    assert len(captured) == 2
    assert customer_with_contact(organization=org, pk=stranger.pk) is None
    assert customer_with_contact(organization=org, pk=uuid.uuid4()) is None
