"""The review queue through Django's test client: confidence bands and confirmation before
anything that is not clearly sure, ties never resolved silently, Undo, write-offs only within
the tolerance, review that says what it approved, refused splits that keep the clerk's rows,
the queue's order and bulk review, search by amount, a customer's open items, evidence in
words, and the payer names page."""

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import MatchSuggestion, PayerCustomerHistory, Payment, PaymentSettings
from payments.services import payment_update
from reconciliation.models import AccountingChange
from tests.factories import CustomerFactory
from tests.payments.factories import make_payment
from tests.receivables.factories import make_invoice
from tests.ui.builders import customer_with_invoices

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def csrf(client) -> dict:
    client.get(reverse("reconciliation:dashboard"))
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


def suggest(org, payment, invoices, *, score, rank=1, reasons=(), amount=None):
    return MatchSuggestion.objects.create(
        organization=org,
        payment=payment,
        rank=rank,
        invoice_ids=[str(invoice.pk) for invoice in invoices],
        invoice_numbers=[invoice.invoice_number for invoice in invoices],
        amount=Decimal(amount) if amount is not None else payment.amount,
        score=score,
        reasons=list(reasons),
    )


def toast(response) -> dict:
    return json.loads(response["HX-Trigger"])["arpilot:toast"]


def apply(ui, payment, rank=1, **data):
    return ui.post(reverse("payments:apply", args=[payment.pk, rank]), data, **HTMX, **csrf(ui))


# --- applying money safely -------------------------------------------------------------------


