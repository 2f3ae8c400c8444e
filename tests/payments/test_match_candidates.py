"""One payment matched from its candidates (read by SQL) agrees with the whole-book index."""

from __future__ import annotations

import pytest
from django.db import connection

from arpilot.services import organization_create
from bench.book import matching_book
from bench.matching_db import load
from bench.matching_one import compare
from payments.matching import MatchIndex
from payments.services.match_candidates import candidate_book

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="candidates need pg_trgm"),
]


@pytest.fixture
def book():
    dataset = matching_book(seed=5, customers=400, invoices=2000, payments=250, labels=False)
    organization = organization_create(name="candidates")
    load(organization, dataset)
    return organization, dataset


def test_candidates_agree_with_the_whole_book(book):
    organization, dataset = book
    full = MatchIndex.build(dataset.invoices, dataset.history, currency=organization.currency)
    figures = compare(organization, dataset, dataset.cases, full_index=full)
    n = figures["compared"]
    assert n == 250
    # Auto-apply decides the same for every payment, and is wrong no more often.
    assert figures["same_decision"] == n, figures
    assert figures["wrong_applied_cand"] <= figures["wrong_applied_full"], figures
    assert figures["applied_cand"] == figures["applied_full"] > 100
    # The best suggestion differs only in the low-scored tail; accuracy no worse than 1 %.
    assert figures["same_best"] >= 0.95 * n
    assert figures["right_cand"] >= figures["right_full"] - n // 100


def test_reading_candidates_costs_two_statements_whatever_the_book(book, django_assert_num_queries):
    organization, dataset = book
    payment = next(case.payment for case in dataset.cases if case.truth)
    with django_assert_num_queries(2):
        invoices, _ = candidate_book(organization.pk, [payment])
    # A few customers' invoices, not the book.
    assert 0 < len(invoices) < len(dataset.invoices) // 10


def test_a_payment_with_nothing_to_go_on_reads_nothing(book, django_assert_num_queries):
    organization, dataset = book
    payment = dataset.cases[0].payment.__class__(
        id="p", amount=dataset.cases[0].payment.amount * 1000 + 7, payment_date=None
    )
    with django_assert_num_queries(1):
        invoices, history = candidate_book(organization.pk, [payment])
    assert invoices == [] and history.counts == {}


# --- a customer owing hundreds of invoices --------------------------------------------------


