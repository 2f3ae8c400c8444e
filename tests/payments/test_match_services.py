"""The database side of matching (payments_match), events and the admin."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from arpilot.db import execute_with_settings
from payments import services
from payments.matching import ALTERNATIVE_FLOOR, Suggestion, worth_showing
from payments.models import MatchSuggestion, PayerCustomerHistory, Payment
from payments.services import matching
from tests.factories import ContactFactory, CustomerFactory
from tests.payments.factories import make_invoice, make_payment


@pytest.fixture
def manual(org):
    """Auto-apply off, so suggestions can be inspected."""
    options = services.payment_settings_get(organization=org)
    options.auto_apply_enabled = False
    options.save()
    return options


def test_match_stores_ranked_suggestions_with_invoice_numbers(org, customer, manual):
    invoice = make_invoice(org, customer=customer, amount="420.00", invoice_number="INV-0420")
    make_invoice(org, customer=customer, amount="99.00", invoice_number="INV-0421")
    payment = make_payment(
        org, amount="420.00", payer_name="ACME CORP", payer_reference="inv 420 thank you"
    )

    run = services.payments_match(organization=org)

    assert (run.payments, run.auto_applied) == (1, 0)
    suggestions = list(MatchSuggestion.objects.filter(payment=payment).order_by("rank"))
    assert run.suggestions == len(suggestions) >= 1
    best = suggestions[0]
    assert best.invoice_ids == [str(invoice.pk)]
    assert best.invoice_numbers == ["INV-0420"]
    assert best.amount == Decimal("420.00")
    assert [s.rank for s in suggestions] == list(range(1, len(suggestions) + 1))
    assert [s.score for s in suggestions] == sorted((s.score for s in suggestions), reverse=True)
    assert any("INV-0420" in reason for reason in best.reasons)


def test_rerunning_replaces_suggestions(org, customer, manual):
    make_invoice(org, customer=customer, amount="420.00", invoice_number="INV-0420")
    payment = make_payment(org, amount="420.00", payer_reference="INV-0420")
    services.payments_match(organization=org)
    first = set(MatchSuggestion.objects.filter(payment=payment).values_list("pk", flat=True))

    services.payments_match(organization=org)

    second = set(MatchSuggestion.objects.filter(payment=payment).values_list("pk", flat=True))
    assert len(first) == len(second)
    assert not first & second


@pytest.mark.parametrize("workers", [1, 2])
def test_chunks_ranked_in_workers_are_stored_batch_by_batch(org, customer, monkeypatch, workers):
    """Rows built where they were ranked (forked workers with 2), stored 5 payments per
    transaction, auto-apply decided there too: the same outcome as one by one."""
    monkeypatch.setattr(matching, "MATCH_CHUNK", 2)
    invoices = [
        make_invoice(
            org, customer=customer, amount=f"{100 + n}.00", invoice_number=f"INV-{1001 + n}"
        )
        for n in range(11)
    ]
    payments = [
        make_payment(org, amount=f"{100 + n}.00", payer_reference=f"INV-{1001 + n}")
        for n in range(11)
    ]

    run = services.payments_match(organization=org, batch_size=5, workers=workers)

    assert (run.payments, run.auto_applied) == (11, 11)
    assert run.suggestions == MatchSuggestion.objects.filter(organization=org).count() >= 11
    for payment, invoice in zip(payments, invoices, strict=True):
        best = MatchSuggestion.objects.get(payment=payment, rank=1)
        assert (best.invoice_ids, best.invoice_numbers) == (
            [str(invoice.pk)],
            [invoice.invoice_number],
        )
        payment.refresh_from_db()
        assert (payment.status, payment.auto_applied) == (Payment.Status.APPLIED, True)


def test_match_only_the_given_unmatched_payments(org, customer, manual):
    make_invoice(org, customer=customer, amount="10.00")
    chosen = make_payment(org, amount="10.00", payer_name="Acme Corp")
    other = make_payment(org, amount="10.00", payer_name="Acme Corp")

    run = services.payments_match(organization=org, payment_ids=[chosen.pk])

    assert run.payments == 1
    assert MatchSuggestion.objects.filter(payment=chosen).exists()
    assert not MatchSuggestion.objects.filter(payment=other).exists()


def test_contact_names_and_external_ids_are_evidence(org, manual):
    customer = CustomerFactory(
        organization=org, company_name="Northwind Traders", external_id="NW-88213"
    )
    ContactFactory(organization=org, customer=customer, contact_name="Margaret Peacock")
    invoice = make_invoice(org, customer=customer, amount="77.00")
    by_contact = make_payment(org, amount="77.00", payer_name="MARGARET PEACOCK")
    by_external = make_payment(org, amount="77.00", payer_name="", payer_reference="NW-88213")

    services.payments_match(organization=org)

    for payment in (by_contact, by_external):
        best = MatchSuggestion.objects.get(payment=payment, rank=1)
        assert best.invoice_ids == [str(invoice.pk)]


def test_payer_history_is_evidence(org, manual):
    customer = CustomerFactory(organization=org, company_name="Wayne Enterprises")
    other = CustomerFactory(organization=org, company_name="Stark Industries")
    invoice = make_invoice(org, customer=customer, amount="64.00")
    make_invoice(org, customer=other, amount="64.00")
    from payments.matching import name_form

    PayerCustomerHistory.objects.create(
        organization=org, payer_key=name_form("Batcave Holdings").full, customer=customer, count=3
    )
    payment = make_payment(org, amount="64.00", payer_name="Batcave Holdings")

    services.payments_match(organization=org)

    best = MatchSuggestion.objects.get(payment=payment, rank=1)
    assert best.invoice_ids == [str(invoice.pk)]
    assert any("previously" in reason for reason in best.reasons)


def test_auto_apply_skips_invoices_another_payment_took(org, customer):
    invoice = make_invoice(org, customer=customer, amount="300.00", invoice_number="INV-31")
    payments = [
        make_payment(org, amount="300.00", payer_name="Acme Corp", payer_reference="INV-31")
        for _ in range(2)
    ]

    run = services.payments_match(organization=org)

    invoice.refresh_from_db()
    assert invoice.amount_due == 0
    applied = Payment.objects.filter(pk__in=[p.pk for p in payments], status="applied")
    assert applied.count() == run.auto_applied <= 1


def test_old_payments_and_clerk_unapplied_payments_are_not_auto_applied(org, customer):
    make_invoice(org, customer=customer, amount="300.00", invoice_number="INV-31")
    old = make_payment(
        org,
        amount="300.00",
        payer_name="Acme Corp",
        payer_reference="INV-31",
        payment_date=timezone.localdate() - timedelta(days=90),
    )
    Payment.objects.filter(pk=old.pk)
    run = services.payments_match(organization=org)
    assert run.auto_applied == 0

    recent = make_payment(org, amount="300.00", payer_name="Acme Corp", payer_reference="INV-31")
    Payment.objects.filter(pk=recent.pk).update(unapplied_by_clerk=True)
    run = services.payments_match(organization=org)
    assert run.auto_applied == 0


def test_auto_apply_threshold_is_an_organization_setting(org, customer):
    options = services.payment_settings_get(organization=org)
    options.auto_apply_threshold = Decimal("1.000")
    options.save()
    make_invoice(org, customer=customer, amount="300.00", invoice_number="INV-31")
    make_payment(org, amount="300.00", payer_name="Acme Corp", payer_reference="INV-31")

    assert services.payments_match(organization=org).auto_applied == 0


# --- events ----------------------------------------------------------------------------------


def test_payment_events_are_emitted_to_subscribers(org, customer, settings):
    from webhooks.models import WebhookEvent
    from webhooks.services import endpoint_create

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    endpoint_create(organization=org, url="http://127.0.0.1:9/hook", events=["*"])
    invoice = make_invoice(org, customer=customer, amount="50.00")
    payment = make_payment(org, amount="50.00")

    services.payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    services.payment_unapply(organization=org, payment_id=payment.pk, by_clerk=True)
    services.payment_mark_reviewed(organization=org, payment_id=payment.pk, reviewed=True)

    events = list(
        WebhookEvent.objects.for_org(org)
        .filter(event_type__startswith="payment.")
        .order_by("created_at")
        .values_list("event_type", "payload")
    )
    assert [name for name, _ in events] == [
        "payment.imported",
        "payment.applied",
        "payment.unapplied",
        "payment.reviewed",
    ]
    applied = events[1][1]["data"]
    assert applied["id"] == str(payment.pk)
    assert applied["allocations"][0]["invoice_id"] == str(invoice.pk)
    assert applied["status"] == "applied"
    assert events[3][1]["data"]["reviewed"] is True


def test_no_events_without_subscribers(org, customer):
    from webhooks.models import WebhookEvent

    make_payment(org)

    assert not WebhookEvent.objects.exists()


# --- services used by other apps -----------------------------------------------------------------


def test_unapply_one_invoice_and_nothing_to_unapply(org, customer, money_events):
    first = make_invoice(org, customer=customer, amount="10.00")
    second = make_invoice(org, customer=customer, amount="10.00")
    payment = make_payment(org, amount="20.00")
    services.payment_update(
        organization=org,
        payment_id=payment.pk,
        allocations=[
            {"invoice_id": first.pk, "amount": Decimal("10.00")},
            {"invoice_id": second.pk, "amount": Decimal("10.00")},
        ],
    )

    services.payment_unapply(
        organization=org,
        payment_id=payment.pk,
        invoice_id=first.pk,
        by_clerk=False,
        reason="rejected",
    )
    services.payment_unapply(
        organization=org, payment_id=payment.pk, invoice_id=first.pk, by_clerk=False
    )

    payment.refresh_from_db()
    assert (payment.applied_amount, payment.status) == (Decimal("10.00"), "partially_applied")
    assert payment.unapplied_by_clerk is False
    assert [e["change_type"] for e in money_events] == [
        "payment_applied",
        "payment_applied",
        "payment_unapplied",
    ]
    assert money_events[2]["payload"]["reason"] == "rejected"


def test_services_refuse_another_organizations_payment(org, other_org):
    from arpilot.errors import NotFound

    payment = make_payment(org)

    with pytest.raises(NotFound):
        services.payment_unapply(organization=other_org, payment_id=payment.pk, by_clerk=True)
    with pytest.raises(NotFound):
        services.payment_mark_reviewed(organization=other_org, payment_id=payment.pk, reviewed=True)
    with pytest.raises(NotFound):
        services.payment_update(organization=other_org, payment_id=payment.pk, invoice_id=None)


def test_write_off_account_is_created_once(org, customer):
    from receivables.models import Account

    for _ in range(2):
        invoice = make_invoice(org, customer=customer, amount="10.00")
        payment = make_payment(org, amount="9.50")
        services.payment_update(
            organization=org,
            payment_id=payment.pk,
            invoice_id=invoice.pk,
            write_off_short_payment=True,
        )

    account = Account.objects.for_org(org).get(account_number=6950)
    assert (account.name, account.type) == ("Short-payment write-offs", "expense")


def test_admin_pages_load(admin_client, org, customer):
    invoice = make_invoice(org, customer=customer, amount="10.00")
    payment = make_payment(org, amount="10.00")
    services.payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    services.payments_match(organization=org)
    services.payment_settings_get(organization=org)

    for path in (
        "payment",
        "paymentallocation",
        "paymentimport",
        "matchsuggestion",
        "paymentsettings",
        "payercustomerhistory",
    ):
        assert admin_client.get(f"/admin/payments/{path}/").status_code == 200
    assert admin_client.get(f"/admin/payments/payment/{payment.pk}/change/").status_code == 200


def test_suggestions_round_trip_any_text(org):
    payment = make_payment(org)
    invoice_id = str(uuid.uuid4())
    tricky = ['quote " and backslash \\ tab \t newline \n', "naïve café ✓", "\\N"]

    matching._suggestions_store(
        org.pk,
        [payment.pk],
        [
            (payment.pk, 1, [invoice_id], ["INV\\1", "Ünï"], Decimal("1.50"), 0.5, tricky),
        ],
    )

    stored = MatchSuggestion.objects.get(payment=payment)
    assert (stored.invoice_ids, stored.invoice_numbers, stored.reasons) == (
        [invoice_id],
        ["INV\\1", "Ünï"],
        tricky,
    )
    assert (stored.amount, stored.score, stored.rank) == (Decimal("1.50"), 0.5, 1)


def test_match_endpoint_of_another_organization_leaves_ours_alone(api, other_api, org, customer):
    make_invoice(org, customer=customer, amount="300.00", invoice_number="INV-31")
    options = services.payment_settings_get(organization=org)
    options.auto_apply_enabled = False
    options.save()
    payment = make_payment(org, amount="300.00", payer_name="Acme Corp", payer_reference="INV-31")
    options.auto_apply_enabled = True
    options.save()

    assert other_api.post("/api/v1/payments/match").json() == {"queued": True}

    payment.refresh_from_db()
    assert payment.status == "unmatched"
    assert not MatchSuggestion.objects.filter(payment=payment).exists()


def test_lost_import_tasks_are_swept_up(org, monkeypatch):
    from payments import tasks
    from payments.models import PaymentImport

    sent = []
    monkeypatch.setattr(
        tasks.payment_import_task, "apply_async", lambda args=None, **kwargs: sent.append(args[0])
    )
    old = timezone.now() - timedelta(hours=1)
    lost = PaymentImport.objects.create(organization=org, data=b"x")
    stuck = PaymentImport.objects.create(organization=org, data=b"x", status="running")
    fresh = PaymentImport.objects.create(organization=org, data=b"x")
    done = PaymentImport.objects.create(organization=org, data=b"x", status="done")
    PaymentImport.objects.filter(pk__in=[lost.pk, stuck.pk, done.pk]).update(
        created_at=old, updated_at=old
    )

    assert services.payment_imports_requeue_stale() == 2

    assert sorted(sent) == sorted([str(lost.pk), str(stuck.pk)])
    assert str(fresh.pk) not in sent


def _suggestion(score: float, invoice: str = "x") -> Suggestion:
    return Suggestion(invoice_ids=(invoice,), amount=Decimal("10.00"), score=score, reasons=[])


def test_alternatives_scored_below_the_floor_are_not_stored_the_best_always_is():
    floor = ALTERNATIVE_FLOOR
    shown = worth_showing(
        [_suggestion(0.9), _suggestion(0.3), _suggestion(floor), _suggestion(floor - 0.001)]
    )
    assert [s.score for s in shown] == [0.9, 0.3, floor]
    # A payment with only weak candidates still shows its best guess.
    assert [s.score for s in worth_showing([_suggestion(0.01), _suggestion(0.005)])] == [0.01]


def test_the_floor_leaves_the_auto_apply_decision_to_the_engine_ranking(org, customer, monkeypatch):
    payment = make_payment(org, amount="420.00")
    inputs, _ = matching._match_inputs(org.pk, [payment.pk])
    options = services.payment_settings_get(organization=org)
    finish = matching._ChunkRows(
        org_id=org.pk,
        payments=inputs,
        numbers={"a": "INV-A", "b": "INV-B"},
        as_copy_text=False,
        stamp=timezone.now().isoformat(),
        decide_options=options,
        today=timezone.localdate(),
        unapplied_before=set(),
    )
    seen = []
    real_decide = matching._ChunkRows._decide

    def decide(self, payment, suggestions):
        seen.append([s.score for s in suggestions])
        return real_decide(self, payment, suggestions)

    monkeypatch.setattr(matching._ChunkRows, "_decide", decide)
    rows, count, _ = finish(0, 1, [[_suggestion(0.97, "a"), _suggestion(0.001, "b")]])
    assert seen == [[0.97, 0.001]]  # decided on what the engine ranked, margin included
    assert count == 1 and [row[3] for row in rows] == [["INV-A"]]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_old_suggestions_are_deleted_through_the_index_whatever_the_planner_believes(org):
    # A table a run is filling, never analyzed, was hashed against a sequential scan per
    # batch (the run's deletes grew with the square of the book).
    payment = make_payment(org)
    matching._suggestions_store(
        org.pk, [payment.pk], [(payment.pk, 1, [str(uuid.uuid4())], ["INV-1"], Decimal(1), 0.5, [])]
    )
    table = MatchSuggestion._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")  # whatever the statistics say
        execute_with_settings(
            cursor,
            "EXPLAIN " + matching._SUGGESTIONS_DELETE,
            [[payment.pk]],
            matching._PLANNED_BY_INDEX,
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        assert f"Seq Scan on {table}" not in plan
        assert "suggestion_rank_unique" in plan
        transaction.set_rollback(True)

    with transaction.atomic(), connection.cursor() as cursor:
        matching._suggestions_store(org.pk, [payment.pk], [])
        assert not MatchSuggestion.objects.filter(payment=payment).exists()
        # The planner settings are back for the rest of the caller's transaction.
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone() == ("on",)