def test_a_sure_suggestion_applies_at_once_and_the_toast_offers_undo(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00")
    suggest(org, payment, [invoice], score=0.97, reasons=["amount equals open balance"])

    response = apply(ui, payment)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.APPLIED
    message = toast(response)
    assert message["level"] == "success"
    assert message["advance"] is True
    assert "INV-00001: due $100.00 → $0.00 (Pending → Paid)" in message["message"]
    assert message["undo"] == {
        "label": "Undo",
        "url": reverse("payments:unapply", args=[payment.pk]),
        "values": {},
    }


def test_a_weak_suggestion_asks_first_and_says_why_it_is_weak(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="37.00", payer_name="Zed Traders")
    suggest(org, payment, [invoice], score=0.01, reasons=["partial payment of open balance 100.00"])
    page = text(ui.get(reverse("payments:review")))
    assert '<span class="sg-band band-weak">Weak</span>' in page
    assert "Weak: the reference names none of its invoices" in page

    asked = apply(ui, payment)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNMATCHED
    row = text(asked)
    assert "Weak match (1%)." in row
    assert "Apply to INV-00001 anyway?" in row
    assert 'name="confirm" value="1"' in row
    assert "HX-Trigger" not in asked

    apply(ui, payment, confirm="1")
    payment.refresh_from_db()
    assert payment.applied_amount == Decimal("37.00")


def test_a_likely_suggestion_asks_for_confirmation_too(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00")
    suggest(org, payment, [invoice], score=0.75)

    row = text(apply(ui, payment))

    assert "Likely but not sure (75%). Apply to INV-00001?" in row
    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNMATCHED


def test_a_suggestion_whose_invoice_now_owes_less_says_so_and_asks_first(ui, org):
    """Matching saw the invoice owing 100.00; since then 20.00 was paid outside ARPilot.
    The row shows what applying takes now (80.00), says the balance changed instead of
    "exactly the open balance", and asks before applying even a "sure" suggestion."""
    from receivables.services import invoice_record_offline_payment

    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00")
    suggest(
        org, payment, [invoice], score=0.97,
        reasons=["amount equals open balance", "customer ID CU-0001 in reference"],
    )  # fmt: skip
    invoice_record_offline_payment(invoice=invoice, amount=Decimal("20.00"))

    page = text(ui.get(reverse("payments:review")))
    assert '<span class="sg-amount"><span class="money">$80.00</span></span>' in page
    assert (
        "The balance changed since matching: due now $80.00; applying takes $80.00 and "
        "leaves $20.00 unapplied." in page
    )
    assert "exactly the invoice&#x27;s open balance" not in page
    assert "open balance" not in page.split("The balance changed")[1].split("</ul>")[0]

    asked = text(apply(ui, payment))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNMATCHED
    assert "The balance changed since matching: due now $80.00" in asked
    assert 'name="confirm" value="1"' in asked

    apply(ui, payment, confirm="1")
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.applied_amount == Decimal("80.00")
    assert payment.unapplied_amount == Decimal("20.00")
    assert invoice.amount_due == Decimal("0.00")


def test_tied_suggestions_are_flagged_and_never_applied_without_a_choice(ui, org):
    _, first = customer_with_invoices(org, 1)
    _, second = customer_with_invoices(org, 2)
    payment = make_payment(org, amount="100.00")
    suggest(org, payment, [first], score=0.88, rank=1)
    suggest(org, payment, [second], score=0.88, rank=2)
    page = text(ui.get(reverse("payments:review")))
    assert page.count('<span class="sg-band band-tie">Tie</span>') == 2

    row = text(apply(ui, payment))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNMATCHED
    assert "Suggestion #1 ties with #2 at 88%. Nothing was applied" in row
    assert "Apply #2" in row  # the other one can be chosen right there
    apply(ui, payment, rank=2, confirm="1")
    payment.refresh_from_db()
    assert [a.invoice_id for a in payment.allocations.all()] == [second.pk]


def test_a_payment_in_another_currency_applies_only_with_a_rate(ui, org):
    # Across currencies a rate is needed (tests/payments/test_cross_currency.py): without one
    # in the table, applying the suggestion is refused in the row, naming what is missing.
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00", currency="EUR")
    suggest(org, payment, [invoice], score=0.0)
    assert ui.get(reverse("payments:review")).status_code == 200

    refused = text(apply(ui, payment, confirm="1"))

    assert 'role="alert"' in refused
    assert "Send exchange_rate (USD per EUR)" in refused
    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNMATCHED


def test_write_off_is_offered_only_within_the_tolerance(ui, org):
    _, small = customer_with_invoices(org, 1)
    _, large = customer_with_invoices(org, 2)
    near = make_payment(org, amount="99.50", payer_name="Near")
    far = make_payment(org, amount="40.00", payer_name="Far")
    payment_update(
        organization=org,
        payment_id=near.pk,
        allocations=[{"invoice_id": small.pk, "amount": Decimal("99.50")}],
    )
    payment_update(
        organization=org,
        payment_id=far.pk,
        allocations=[{"invoice_id": large.pk, "amount": Decimal("40.00")}],
    )

    page = text(ui.get(reverse("payments:review")))

    assert "Write off $0.50 short" in page
    assert "Write off $60.00 short" not in page
    assert "Short by $60.00: more than the $1.00 that may be written off." in page


def test_marking_reviewed_says_what_it_approved_and_undo_says_approvals_stay(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00")
    payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    url = reverse("payments:review-mark", args=[payment.pk])

    marked = ui.post(url, {"reviewed": "1"}, **HTMX, **csrf(ui))

    assert "<li>Marked reviewed and approved 1 accounting change</li>" in text(marked)
    message = toast(marked)
    assert message["undo"]["label"] == "Undo reviewed"
    assert message["undo"]["values"] == {"reviewed": "0"}
    assert message["unreviewed"] == 0
    assert AccountingChange.objects.get(payment=payment).status == "approved"

    undone = ui.post(url, {"reviewed": "0"}, **HTMX, **csrf(ui))

    assert "accounting changes approved when it was reviewed stay approved" in text(undone)
    assert toast(undone)["unreviewed"] == 1
    assert "undo" not in toast(undone)
    assert AccountingChange.objects.get(payment=payment).status == "approved"


def test_marking_reviewed_with_nothing_waiting_says_so(ui, org):
    payment = make_payment(org, amount="10.00")
    marked = ui.post(reverse("payments:review-mark", args=[payment.pk]), **HTMX, **csrf(ui))
    assert "Marked reviewed (no accounting changes were waiting for approval)" in text(marked)


def test_a_refused_split_comes_back_with_the_clerks_rows_and_one_row_element(ui, org):
    _, first = customer_with_invoices(org, 1)
    _, second = customer_with_invoices(org, 2)
    payment = make_payment(org, amount="120.00")

    response = ui.post(
        reverse("payments:allocate", args=[payment.pk]),
        {"invoice_id": [str(first.pk), str(second.pk)], "amount": ["100.00", "50.00"]},
        **HTMX,
        **csrf(ui),
    )

    row = text(response)
    assert row.count(f'id="payment-{payment.pk}"') == 1
    assert "more than the payment" in row
    assert '<details class="split" data-split' in row and " open " in row
    assert f'value="{first.pk}"' in row and f'value="{second.pk}"' in row
    assert 'value="100.00"' in row and 'value="50.00"' in row
    assert 'hx-swap="outerHTML" class="split-form"' in row


def test_an_invalid_amount_comes_back_as_typed(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00")
    response = ui.post(
        reverse("payments:allocate", args=[payment.pk]),
        {"invoice_id": [str(invoice.pk)], "amount": ["12,50"]},
        **HTMX,
        **csrf(ui),
    )
    row = text(response)
    assert "is ambiguous" in row
    assert 'value="12,50"' in row


# --- getting through the queue ---------------------------------------------------------------


def test_unmatched_payments_come_first_then_by_confidence_or_amount(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    _, other = customer_with_invoices(org, 2)
    applied = make_payment(org, amount="100.00", payer_name="Applied Co", days_ago=0)
    payment_update(organization=org, payment_id=applied.pk, invoice_id=invoice.pk)
    make_payment(org, amount="900.00", payer_name="Big Co", days_ago=5)
    sure = make_payment(org, amount="100.00", payer_name="Sure Co", days_ago=3)
    suggest(org, sure, [other], score=0.95)
    weak = make_payment(org, amount="50.00", payer_name="Weak Co", days_ago=2)
    suggest(org, weak, [other], score=0.2, amount="50.00")

    def order(query=""):
        page = text(ui.get(reverse("payments:review") + query))
        names = ["Applied Co", "Big Co", "Sure Co", "Weak Co"]
        return sorted(names, key=page.index)

    assert order() == ["Sure Co", "Weak Co", "Big Co", "Applied Co"]
    assert order("?order=amount") == ["Big Co", "Sure Co", "Weak Co", "Applied Co"]
    assert order("?order=newest") == ["Weak Co", "Sure Co", "Big Co", "Applied Co"]


def test_auto_applied_payments_are_marked_reviewed_together(ui, org):
    _, first = customer_with_invoices(org, 1)
    _, second = customer_with_invoices(org, 2)
    autos = []
    for invoice in (first, second):
        payment = make_payment(org, amount="100.00")
        payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
        Payment.objects.filter(pk=payment.pk).update(auto_applied=True)
        autos.append(payment)
    by_clerk = make_payment(org, amount="5.00")
    page = text(ui.get(reverse("payments:review")))
    assert "Mark these 2 reviewed" in page

    response = ui.post(
        reverse("payments:bulk-review"),
        {"payment_id": [str(p.pk) for p in autos] + [str(by_clerk.pk)]},
        **csrf(ui),
    )

    assert response.status_code == 302
    assert set(Payment.objects.filter(reviewed=True).values_list("pk", flat=True)) == {
        p.pk for p in autos
    }
    follow = text(ui.get(response["Location"]))
    assert "Marked 2 auto-applied payments reviewed and approved 2 accounting changes." in follow
    assert "Mark these" not in follow


def test_invoice_search_finds_invoices_by_amount(ui, org):
    customer = CustomerFactory(organization=org, company_name="Amount Co")
    wanted = make_invoice(org, customer=customer, invoice_number="AM-1", amount="1250.50")
    make_invoice(org, customer=customer, invoice_number="AM-2", amount="80.00")
    payment = make_payment(org)
    url = reverse("payments:invoice-search", args=[payment.pk])

    found = text(ui.get(url + "?q=1,250.50"))

    assert f'data-invoice-id="{wanted.pk}"' in found
    assert "AM-2" not in found
    assert "All open items of Amount Co" in found


def test_a_customers_open_items_show_beside_the_payment(ui, org):
    customer, first = customer_with_invoices(org, 1)
    second = make_invoice(org, customer=customer, invoice_number="INV-X2", amount="40.00")
    payment = make_payment(org, amount="140.00")
    suggest(org, payment, [first], score=0.5)

    panel = text(ui.get(reverse("payments:split-panel", args=[payment.pk])))
    items = text(ui.get(reverse("payments:customer-items", args=[payment.pk, customer.pk])))

    for html in (panel, items):
        assert "Open items of Customer 001 Holdings" in html
        assert "Add INV-00001" in html and "Add INV-X2" in html
        assert 'open <span class="money">$40.00</span> of <span class="money">$40.00</span>' in html
    assert second.pk


def test_evidence_reads_as_sentences_with_their_weight(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00")
    suggest(
        org,
        payment,
        [invoice],
        score=0.97,
        reasons=[
            "invoice number INV-00001 in reference",
            "amount equals open balance",
            "payer name ≈ Customer 001 Holdings (1.00)",
            "the reference names another invoice",
        ],
    )
    page = text(ui.get(reverse("payments:review")))
    assert "Strong evidence</span> The reference names invoice INV-00001." in page
    assert "Strong evidence</span> The amount is exactly the invoice&#x27;s open balance." in page
    assert "The payer&#x27;s name is the same as Customer 001 Holdings" in page
    assert "Counts against</span> The reference names a different invoice." in page
    assert "(1.00)" not in page


def test_remember_the_payer_for_the_customer_from_the_row(ui, org):
    customer, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00", payer_name="ACME HOLDINGS LTD")
    payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    page = text(ui.get(reverse("payments:review")))
    assert "Remember “ACME HOLDINGS LTD” for Customer 001 Holdings" in page

    response = ui.post(reverse("payments:remember-payer", args=[payment.pk]), **HTMX, **csrf(ui))

    assert response.status_code == 204
    assert toast(response)["message"] == (
        "Remembered “ACME HOLDINGS LTD” for Customer 001 Holdings."
    )
    alias = PayerCustomerHistory.objects.get(customer=customer)
    assert alias.count >= 2


def test_the_payer_names_page_lists_remembers_renames_and_forgets(ui, org):
    customer, _ = customer_with_invoices(org, 1)
    headers = csrf(ui)
    url = reverse("payments:payers")
    assert "No payer names learned yet." in text(ui.get(url))

    ui.post(url, {"payer_name": "Acme Hldgs", "customer_ref": "CU-0001"}, **headers)
    alias = PayerCustomerHistory.objects.get(customer=customer)
    page = text(ui.get(url))
    assert f'value="{alias.payer_key}"' in page
    assert "Customer 001 Holdings" in page

    ui.post(url, {"action": "rename", "alias_id": alias.pk, "payer_name": "Acme H"}, **headers)
    alias.refresh_from_db()
    assert alias.payer_key == "ACME H"

    ui.post(url, {"action": "forget", "alias_id": alias.pk}, **headers)
    assert not PayerCustomerHistory.objects.filter(pk=alias.pk).exists()


def test_the_payer_names_form_names_the_bad_field(ui, org):
    response = ui.post(
        reverse("payments:payers"), {"payer_name": "X", "customer_ref": "nobody"}, **csrf(ui)
    )
    assert response.status_code == 400
    assert "No customer has the ID or name “nobody”." in text(response)


def test_payer_names_of_another_organization_cannot_be_forgotten(ui, org, other_org):
    customer = CustomerFactory(organization=other_org)
    alias = PayerCustomerHistory.objects.create(
        organization=other_org, payer_key="GLOBEX", customer=customer, count=3
    )
    response = ui.post(
        reverse("payments:payers"), {"action": "forget", "alias_id": alias.pk}, **csrf(ui)
    )
    assert response.status_code == 404
    assert PayerCustomerHistory.objects.filter(pk=alias.pk).exists()


def test_tolerance_of_the_organization_is_used(ui, org):
    PaymentSettings.objects.update_or_create(
        organization=org, defaults={"write_off_tolerance": Decimal("100.00")}
    )
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="40.00")
    payment_update(organization=org, payment_id=payment.pk, invoice_id=invoice.pk)
    assert "Write off $60.00 short" in text(ui.get(reverse("payments:review")))


def test_without_htmx_the_payment_page_asks_and_its_button_confirms(ui, org):
    _, invoice = customer_with_invoices(org, 1)
    payment = make_payment(org, amount="100.00")
    suggest(org, payment, [invoice], score=0.7)
    headers = csrf(ui)

    asked = ui.post(reverse("payments:apply", args=[payment.pk, 1]), **headers)

    assert asked.status_code == 302
    assert asked["Location"] == reverse("payments:detail", args=[payment.pk]) + "?confirm=1"
    page = text(ui.get(asked["Location"]))
    assert "Likely but not sure (70%). Apply to INV-00001?" in page
    assert 'name="confirm" value="1"' in page
    ui.post(reverse("payments:apply", args=[payment.pk, 1]), {"confirm": "1"}, **headers)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.APPLIED
