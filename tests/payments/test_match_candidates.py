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
