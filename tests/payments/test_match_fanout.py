"""A large matching run spread over Celery workers (payments.services.match_fanout): chunks
of payments as tasks, each worker process indexing the book once per run; the result is the
one-piece run's, suggestion for suggestion and application for application."""

import time

import pytest
from django.test import override_settings

from payments.models import MatchSuggestion, Payment
from payments.services import match_fanout, matching
from tests.factories import CustomerFactory, OrganizationFactory, make_invoice, make_payment

PAYMENTS = 24


def _book(organization) -> None:
    """Customers with invoices, and payments that name them, pay them short, or match
    nothing: some are auto-applied, some only suggested, some left alone."""
    for c in range(6):
        customer = CustomerFactory(organization=organization, company_name=f"Fanout Client {c}")
        for i in range(4):
            number = f"FO-{c}{i:02d}"
            make_invoice(
                organization, customer=customer, amount=f"{100 + 10 * c + i}.00",
                invoice_number=number,
            )  # fmt: skip
    for p in range(PAYMENTS):
        c, i = p % 6, p // 6
        kind = p % 3
        make_payment(
            organization,
            amount=f"{100 + 10 * c + i}.00" if kind != 1 else "3.00",
            payer_name=f"Fanout Client {c}" if kind != 2 else "Unknown Payer",
            payer_reference=f"FO-{c}{i:02d}" if kind == 0 else "",
        )


def _outcome(organization, top_only: bool = False) -> dict:
    """Each payment's status and its ranked suggestions (invoice numbers; the first only with
    ``top_only``), by amount, payer and reference."""
    outcome = {}
    for payment in Payment.objects.for_org(organization).order_by("amount", "payer_name"):
        ranked = tuple(
            tuple(s.invoice_numbers)
            for s in MatchSuggestion.objects.filter(payment=payment).order_by("rank")
        )
        ranked = ranked[:1] if top_only else ranked
        key = (payment.amount, payment.payer_name, payment.payer_reference)
        outcome.setdefault(key, []).append((payment.status, ranked))
    return outcome


@pytest.fixture
def fan_out(monkeypatch):
    monkeypatch.setattr(match_fanout, "FANOUT_MIN_PAYMENTS", 0)
    # Chunks of a few payments would be matched from their candidates (on PostgreSQL); a
    # real run's chunks of thousands use the run's index of the whole book.
    monkeypatch.setattr(matching, "CANDIDATES_MAX_PAYMENTS", 0)
    with override_settings(ARPILOT_TASKS_IN_PROCESS=False):
        yield


@pytest.mark.django_db
def test_chunks_rank_against_one_index_per_run_and_agree_with_one_piece(fan_out, monkeypatch):
    one_piece, spread = OrganizationFactory(), OrganizationFactory()
    _book(one_piece)
    _book(spread)
    builds = []
    real = matching._match_index
    monkeypatch.setattr(
        matching, "_match_index", lambda org_id, *a: builds.append(org_id) or real(org_id, *a)
    )

    matching.payments_match(organization=one_piece)
    started = match_fanout.payments_match_run(organization_id=spread.pk, chunk_size=5)

    assert (started.payments, started.chunks) == (PAYMENTS, 5)
    assert match_fanout.run_progress(started.run_key) == (5, 5)
    assert builds == [one_piece.pk, spread.pk]  # five chunks, one index (tasks run inline)
    assert _outcome(spread) == _outcome(one_piece)
    statuses = {s for rows in _outcome(spread).values() for s, _ in rows}
    assert {"applied", "unmatched"} <= statuses


@pytest.mark.django_db
def test_a_small_run_is_matched_in_one_piece(monkeypatch):
    organization = OrganizationFactory()
    _book(organization)
    sent = []
    monkeypatch.setattr(match_fanout, "task_send", lambda *a, **k: sent.append(a) or True)

    started = match_fanout.payments_match_run(organization_id=organization.pk)
    assert (started.payments, started.run_key) == (PAYMENTS, None)
    assert sent == []  # fewer than FANOUT_MIN_PAYMENTS: no chunk tasks


@pytest.mark.django_db
def test_without_a_broker_the_rest_is_matched_here(fan_out, monkeypatch):
    organization = OrganizationFactory()
    _book(organization)
    monkeypatch.setattr(match_fanout, "task_send", lambda *a, **k: False)

    started = match_fanout.payments_match_run(organization_id=organization.pk, chunk_size=5)
    assert started.payments == PAYMENTS
    assert match_fanout.run_progress(started.run_key) == (0, 0)  # none went out
    assert MatchSuggestion.objects.filter(organization=organization).exists()


def test_the_run_index_is_dropped_for_the_next_run_and_when_idle(monkeypatch):
    matching._run_indexes.clear()
    builds = []
    monkeypatch.setattr(matching, "_match_index", lambda *a: builds.append(a) or (object(), {}))
    monkeypatch.setattr(matching.Payment.objects, "for_org", _NoCurrencies)

    matching._run_index(1, None, None, "USD", [], "run-a")
    matching._run_index(1, None, None, "USD", [], "run-a")
    assert len(builds) == 1
    matching._run_index(1, None, None, "USD", [], "run-b")
    assert list(matching._run_indexes) == [(1, "run-b")]
    monkeypatch.setattr(matching, "RUN_INDEX_IDLE_SECONDS", -1.0)
    matching._run_index(1, None, None, "USD", [], "run-b")
    assert len(builds) == 3
    matching._run_indexes.clear()


class _NoCurrencies:
    """``Payment.objects.for_org(…)…values_list(…).distinct()``: no foreign currencies."""

    def __init__(self, *args):
        pass

    def __getattr__(self, name):
        return lambda *a, **k: self if name != "distinct" else []


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_two_real_workers_share_a_run_and_agree_with_one_piece(
    celery_worker_factory,
    fan_out,
):
    one_piece, spread = OrganizationFactory(), OrganizationFactory()
    _book(one_piece)
    _book(spread)
    matching.payments_match(organization=one_piece)
    celery_worker_factory()
    celery_worker_factory()

    started = match_fanout.payments_match_run(organization_id=spread.pk, chunk_size=4)
    assert started.chunks == 6

    # (Progress counters live in the workers' Redis database, which under pytest-xdist is
    # not this test process's cache database: the rows tell when the run is done.)
    expected = _outcome(one_piece, top_only=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _outcome(spread, top_only=True) != expected:
        time.sleep(0.5)
    assert _outcome(spread, top_only=True) == expected
