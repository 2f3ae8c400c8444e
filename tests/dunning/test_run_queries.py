"""The dunning run's statements per batch of customers: a fixed number, however many customers
a batch holds and however large the book (``bench/dunning_run.py`` measures it at 100,000
customers), the reminders' emails included (one ``emails_queue`` per batch)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dunning import services
from dunning.models import DunningLevel
from dunning.services import run
from tests.dunning.factories import TODAY, customer_with_contacts, overdue_invoice, pay

pytestmark = pytest.mark.django_db

OUTBOX_INSERT = 'INSERT INTO "mail_outboundemail"'
# The policy and its levels, then the customers with something to send (one query).
BEFORE_BATCHES = 3
# Per batch: its transaction (a savepoint inside the test's), the policy lock and its levels,
# the invoices, the levels they were sent, the contacts, the emails, the reminders, their
# invoices.
PER_BATCH = 10
PER_BATCH_DRY = 3  # the invoices, the levels they were sent, the contacts


def _book(org, customers: int) -> None:
    """Per customer: an invoice at level 1 and one at level 3, one disputed, one promised,
    one paid and one not yet due."""
    for _ in range(customers):
        customer = customer_with_contacts(org)
        overdue_invoice(org, customer, days_overdue=4)
        overdue_invoice(org, customer, days_overdue=31)
        disputed = overdue_invoice(org, customer, days_overdue=20)
        services.dispute_open(organization=org, invoice_id=disputed.pk, reason_code="pricing")
        promised = overdue_invoice(org, customer, days_overdue=15)
        services.promise_create(
            organization=org,
            customer_id=customer.pk,
            invoice_ids=[promised.pk],
            amount=Decimal("100.00"),
            promised_date=datetime.now(UTC).date() + timedelta(days=5),
        )
        pay(overdue_invoice(org, customer, days_overdue=10))
        overdue_invoice(org, customer, days_overdue=-5)
    # Statement PDFs are one more read and attachment per reminder: timed apart (bench).
    DunningLevel.objects.for_org(org).update(attach_statement=False)
    services.policy_get_or_seed(organization=org)


def _counted_batches(monkeypatch, name: str) -> list[tuple[int, int]]:
    """Wrap ``run.<name>``: (statements, outbox INSERTs) of each batch, in order."""
    batches: list[tuple[int, int]] = []
    original = getattr(run, name)

    def counted(*args, **kwargs):
        with CaptureQueriesContext(connection) as captured:
            result = original(*args, **kwargs)
        emails = sum(query["sql"].startswith(OUTBOX_INSERT) for query in captured)
        batches.append((len(captured), emails))
        return result

    monkeypatch.setattr(run, name, counted)
    return batches


@pytest.mark.parametrize("customers", [2, 6])
def test_run_statements_do_not_grow_with_customers_per_batch(org, customers, monkeypatch):
    _book(org, customers)
    batches = _counted_batches(monkeypatch, "_run_batch")

    with CaptureQueriesContext(connection) as captured:
        reminders = services.dunning_run(organization=org, today=TODAY)

    assert sorted(r.level for r in reminders) == [1] * customers + [3] * customers
    assert all(len(r.invoices.all()) == 1 for r in reminders)
    assert batches == [(PER_BATCH, 1)]  # one batch, whatever its size; one outbox INSERT
    assert len(captured) == BEFORE_BATCHES + PER_BATCH


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_every_batch_costs_the_same(org, batch_size, monkeypatch):
    _book(org, 5)
    monkeypatch.setattr(run, "BATCH_SIZE", batch_size)
    batches = _counted_batches(monkeypatch, "_run_batch")

    with CaptureQueriesContext(connection) as captured:
        reminders = services.dunning_run(organization=org, today=TODAY)

    count = -(-5 // batch_size)
    assert len(reminders) == 10
    assert batches == [(PER_BATCH, 1)] * count
    assert len(captured) == BEFORE_BATCHES + PER_BATCH * count


@pytest.mark.parametrize("customers", [2, 6])
def test_dry_run_statements_are_fixed_per_batch(org, customers, monkeypatch):
    _book(org, customers)
    monkeypatch.setattr(run, "BATCH_SIZE", 2)
    batches = _counted_batches(monkeypatch, "_plan_batch")

    with CaptureQueriesContext(connection) as captured:
        plans = services.dunning_plan(organization=org, today=TODAY)

    count = -(-customers // 2)
    assert len(plans) == 2 * customers
    assert batches == [(PER_BATCH_DRY, 0)] * count
    assert len(captured) == BEFORE_BATCHES + PER_BATCH_DRY * count


def test_customers_with_nothing_new_are_not_read_in_batches(org, monkeypatch):
    """The next day, customers whose invoices reached no new level are not batched at all;
    one under the minimum overdue is (the total is checked in the batch), and a batch that
    writes nothing skips the three INSERTs."""
    _book(org, 3)
    small = customer_with_contacts(org)
    overdue_invoice(org, small, days_overdue=40, amount="5.00")  # the minimum is 10.00
    services.dunning_run(organization=org, today=TODAY)
    batches = _counted_batches(monkeypatch, "_run_batch")

    with CaptureQueriesContext(connection) as captured:
        reminders = services.dunning_run(organization=org, today=TODAY + timedelta(days=1))

    assert reminders == []
    assert batches == [(PER_BATCH - 3, 0)]  # the small customer alone
    assert len(captured) == BEFORE_BATCHES + PER_BATCH - 3
