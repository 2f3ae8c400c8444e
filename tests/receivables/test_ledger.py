"""The AR ledger's invariants, after any sequence of money events."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arpilot.errors import Conflict, ValidationFailed
from receivables import services
from receivables.models import Account, Fund, Invoice, JournalEntry, JournalLine
from receivables.services import LineSpec, Posting
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def assert_ledger_invariants(organization):
    """Every entry balances per fund; each AR account's balance is the open amount due of
    its issued invoices; per-fund AR balances add up to it. (Summed in Python: SQLite's
    SUM() of decimals is a float.)"""
    rows = list(
        JournalLine.objects.filter(organization=organization).values_list(
            "entry", "account", "fund", "debit", "credit"
        )
    )
    per_entry_fund = defaultdict(Decimal)
    per_account = defaultdict(Decimal)
    per_account_fund = defaultdict(Decimal)
    for entry_id, account_id, fund_id, debit, credit in rows:
        per_entry_fund[entry_id, fund_id] += debit - credit
        per_account[account_id] += debit - credit
        per_account_fund[account_id, fund_id] += debit - credit
    assert all(net == 0 for net in per_entry_fund.values())
    invoices = list(Invoice.objects.filter(organization=organization))
    open_due = defaultdict(Decimal)
    for invoice in invoices:
        assert 0 <= invoice.amount_due <= invoice.amount
        if invoice.status in Invoice.ISSUED_STATUSES:
            open_due[invoice.ar_account_id] += invoice.amount_due
    for account_id in {invoice.ar_account_id for invoice in invoices}:
        assert per_account[account_id] == open_due[account_id]
        fund_total = sum(
            (net for (acc, _), net in per_account_fund.items() if acc == account_id), Decimal(0)
        )
        assert fund_total == per_account[account_id]


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
operation = st.one_of(
    st.tuples(st.just("create"), st.lists(money, min_size=1, max_size=3), st.integers(-40, 40)),
    st.tuples(st.just("offline"), st.integers(0, 20), money),
    st.tuples(st.just("receive"), st.integers(0, 20)),
    st.tuples(st.just("void"), st.integers(0, 20)),
    st.tuples(st.just("change"), st.integers(0, 20), money),
)


class Rollback(Exception):
    pass


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=12))
def test_ledger_invariants_hold_after_random_money_events(org, operations):
    try:
        with transaction.atomic():
            run_operations(org, operations)
            assert_ledger_invariants(org)
            raise Rollback
    except Rollback:
        pass


def run_operations(org, operations):
    customer = CustomerFactory(organization=org)
    building = Fund.objects.create(organization=org, name="Building")
    general = services.default_fund(org)
    revenue = services.default_account(org, Account.Role.REVENUE)
    invoices = []
    for number, op in enumerate(operations):
        try:
            with transaction.atomic():
                if op[0] == "create":
                    lines = [
                        LineSpec(amount=amount, account=revenue, fund=(general, building)[i % 2])
                        for i, amount in enumerate(op[1])
                    ]
                    invoices.append(
                        services.invoice_create(
                            organization=org,
                            customer=customer,
                            invoice_number=f"H-{number}",
                            issue_date=date(2026, 1, 1),
                            due_date=date.today() + timedelta(days=op[2])
                            if op[2] >= 0
                            else date(2026, 1, 1),
                            lines=lines,
                        )
                    )
                elif not invoices:
                    continue
                elif op[0] == "offline":
                    services.invoice_record_offline_payment(
                        invoice=invoices[op[1] % len(invoices)], amount=op[2]
                    )
                elif op[0] == "receive":
                    services.invoice_receive(invoice=invoices[op[1] % len(invoices)])
                elif op[0] == "void":
                    services.invoice_void(invoice=invoices[op[1] % len(invoices)])
                elif op[0] == "change":
                    services.invoice_update(
                        invoice=invoices[op[1] % len(invoices)],
                        changes={},
                        lines=[LineSpec(amount=op[2], account=revenue, fund=building)],
                    )
        except (Conflict, ValidationFailed):
            pass


def test_payments_split_across_funds_and_clear_each_fund(org):
    customer = CustomerFactory(organization=org)
    revenue = services.default_account(org, Account.Role.REVENUE)
    general = services.default_fund(org)
    building = Fund.objects.create(organization=org, name="Building")
    invoice = services.invoice_create(
        organization=org,
        customer=customer,
        invoice_number="F-1",
        due_date=date(2099, 1, 1),
        lines=[
            LineSpec(amount=Decimal("0.03"), account=revenue, fund=general),
            LineSpec(amount=Decimal("0.07"), account=revenue, fund=building),
        ],
    )

    services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("0.05"))
    services.invoice_record_offline_payment(invoice=invoice, amount=Decimal("0.05"))

    per_fund = defaultdict(Decimal)
    for fund_id, debit, credit in JournalLine.objects.filter(
        account=invoice.ar_account
    ).values_list("fund", "debit", "credit"):
        per_fund[fund_id] += debit - credit
    assert dict(per_fund) == {general.pk: Decimal("0"), building.pk: Decimal("0")}
    assert_ledger_invariants(org)


def test_unapply_payment_reverses_the_entry(org):
    customer = CustomerFactory(organization=org)
    invoice = services.invoice_create(
        organization=org,
        customer=customer,
        invoice_number="U-1",
        amount=Decimal("80"),
        due_date=date(2099, 1, 1),
    )
    entry = services.invoice_apply_payment(invoice=invoice, amount=Decimal("80"))
    assert invoice.status == "paid"

    services.invoice_unapply_payment(invoice=invoice, entry=entry)

    invoice.refresh_from_db()
    assert (invoice.amount_due, invoice.status) == (Decimal("80.00"), "pending")
    assert JournalEntry.objects.get(reverses=entry).kind == "payment_reversal"
    assert_ledger_invariants(org)


def test_unbalanced_entries_are_refused(org):
    cash = services.default_account(org, Account.Role.CASH)
    revenue = services.default_account(org, Account.Role.REVENUE)
    fund = services.default_fund(org)

    with pytest.raises(ValueError, match="balance"):
        services.ledger_post(
            organization=org,
            date=date.today(),
            kind="payment",
            lines=[
                Posting(account=cash, fund=fund, debit=Decimal("10")),
                Posting(account=revenue, fund=fund, credit=Decimal("9.99")),
            ],
        )
    assert not JournalEntry.objects.exists()


def test_entries_are_immutable(org):
    invoice = services.invoice_create(
        organization=org,
        customer=CustomerFactory(organization=org),
        invoice_number="I-1",
        amount=Decimal("10"),
        due_date=date(2099, 1, 1),
    )
    entry = JournalEntry.objects.get(invoice=invoice)

    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        JournalEntry.objects.filter(pk=entry.pk).update(memo="x")
    with pytest.raises(TypeError):
        JournalLine.objects.filter(entry=entry).delete()


def test_organization_setup_seeds_accounts_and_general_fund(org):
    accounts = list(Account.objects.for_org(org).values_list("account_number", "name", "type"))
    assert accounts[:3] == [
        (1000, "Cash", "asset"),
        (1100, "Accounts Receivable", "asset"),
        (4000, "Revenue", "income"),
    ]
    # then the accounts of the default deduction reasons (credits), 4910 and up
    assert all(number >= 4900 for number, _name, _type in accounts[3:])
    assert list(Fund.objects.for_org(org).values_list("name", "is_default")) == [
        ("General Fund", True)
    ]