def _whale_book():
    """One customer with 400 open invoices (150 of one recurring amount, many within a
    short-pay of it), beside a few small customers, and payments that reach into them."""
    import random
    from datetime import date, timedelta
    from decimal import Decimal

    from bench.book import Case, Customer, Dataset
    from payments.matching import OpenInvoice, PayerHistory, PaymentInput

    rng = random.Random(3)
    whale = Customer("c-whale", "Monarch Frontstar LLP", "C-1001", ("Ana Ruiz",))
    small = [Customer(f"c-{n}", name, None, ()) for n, name in enumerate(
        ["Northwind Traders", "Blue Ridge Logistics LLC", "Monarch Bakery Inc."]
    )]  # fmt: skip
    invoices: list[OpenInvoice] = []
    start = date(2026, 1, 1)
    for n in range(400):
        if n % 8 < 3:
            amount = Decimal("242.02")
        elif n % 8 < 5:
            amount = Decimal("242.02") + Decimal(rng.randint(1, 120)) / 100
        else:
            amount = Decimal(rng.randint(5_000, 900_000)) / 100
        issued = start + timedelta(days=n // 3)
        invoice = OpenInvoice(
            id=f"inv-w{n}", invoice_number=f"INV-{10_000 + n}", customer_id=whale.id,
            customer_name=whale.name, customer_external_id=whale.external_id,
            contact_names=whale.contacts, open_balance=amount, issue_date=issued,
            due_date=issued + timedelta(days=30),
        )  # fmt: skip
        whale.invoices.append(invoice)
        invoices.append(invoice)
    for m, customer in enumerate(small):
        for n in range(5):
            issued = start + timedelta(days=10 * n + m)
            invoice = OpenInvoice(
                id=f"inv-s{m}-{n}", invoice_number=f"INV-{20_000 + 10 * m + n}",
                customer_id=customer.id, customer_name=customer.name,
                customer_external_id=None, contact_names=(),
                open_balance=Decimal("242.02") if n == 4 else Decimal(100 + 17 * n + m),
                issue_date=issued, due_date=issued + timedelta(days=30),
            )  # fmt: skip
            customer.invoices.append(invoice)
            invoices.append(invoice)
    by_number = {invoice.invoice_number: invoice for invoice in whale.invoices}
    young, old = by_number["INV-10390"], by_number["INV-10004"]
    beyond = by_number["INV-10301"]  # far past the oldest sixty

    def pay(n, amount, payer="MONARCH FRONTSTAR LLP", reference=""):
        payment = PaymentInput(
            id=f"p{n}", amount=Decimal(amount), payment_date=date(2026, 11, 30),
            payer_name=payer, reference=reference,
        )  # fmt: skip
        return Case(payment, "whale", None, None, False, True, False)

    cases = [
        pay(1, "242.02"),  # the recurring amount: 150 invoices make it
        pay(2, "241.90"),  # short-pays dozens
        pay(3, "242.02", reference="INV-10390"),
        pay(4, str(young.open_balance + old.open_balance), reference="INV-10390"),
        pay(5, str(young.open_balance + beyond.open_balance), reference="inv 10390"),
        pay(6, str(whale.invoices[0].open_balance + whale.invoices[1].open_balance)),
        pay(7, str(beyond.open_balance)),  # one invoice of its own amount, past the oldest
        pay(8, "50.00", payer="MONARCH FRONTSTAR"),  # part of something
        pay(9, "242.02", payer="MONARCH BAKERY"),
        pay(10, "242.02", payer="Ana Ruiz", reference="Cust C-1001"),
        pay(11, "1000000.00"),
    ]
    history = PayerHistory()
    history.add("NORTHWIND", small[0].id, 2)
    return Dataset([whale, *small], invoices, history, cases)


def _by_number(index, suggestions):
    numbers = {invoice.id: invoice.invoice_number for invoice in index.invoices}
    return [
        (tuple(numbers[i] for i in s.invoice_ids), s.amount, s.score, tuple(s.reasons))
        for s in suggestions
    ]


@pytest.mark.django_db
def test_a_customer_owing_hundreds_is_read_in_part_and_ranked_the_same():
    """The candidates of a customer with 400 open invoices are its oldest sixty and the few
    of the payment's amount or within a short-pay of it, and the engine ranks exactly what
    it ranks with the whole book: the same invoices, amounts, scores and reasons."""
    from payments.matching.engine import RUN_POOL, SAME_AMOUNT_CANDIDATES
    from payments.services.matching import SUGGESTIONS_KEPT

    dataset = _whale_book()
    organization = organization_create(name="whale")
    load(organization, dataset)
    full = MatchIndex.build(dataset.invoices, dataset.history, currency=organization.currency)
    for case in dataset.cases:
        payment = case.payment
        invoices, history = candidate_book(organization.pk, [payment])
        whale = [invoice for invoice in invoices if invoice.customer_name.startswith("Monarch F")]
        assert len(whale) <= RUN_POOL + 2 * SAME_AMOUNT_CANDIDATES + 1, payment
        small = MatchIndex.build(invoices, history, currency=organization.currency)
        expected = _by_number(full, full.suggest(payment, limit=SUGGESTIONS_KEPT))
        assert _by_number(small, small.suggest(payment, limit=SUGGESTIONS_KEPT)) == expected, (
            payment
        )
        assert expected or payment.id == "p11", payment  # every other payment finds something


@pytest.mark.django_db
def test_payer_names_are_looked_up_through_the_trigram_index():
    """With thousands of customers the planner reads the payer's name through the GIN
    trigram index, not by testing every name (payments 0012 gives the word-similarity
    operator its real cost: 90-130 ms a payment at 20,000 names before, 7 ms after)."""
    from decimal import Decimal

    from django.test.utils import CaptureQueriesContext

    from customers.models import Customer
    from payments.matching import PaymentInput

    organization = organization_create(name="many names")
    words = ["Garcia", "Blue", "Ridge", "Smith", "Northwind", "Harbor", "Pine", "Summit"]
    Customer.objects.bulk_create(
        Customer(
            organization=organization,
            company_name=f"{words[n % 8]} {words[n // 8 % 8]} Trading {n} LLC",
        )
        for n in range(6000)
    )
    payment = PaymentInput(
        id="p", amount=Decimal("10.00"), payment_date=None, payer_name="GARCIA RIDGE TRADING 17"
    )
    with CaptureQueriesContext(connection) as queries:
        candidate_book(organization.pk, [payment])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")  # the statistics autovacuum keeps
        cursor.execute("EXPLAIN " + queries.captured_queries[0]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customer_name_trgm" in plan, plan


@pytest.mark.django_db
def test_a_payer_with_no_close_name_is_looked_up_again_loosely():
    """Names are read at the strict cut first (0.7); a payer with no name that close (a
    typo) is read again at the loose one in the same round trip, which is then set back."""
    from decimal import Decimal

    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from payments.matching import PaymentInput
    from tests.factories import CustomerFactory
    from tests.receivables.factories import make_invoice

    organization = organization_create(name="typos")
    novapath = CustomerFactory(organization=organization, company_name="Novapath Media")
    exact = CustomerFactory(organization=organization, company_name="Blue Ridge Supply")
    for customer in (novapath, exact):
        make_invoice(organization, customer=customer, amount="120.00")

    def read(payer):
        payment = PaymentInput(id="p", amount=Decimal("99.00"), payment_date=None, payer_name=payer)
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            invoices, _ = candidate_book(organization.pk, [payment])
            with connection.cursor() as cursor:
                cursor.execute("SHOW pg_trgm.word_similarity_threshold")
                cut = cursor.fetchone()[0]
        return {invoice.customer_id for invoice in invoices}, queries.captured_queries, cut

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT word_similarity('NOVPATH MEDIAA', 'NOVAPATH MEDIA'), "
            "word_similarity('BLUE RIDGE SUPPLY', 'BLUE RIDGE SUPPLY')"
        )
        typo, same = cursor.fetchone()
    assert 0.45 <= typo < 0.7 and same == 1.0

    customers, statements, cut = read("NOVPATH MEDIAA")
    assert novapath.pk in customers  # found by the loose read
    loose = [q for q in statements if "SET LOCAL pg_trgm.word_similarity_threshold" in q["sql"]]
    assert len(loose) == 1 and "= 0.45" in loose[0]["sql"]
    assert cut == "0.7"  # set back for the rest of the transaction

    customers, statements, cut = read("BLUE RIDGE SUPPLY")
    assert customers == {exact.pk}  # a close name: the strict read was enough
    assert not any("SET LOCAL" in q["sql"] for q in statements) and cut == "0.7"
