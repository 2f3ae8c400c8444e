"""Matching and currencies: a payment is ranked against invoices of its own currency, and
against another currency's only through the organization's rates, never auto-applied."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from payments.matching import MatchIndex, OpenInvoice, PaymentInput, decide

TODAY = date(2026, 6, 1)


def invoice(pk, number, amount, currency, customer="c1", name="Dupont Industrie SA"):
    return OpenInvoice(
        id=pk,
        invoice_number=number,
        customer_id=customer,
        customer_name=name,
        customer_external_id=None,
        contact_names=(),
        open_balance=Decimal(amount),
        issue_date=date(2026, 5, 1),
        due_date=date(2026, 5, 31),
        currency=currency,
    )


def payment(amount, currency, reference="", payer="Dupont Industrie"):
    return PaymentInput(
        id="p",
        amount=Decimal(amount),
        payment_date=TODAY,
        payer_name=payer,
        reference=reference,
        currency=currency,
    )


BOOK = [
    invoice("usd", "INV-1001", "500.00", "USD"),
    invoice("eur", "INV-1002", "500.00", "EUR"),
    invoice("eur2", "INV-1003", "920.00", "EUR", customer="c2", name="Müller GmbH"),
]


def test_a_payment_is_ranked_against_invoices_of_its_own_currency_only():
    index = MatchIndex.build(BOOK, currency="USD")
    eur = index.suggest(payment("500.00", "EUR"))
    assert [s.invoice_ids for s in eur] == [("eur",)]
    assert eur[0].currency is None
    usd = index.suggest(payment("500.00", "USD"))
    assert [s.invoice_ids for s in usd] == [("usd",)]
    assert decide(payment("500.00", "USD"), usd, today=TODAY).apply


def test_another_currency_is_not_compared_without_rates():
    index = MatchIndex.build(BOOK, currency="USD")
    assert index.suggest(payment("1000.00", "USD", "INV-1003", payer="Muller GmbH")) == []


def test_with_rates_a_named_invoice_of_another_currency_is_suggested_and_never_auto_applied():
    rates = {"USD": Decimal(1), "EUR": Decimal("1.087")}  # 1 EUR = 1.087 USD
    index = MatchIndex.build(BOOK, currency="USD", rates=rates)
    paid = payment("1000.04", "USD", "INV-1003", payer="Muller GmbH")
    suggestions = index.suggest(paid)
    assert suggestions and suggestions[0].invoice_ids == ("eur2",)
    best = suggestions[0]
    assert best.currency == "EUR"
    # 1000.04 USD is 920.00 EUR; the 920.00 EUR open are 1000.04 USD: the whole payment.
    assert best.amount == Decimal("1000.04")
    assert any("at the organization's rates" in reason for reason in best.reasons)
    assert best.score >= 0.9  # the number and the amount agree...
    decision = decide(paid, suggestions, today=TODAY)
    assert not decision.apply and "EUR" in decision.reason  # ...but a clerk applies it


def test_a_single_currency_book_is_unchanged_for_its_own_payments():
    book = [invoice("a", "INV-1", "10.00", None), invoice("b", "INV-2", "20.00", None)]
    index = MatchIndex.build(book, currency="USD")
    assert index.suggest(payment("20.00", None, "INV-2"))[0].invoice_ids == ("b",)
    assert index.suggest(payment("20.00", "EUR", "INV-2")) == []
