"""A stateful property test: any sequence of applying, spreading, unapplying and writing
off payments, and of offline payments on the invoices, keeps balances, allocations and the
ledger consistent."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from arpilot import services as org_services
from arpilot.errors import ApplicationError
from payments import services
from payments.models import Payment, PaymentAllocation
from receivables.models import Invoice, InvoiceOfflinePayment
from receivables.services import invoice_record_offline_payment
from tests.factories import CustomerFactory
from tests.payments.factories import ar_balance, make_invoice, open_total

CENT = Decimal("0.01")
_organizations = itertools.count()
cents = st.integers(min_value=1, max_value=15_000).map(lambda n: Decimal(n) * CENT)


class PaymentBooks(RuleBasedStateMachine):
    payments = Bundle("payments")

    @initialize()
    def books(self):
        self.org = org_services.organization_create(name=f"Stateful {next(_organizations)}")
        customer = CustomerFactory(organization=self.org)
        self.invoices = [
            make_invoice(self.org, customer=customer, amount=amount)
            for amount in ("100.00", "50.00", "75.50")
        ]
        self.expected_errors = 0

    @rule(target=payments, amount=cents)
    def new_payment(self, amount):
        return services.payment_create(
            organization=self.org,
            amount=amount,
            payment_date=timezone.localdate() - timedelta(days=1),
        ).pk

    @rule(payment=payments, which=st.integers(0, 2))
    def apply_to_invoice(self, payment, which):
        self._attempt(
            services.payment_update,
            organization=self.org,
            payment_id=payment,
            invoice_id=self.invoices[which].pk,
        )

    @rule(
        payment=payments,
        spread=st.lists(st.tuples(st.integers(0, 2), cents), max_size=3),
        write_off=st.booleans(),
    )
    def spread(self, payment, spread, write_off):
        allocations = [
            {"invoice_id": self.invoices[which].pk, "amount": amount} for which, amount in spread
        ]
        self._attempt(
            services.payment_update,
            organization=self.org,
            payment_id=payment,
            allocations=allocations,
            write_off_short_payment=write_off,
        )

    @rule(payment=payments)
    def unapply_all(self, payment):
        services.payment_update(organization=self.org, payment_id=payment, invoice_id=None)

    @rule(payment=payments, which=st.integers(0, 2))
    def unapply_one(self, payment, which):
        services.payment_unapply(
            organization=self.org,
            payment_id=payment,
            invoice_id=self.invoices[which].pk,
            by_clerk=True,
        )

    @rule(payment=payments)
    def write_off(self, payment):
        self._attempt(
            services.payment_update,
            organization=self.org,
            payment_id=payment,
            write_off_short_payment=True,
        )

    @rule(which=st.integers(0, 2), amount=cents)
    def offline_payment(self, which, amount):
        invoice = Invoice.objects.get(pk=self.invoices[which].pk)
        self._attempt(invoice_record_offline_payment, invoice=invoice, amount=amount)

    def _attempt(self, function, **kwargs):
        """Run a service; a refusal (4xx) must leave everything as it was."""
        before = self._snapshot()
        try:
            function(**kwargs)
        except ApplicationError:
            assert self._snapshot() == before
            self.expected_errors += 1

    def _snapshot(self):
        return (
            sorted(Invoice.objects.for_org(self.org).values_list("pk", "amount_due", "status")),
            sorted(
                Payment.objects.for_org(self.org).values_list(
                    "pk", "applied_amount", "written_off_amount"
                )
            ),
            PaymentAllocation.objects.for_org(self.org).count(),
            ar_balance(self.org),
        )

    @invariant()
    def ledger_matches_open_balances(self):
        if hasattr(self, "org"):
            assert ar_balance(self.org) == open_total(self.org)

    @invariant()
    def invoices_owe_what_was_not_paid(self):
        if not hasattr(self, "org"):
            return
        for invoice in Invoice.objects.for_org(self.org):
            applied = PaymentAllocation.objects.filter(
                invoice=invoice, unapplied_at__isnull=True
            ).aggregate(amount=Sum("amount"), write_off=Sum("write_off_amount"))
            offline = (
                InvoiceOfflinePayment.objects.filter(invoice=invoice).aggregate(
                    total=Sum("amount")
                )["total"]
                or 0
            )
            paid = (applied["amount"] or 0) + (applied["write_off"] or 0) + offline
            assert invoice.amount_due == invoice.amount - paid
            assert invoice.amount_due >= 0
            expected = (
                "paid"
                if invoice.amount_due == 0
                else ("partial" if invoice.amount_due < invoice.amount else "pending")
            )
            assert invoice.status == expected

    @invariant()
    def payments_hold_what_their_allocations_say(self):
        if not hasattr(self, "org"):
            return
        for payment in Payment.objects.for_org(self.org):
            active = PaymentAllocation.objects.filter(payment=payment, unapplied_at__isnull=True)
            totals = active.aggregate(amount=Sum("amount"), write_off=Sum("write_off_amount"))
            assert payment.applied_amount == (totals["amount"] or 0)
            assert payment.written_off_amount == (totals["write_off"] or 0)
            assert 0 <= payment.applied_amount <= payment.amount
            assert payment.status == payment.derived_status()
            assert active.values("invoice").distinct().count() == active.count()


@pytest.mark.django_db
def test_payment_books_stay_consistent():
    run_state_machine_as_test(
        PaymentBooks,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
