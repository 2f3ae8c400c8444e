"""Matching rules (payments.services.rules, /api/v1/match-rules): validation, evaluation,
their effect on matching runs and auto-apply, the dry run."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arpilot.errors import ValidationFailed
from payments import services
from payments.matching import OpenInvoice, PaymentInput
from payments.models import MatchRule, MatchSuggestion, Payment
from payments.services import rules
from receivables.models import Account
from tests.factories import CustomerFactory
from tests.payments.factories import make_invoice, make_payment

URL = "/api/v1/match-rules"


@pytest.fixture
def manual(org):
    """Auto-apply off, so suggestions can be inspected."""
    options = services.payment_settings_get(organization=org)
    options.auto_apply_enabled = False
    options.save()
    return options


def _rule(org, **fields):
    return rules.rule_create(organization=org, **{"name": "Rule", **fields})


def _suggestions(payment):
    return list(MatchSuggestion.objects.filter(payment=payment).order_by("rank"))


def _error_fields(response):
    assert response.status_code == 400, response.content
    return set(response.json()["error"]["fields"])


# --- the API: creating, validation, scoping ---------------------------------------------------


def test_create_list_get_change_delete(api, org, customer):
    created = api.post(
        URL,
        {
            "name": "Stripe payouts",
            "sequence": 5,
            "payer_contains": "stripe",
            "reference_regex": r"PAYOUT (?P<invoice>INV-\d+)",
            "amount_min": "10.00",
            "amount_max": "5000",
            "currency": "usd",
            "action": "point_to_invoice",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    data = created.json()["data"]
    assert (data["name"], data["action"], data["currency"]) == (
        "Stripe payouts",
        "point_to_invoice",
        "USD",
    )
    assert (data["amount_min"], data["amount_max"], data["active"]) == (10, 5000, True)

    assert api.get(f"{URL}/{data['id']}").json()["data"]["sequence"] == 5
    changed = api.patch(f"{URL}/{data['id']}", {"active": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["data"]["active"] is False
    assert [r["id"] for r in api.get(f"{URL}?active=false").json()["data"]] == [data["id"]]
    assert api.get(f"{URL}?active=true").json()["data"] == []

    assert api.delete(f"{URL}/{data['id']}").json() == {"success": True}
    assert api.get(f"{URL}/{data['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "action": "review"}, "name"),
        ({"action": "review", "reference_regex": "INV-(\\d+"}, "reference_regex"),
        ({"action": "review", "reference_regex": "(?P<order>\\d+)"}, "reference_regex"),
        ({"action": "review", "reference_regex": "(a+)+$"}, "reference_regex"),
        ({"action": "review", "reference_regex": "(\\w*)*x"}, "reference_regex"),
        ({"action": "review", "reference_regex": ".*.*.*.*x"}, "reference_regex"),
        ({"action": "review", "payer_regex": "(a)\\1"}, "payer_regex"),
        ({"action": "review", "payer_regex": "(?P<invoice>\\d+)"}, "payer_regex"),
        ({"action": "review", "amount_min": "5", "amount_max": "4"}, "amount_max"),
        ({"action": "review", "amount_min": "-1"}, "amount_min"),
        ({"action": "review", "currency": "XXQ"}, "currency"),
        ({"action": "review", "currency": "JPY", "amount_min": "1.5"}, "amount_min"),
        ({"action": "teleport"}, "action"),
        ({"action": "assign_customer"}, "customer_id"),
        ({"action": "assign_customer", "customer_id": "not-a-uuid"}, "customer_id"),
        ({"action": "point_to_invoice", "reference_regex": "INV-\\d+"}, "reference_regex"),
        ({"action": "write_off"}, "write_off_tolerance"),
        ({"action": "review", "sequence": -1}, "sequence"),
    ],
)
def test_invalid_rules_are_a_400_naming_the_field(api, body, field):
    assert _error_fields(api.post(URL, {"name": "R", **body}, format="json")) == {field}


def test_names_are_unique_and_references_stay_in_the_organization(
    api, org, other_org, customer, other_customer
):
    assert api.post(URL, {"name": "A", "action": "review"}, format="json").status_code == 201
    assert _error_fields(api.post(URL, {"name": "A", "action": "review"}, format="json")) == {
        "name"
    }
    body = {"name": "B", "action": "assign_customer", "customer_id": str(other_customer.pk)}
    assert _error_fields(api.post(URL, body, format="json")) == {"customer_id"}
    income = Account.objects.for_org(org).exclude(type=Account.Type.EXPENSE).first()
    body = {
        "name": "C",
        "action": "write_off",
        "write_off_tolerance": "2",
        "write_off_account_id": str(income.pk),
    }
    assert _error_fields(api.post(URL, body, format="json")) == {"write_off_account_id"}


def test_patch_checks_the_whole_rule(api, org):
    rule = _rule(org, action="review")
    response = api.patch(f"{URL}/{rule.pk}", {"action": "point_to_invoice"}, format="json")
    assert _error_fields(response) == {"reference_regex"}
    assert MatchRule.objects.get(pk=rule.pk).action == "review"


def test_another_organizations_rule_is_a_404(api, other_org):
    theirs = _rule(other_org, action="review")
    assert api.get(f"{URL}/{theirs.pk}").status_code == 404
    assert api.patch(f"{URL}/{theirs.pk}", {"active": False}, format="json").status_code == 404
    assert api.delete(f"{URL}/{theirs.pk}").status_code == 404
    assert api.post(f"{URL}/{theirs.pk}/test", {"reference": "x"}, format="json").status_code == 404
    assert api.get(f"{URL}/not-a-uuid").status_code == 404
    assert api.get(URL).json()["data"] == []
    assert MatchRule.objects.get(pk=theirs.pk).active


@pytest.mark.parametrize("count", [2, 12])
def test_list_query_count_does_not_grow(api, org, customer, django_assert_num_queries, count):
    for index in range(count):
        _rule(org, name=f"R{index}", action="assign_customer", customer_id=customer.pk)
    api.get(URL)  # warm the key cache
    # API key + count + page (customer and account joined)
    with django_assert_num_queries(3):
        response = api.get(f"{URL}?per_page=50")
    assert len(response.json()["data"]) == count
    assert response.json()["data"][0]["customer_name"] == "Acme Corp"


# --- evaluation -------------------------------------------------------------------------------


def test_first_matching_rule_in_sequence_order_wins(org):
    _rule(org, name="late", sequence=20, payer_contains="stripe", action="review")
    _rule(org, name="early", sequence=10, payer_contains="str", action="review")
    _rule(org, name="inactive", sequence=1, payer_contains="s", action="review", active=False)
    payment = make_payment(org, payer_name="STRIPE PAYMENTS UK")

    assert rules.rules_for(payment).rule.name == "early"
    assert rules.rules_for(make_payment(org, payer_name="Acme")) is None


def test_conditions_all_hold(org):
    _rule(
        org,
        payer_regex=r"^stripe",
        reference_regex=r"payout (?P<invoice>\S+)",
        amount_min="10",
        amount_max="100",
        currency="USD",
        action="point_to_invoice",
    )
    hit = rules.rules_for(
        make_payment(org, amount="50", payer_name="Stripe", payer_reference="PAYOUT INV-9")
    )
    assert (hit.rule.name, hit.invoice) == ("Rule", "INV-9")
    for payment in [
        make_payment(org, amount="500", payer_name="Stripe", payer_reference="payout 1"),
        make_payment(org, amount="5", payer_name="Stripe", payer_reference="payout 1"),
        make_payment(org, amount="50", payer_name="A Stripe", payer_reference="payout 1"),
        make_payment(org, amount="50", payer_name="Stripe", payer_reference="refund 1"),
        make_payment(
            org, amount="50", payer_name="Stripe", payer_reference="payout 1", currency="EUR"
        ),
    ]:
        assert rules.rules_for(payment) is None


# --- effect on matching -----------------------------------------------------------------------


def test_reference_capture_points_to_the_invoice(org, customer, manual):
    named = make_invoice(org, customer=customer, amount="300.00", invoice_number="INV-7781")
    make_invoice(org, customer=customer, amount="120.00", invoice_number="INV-5000")
    _rule(
        org,
        name="Stripe payouts",
        payer_contains="stripe",
        reference_regex=r"po:(?P<invoice>\d+)",
        action="point_to_invoice",
    )
    payment = make_payment(
        org, amount="120.00", payer_name="Stripe", payer_reference="po:7781 batch 2"
    )

    services.payments_match(organization=org)

    best = _suggestions(payment)[0]
    assert best.invoice_ids == [str(named.pk)]
    assert best.invoice_numbers == ["INV-7781"]
    assert any(reason.startswith("rule 'Stripe payouts'") for reason in best.reasons)


def test_customer_capture_points_to_the_customers_invoices(org, customer, manual):
    theirs = make_invoice(org, customer=customer, amount="80.00", invoice_number="INV-80")
    other = CustomerFactory(organization=org, company_name="Globex")
    make_invoice(org, customer=other, amount="80.00", invoice_number="INV-81")
    _rule(org, reference_regex=r"cust=(?P<customer>[\w-]+)", action="point_to_invoice")
    payment = make_payment(org, amount="80.00", payer_reference="cust=C-7788 thanks")

    services.payments_match(organization=org)

    suggestions = _suggestions(payment)
    assert [s.invoice_ids for s in suggestions] == [[str(theirs.pk)]]


def test_assign_customer_restricts_suggestions_and_sets_the_customer(org, customer, manual):
    other = CustomerFactory(organization=org, company_name="Globex")
    mine = make_invoice(org, customer=other, amount="100.00", invoice_number="INV-1")
    make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-2")
    _rule(org, name="Globex parent", payer_contains="holding", action="assign_customer",
          customer_id=other.pk)  # fmt: skip
    payment = make_payment(org, amount="100.00", payer_name="Big Holding Plc")

    services.payments_match(organization=org)

    suggestions = _suggestions(payment)
    assert [s.invoice_ids for s in suggestions] == [[str(mine.pk)]]
    assert "rule 'Globex parent': customer Globex" in suggestions[0].reasons
    payment.refresh_from_db()
    assert payment.customer_id == other.pk


def test_assign_customer_never_auto_applies_what_the_policy_refuses(org, customer):
    """Two customers owe the same amount: ambiguous, so the policy refuses; restricting the
    suggestions to one customer must not make it sure."""
    other = CustomerFactory(organization=org, company_name="Globex")
    make_invoice(org, customer=other, amount="100.00", invoice_number="INV-1")
    make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-2")
    _rule(org, payer_contains="holding", action="assign_customer", customer_id=other.pk)
    payment = make_payment(org, amount="100.00", payer_name="Big Holding Plc")

    assert services.payments_match(organization=org).auto_applied == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNMATCHED


@pytest.mark.parametrize("action", ["point_to_invoice", "write_off", "assign_customer"])
def test_no_rule_auto_applies_what_the_policy_refuses(org, customer, action):
    options = services.payment_settings_get(organization=org)
    options.auto_apply_threshold = Decimal("1.000")  # the policy refuses everything
    options.save()
    fields = {
        "point_to_invoice": {"reference_regex": r"(?P<invoice>INV-\d+)"},
        "write_off": {"write_off_tolerance": "5"},
        "assign_customer": {"customer_id": customer.pk},
    }[action]
    _rule(org, payer_contains="acme", action=action, **fields)
    invoice, payment = _sure(org, customer)

    assert services.payments_match(organization=org).auto_applied == 0
    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNMATCHED
    assert _suggestions(payment)[0].invoice_ids == [str(invoice.pk)]


def test_a_suggestion_only_the_rule_made_is_weak_and_never_decided(org, customer):
    _rule(org, reference_regex=r"po:(?P<invoice>\d+)", action="point_to_invoice")
    payment = PaymentInput(
        id=1, amount=Decimal("50.00"), payment_date=date(2026, 1, 5), reference="po:7781"
    )
    plan = rules.plan_for(org.pk, [payment], options=None, base_currency="USD")
    invoice = OpenInvoice(
        id="i1", invoice_number="INV-7781", customer_id="c1", customer_name="Acme",
        customer_external_id=None, contact_names=(), open_balance=Decimal("80.00"),
        issue_date=date(2026, 1, 1),
    )  # fmt: skip
    plan.index([invoice])

    made = plan.adjust(payment, [])

    assert [(s.invoice_ids, s.amount, s.score) for s in made] == [
        (("i1",), Decimal("50.00"), rules.RULE_SUGGESTION_SCORE)
    ]
    assert made[0].reasons == ["rule 'Rule': the reference names invoice INV-7781"]
    assert not plan.hits[1].allows(None, made)


def _sure(org, customer, reference="INV-0100", amount="100.00"):
    invoice = make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-0100")
    payment = make_payment(org, amount=amount, payer_name="Acme Corp", payer_reference=reference)
    return invoice, payment


def test_without_rules_the_sure_payment_is_auto_applied(org, customer):
    """The control of the next tests: the policy accepts this one."""
    _sure(org, customer)
    assert services.payments_match(organization=org).auto_applied == 1


def test_review_rule_blocks_auto_apply_and_says_so(org, customer):
    _rule(org, name="Check Acme", payer_contains="acme", action="review")
    invoice, payment = _sure(org, customer)

    assert services.payments_match(organization=org).auto_applied == 0

    payment.refresh_from_db()
    assert payment.status == Payment.Status.UNMATCHED
    best = _suggestions(payment)[0]
    assert best.invoice_ids == [str(invoice.pk)]
    assert "rule 'Check Acme': left for a clerk to review" in best.reasons


def test_review_rule_on_a_payment_recorded_over_the_api(api, org, customer):
    _rule(org, name="Check Acme", payer_contains="acme", action="review")
    make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-0100")

    reply = api.post(
        "/api/v1/payments",
        {"amount": "100.00", "payment_date": "2026-01-05", "payer_name": "Acme Corp",
         "payer_reference": "INV-0100"},
        format="json",
    )  # fmt: skip

    assert reply.status_code == 201, reply.content
    data = reply.json()["data"]
    assert data["auto_applied"] is False
    assert api.get(f"/api/v1/payments/{data['id']}").json()["data"] == data


@pytest.mark.parametrize(
    ("tolerance", "written_off", "still_owed"),
    [("1.00", Decimal("0.50"), Decimal("0")), ("0.25", Decimal("0"), Decimal("0.50"))],
)
def test_write_off_within_the_rules_tolerance(org, customer, tolerance, written_off, still_owed):
    account = Account.objects.create(
        organization=org, account_number=6960, name="Bank fees", type=Account.Type.EXPENSE
    )
    _rule(
        org,
        name="Bank fees",
        payer_contains="acme",
        action="write_off",
        write_off_tolerance=tolerance,
        write_off_account_id=account.pk,
    )
    invoice, payment = _sure(org, customer, amount="99.50")

    assert services.payments_match(organization=org).auto_applied == 1

    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.written_off_amount == written_off
    assert invoice.amount_due == still_owed
    allocation = payment.allocations.get()
    if written_off:
        assert allocation.write_off_entry.lines.filter(account=account).exists()
    else:
        assert allocation.write_off_entry is None
    assert any(r.startswith("rule 'Bank fees'") for r in _suggestions(payment)[0].reasons)


# --- the dry run ------------------------------------------------------------------------------


def test_dry_run_on_facts_and_on_a_payment(api, org, other_org, customer):
    invoice = make_invoice(org, customer=customer, amount="300.00", invoice_number="INV-7781")
    rule = _rule(
        org, name="Stripe", reference_regex=r"po:(?P<invoice>\d+)", action="point_to_invoice"
    )
    url = f"{URL}/{rule.pk}/test"

    body = api.post(url, {"reference": "PO:7781", "amount": "300"}, format="json").json()["data"]
    assert body["matches"] is True
    assert body["captured"] == {"invoice": "7781"}
    assert (body["invoice_id"], body["invoice_number"]) == (str(invoice.pk), "INV-7781")
    assert body["customer_name"] == "Acme Corp"
    assert body["first_matching_rule"] == "Stripe"

    payment = make_payment(org, payer_reference="no order here")
    body = api.post(url, {"payment_id": str(payment.pk)}, format="json").json()["data"]
    assert body["matches"] is False
    assert "reference_regex" in body["explanation"]

    theirs = make_payment(other_org, payer_reference="po:7781")
    assert _error_fields(api.post(url, {"payment_id": str(theirs.pk)}, format="json")) == {
        "payment_id"
    }
    assert _error_fields(api.post(url, {}, format="json")) == {"payment_id"}


# --- never a 500 --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(pattern=st.text(max_size=40), reference=st.text(max_size=300))
def test_any_pattern_is_refused_cleanly_or_searched_quickly(pattern, reference):
    try:
        compiled = rules.pattern_compile(pattern, "reference_regex", groups=rules.CAPTURE_GROUPS)
    except ValidationFailed as exc:
        assert set(exc.fields) == {"reference_regex"}
        return
    if compiled is not None:
        compiled.search(reference[: rules.MAX_INPUT])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reference=st.text(max_size=1000), payer=st.text(max_size=255))
def test_arbitrary_references_never_fail_the_dry_run(api, org, reference, payer):
    rule = MatchRule.objects.for_org(org).filter(name="Capture").first() or _rule(
        org, name="Capture", reference_regex=r"(?:inv|#)\s*(?P<invoice>[\w-]+)",
        action="point_to_invoice",
    )  # fmt: skip
    response = api.post(
        f"{URL}/{rule.pk}/test",
        {"reference": reference.replace("\x00", ""), "payer_name": payer.replace("\x00", "")},
        format="json",
    )
    assert response.status_code in (200, 400), response.content


def test_write_off_rule_on_a_payment_recorded_over_the_api_reads_back(api, org, customer):
    _rule(org, name="Fees", payer_contains="acme", action="write_off", write_off_tolerance="1")
    make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-0100")

    reply = api.post(
        "/api/v1/payments",
        {"amount": "99.50", "payment_date": timezone.localdate().isoformat(),
         "payer_name": "Acme Corp", "payer_reference": "INV-0100"},
        format="json",
    )  # fmt: skip

    assert reply.status_code == 201, reply.content
    data = reply.json()["data"]
    assert data["auto_applied"] is True
    assert Decimal(str(data["written_off_amount"])) == Decimal("0.50")
    assert api.get(f"/api/v1/payments/{data['id']}").json()["data"] == data


_INVOICES = [
    OpenInvoice(
        id=f"i{n}",
        invoice_number=f"INV-{n}",
        customer_id=f"c{n % 3}",
        customer_name=f"Customer {n % 3}",
        customer_external_id=f"C-{n % 3}",
        contact_names=(),
        open_balance=Decimal(n),
        issue_date=date(2026, 1, 1),
    )
    for n in range(1, 40)
]


@settings(max_examples=150, deadline=None)
@given(reference=st.text(max_size=1200), amount=st.decimals("0.01", "99999", places=2))
def test_arbitrary_references_go_through_every_capture_rule(reference, amount):
    compiled = [
        rules.CompiledRule(
            id=1,
            name="inv",
            action="point_to_invoice",
            reference_re=rules.pattern_compile(r"(?P<invoice>\S+)", "r", groups={"invoice"}),
        ),
        rules.CompiledRule(
            id=2,
            name="cust",
            action="point_to_invoice",
            reference_re=rules.pattern_compile(r"(?P<customer>\S+)", "r", groups={"customer"}),
        ),
    ]
    payment = PaymentInput(
        id=1, amount=amount, payment_date=date(2026, 1, 5), reference=reference, currency="USD"
    )
    for rule in compiled:
        hit = rule.hit("", reference, amount, "USD")
        if hit is None:
            continue
        plan = rules.RulePlan({1: hit})
        plan.index(_INVOICES)
        made = plan.adjust(payment, [])
        assert all(0 < s.amount <= amount and 0 <= s.score <= 1 for s in made)
        assert all(s.reasons[0].startswith(rule.evidence) for s in made)


def _statements_to_record(api, reference):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    body = {"amount": "10.00", "payment_date": timezone.localdate().isoformat(),
            "payer_name": "Somebody", "payer_reference": reference}  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        assert api.post("/api/v1/payments", body, format="json").status_code == 201
    return len(captured)


def test_rules_cost_one_statement_and_none_without_rules(api, org, customer):
    make_invoice(org, customer=customer, amount="99.00", invoice_number="INV-99")
    _statements_to_record(api, "warm up")  # first-use rows
    without = _statements_to_record(api, "one")
    rule = _rule(org, payer_contains="nobody pays like this", action="review")
    assert _statements_to_record(api, "two") == without + 1  # the rules read
    rules.rule_update(organization=org, rule_id=rule.pk, active=False)
    assert _statements_to_record(api, "three") == without
