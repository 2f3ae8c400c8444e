"""The matching engine (payments.matching): pure data in, data out, no database."""

import itertools
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.matching import (
    MatchIndex,
    OpenInvoice,
    PayerHistory,
    PaymentInput,
    Suggestion,
    decide,
    invoice_number_key,
    name_form,
    name_similarity,
    number_mentions,
)
from payments.matching.normalize import to_cents
from payments.matching.parallel import suggest_all
from payments.matching.subsets import consecutive_runs, pair_sums, pairs_in, small_subsets
from tests.payments.test_matching_compiled import pure_engine

TODAY = date(2026, 6, 30)

ACME = dict(
    customer_id="c-acme",
    customer_name="Acme Corp",
    customer_external_id="C-0042",
    contact_names=("Jane Miller",),
)
NORTHWIND = dict(
    customer_id="c-nw",
    customer_name="Northwind Traders LLC",
    customer_external_id="C-0077",
    contact_names=("Bob Stone",),
)
SMITH = dict(
    customer_id="c-smith",
    customer_name="Smith & Sons Plumbing Inc.",
    customer_external_id=None,
    contact_names=("Al Smith",),
)


def invoice(number, balance, customer, *, issued=date(2026, 5, 1)):
    return OpenInvoice(
        id=f"id-{number}",
        invoice_number=number,
        open_balance=Decimal(balance),
        issue_date=issued,
        due_date=issued + timedelta(days=30),
        **customer,
    )


def payment(amount, *, payer="", reference="", notes="", day=TODAY - timedelta(days=3)):
    return PaymentInput(
        id="p-1",
        amount=Decimal(amount),
        payment_date=day,
        payer_name=payer,
        reference=reference,
        notes=notes,
    )


def book():
    return [
        invoice("INV-1042", "1042.50", ACME, issued=date(2026, 4, 1)),
        invoice("INV-1043", "300.00", ACME, issued=date(2026, 4, 15)),
        invoice("INV-1044", "199.99", ACME, issued=date(2026, 5, 1)),
        invoice("INV-1050", "1200.00", NORTHWIND, issued=date(2026, 4, 20)),
        invoice("INV-1051", "87.15", NORTHWIND, issued=date(2026, 5, 20)),
        invoice("INV-1060", "455.00", SMITH, issued=date(2026, 5, 2)),
    ]


def best(index, pay):
    suggestions = index.suggest(pay)
    assert suggestions, "expected at least one suggestion"
    return suggestions[0], suggestions


# -- normalization -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("INV-1042", "1042"),
        ("inv 1042", "1042"),
        ("INV1042", "1042"),
        ("#1042", "1042"),
        ("Invoice 0001042", "1042"),
        ("1042", "1042"),
        ("Inv. No. 1042", "1042"),
        ("INVOICE NO 001042", "1042"),
        ("inv-01042", "1042"),
        ("A-1042", "A1042"),
        ("2024/0017", "20240017"),
        ("INVOICE", ""),
        ("INV-000", ""),
    ],
)
def test_invoice_number_key_normalizes_prefixes_separators_and_leading_zeros(written, key):
    assert invoice_number_key(written) == key


def test_number_mentions_mark_invoice_words_and_skip_other_numbers():
    mentions = {
        m.key: m for m in number_mentions("PO 5512, CHK 77 paid inv 1042 and #1043; 1,042.50")
    }

    assert mentions["1042"].explicit and mentions["1043"].explicit
    assert mentions["5512"].other and mentions["77"].other
    assert "104250" not in mentions  # an amount is not an invoice number
    assert not mentions["42"].explicit


def test_number_mentions_of_empty_or_digitless_text_are_none():
    assert number_mentions(None) == ()
    assert number_mentions("thank you") == ()


@pytest.mark.parametrize(
    ("payer", "core"),
    [
        ("ACME CORPORATION", "ACME"),
        ("Acme Crp", "ACME"),
        ("acme corp.", "ACME"),
        ("PAYPAL *NORTHWIND", "NORTHWIND"),
        ("ACH CREDIT NORTHWIND TRADERS L.L.C.", "NORTHWIND TRADERS"),
        ("Smith & Sons Plumbing Incorporaed", "SMITH SONS PLUMBING"),
        ("The Smith and Sons Plumbing Company", "SMITH SONS PLUMBING"),
    ],
)
def test_name_form_reduces_payer_names_to_their_core(payer, core):
    assert name_form(payer).core == core


def test_name_similarity_accepts_bank_truncation_and_typos_but_not_other_names():
    smith = name_form("Smith & Sons Plumbing Inc.")

    assert name_similarity(name_form("SMITH & SONS PLUMB"), smith) == 0.95
    assert name_similarity(name_form("Smith & Sons Plumbing Inc."), smith) == 1.0
    assert name_similarity(name_form("SMITH AND SONS PLUMBING"), smith) == 0.98
    assert name_similarity(name_form("SMTIH & SONS PLUMBING"), smith) >= 0.9
    assert name_similarity(name_form("Northwind Traders"), smith) < 0.5


def test_generic_bank_payer_names_are_no_evidence():
    assert not name_form("FIRST NATIONAL BANK").informative
    assert not name_form("ONLINE BANKING TRANSFER").informative
    assert name_form("Acme Corp").informative


# -- evidence ------------------------------------------------------------------------------------


def test_invoice_number_exact_amount_and_payer_name_rank_first_with_their_reasons():
    index = MatchIndex.build(book())

    top, suggestions = best(
        index, payment("1042.50", payer="ACME CORPORATION", reference="Payment inv 1042")
    )

    assert top.invoice_ids == ("id-INV-1042",)
    assert top.amount == Decimal("1042.50")
    assert top.customer_id == "c-acme"
    assert top.reasons == [
        "invoice number INV-1042 in reference",
        "amount equals open balance",
        "payer name ≈ Acme Corp (1.00)",
    ]
    assert top.score >= 0.99
    assert all(s.score <= top.score - 0.15 for s in suggestions[1:])


@pytest.mark.parametrize(
    "spelling", ["INV-1042", "inv 1042", "INV1042", "#1042", "Invoice 0001042", "Inv. No. 1042"]
)
def test_every_common_spelling_of_the_number_finds_the_invoice(spelling):
    index = MatchIndex.build(book())

    top, _ = best(index, payment("1042.50", reference=f"thanks {spelling}"))

    assert top.invoice_ids == ("id-INV-1042",)
    assert top.reasons[0] == "invoice number INV-1042 in reference"


def test_invoice_number_in_notes_counts_too():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("300.00", payer="Acme Corp", notes="remittance INV-1043"))

    assert top.invoice_ids == ("id-INV-1043",)
    assert top.reasons[0] == "invoice number INV-1043 in notes"


def test_bare_number_is_weaker_evidence_named_as_such():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("87.15", reference="1051"))

    assert top.invoice_ids == ("id-INV-1051",)
    assert top.reasons == [
        "number 1051 in reference matches invoice INV-1051",
        "amount equals open balance",
    ]


def test_purchase_order_and_check_numbers_are_not_read_as_invoice_numbers():
    index = MatchIndex.build(book())

    suggestions = index.suggest(payment("1.00", reference="PO 1042 CHK 1043"))

    assert all("in reference" not in reason for s in suggestions for reason in s.reasons)


def test_exact_open_balance_and_fuzzy_payer_name_without_reference():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("455.00", payer="SMITH & SONS PLUMB"))

    assert top.invoice_ids == ("id-INV-1060",)
    assert top.reasons == [
        "amount equals open balance",
        "payer name ≈ Smith & Sons Plumbing Inc. (0.95)",
    ]
    assert top.score >= 0.9


def test_contact_name_identifies_the_customer():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("87.15", payer="BOB STONE"))

    assert top.invoice_ids == ("id-INV-1051",)
    assert top.reasons == [
        "amount equals open balance",
        "payer name ≈ contact Bob Stone of Northwind Traders LLC (1.00)",
    ]


def test_customer_external_id_in_reference():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("1200.00", payer="MOBILE DEPOSIT", reference="Cust C-0077"))

    assert top.invoice_ids == ("id-INV-1050",)
    assert top.reasons == ["amount equals open balance", "customer ID C-0077 in reference"]


def test_payer_history_identifies_a_third_party_payer():
    history = PayerHistory.from_matches([("GLOBEX HOLDINGS", "c-nw"), ("Globex Holdings", "c-nw")])
    index = MatchIndex.build(book(), history)

    top, _ = best(index, payment("1200.00", payer="GLOBEX HOLDINGS"))

    assert top.invoice_ids == ("id-INV-1050",)
    assert top.reasons == [
        "amount equals open balance",
        "payer previously matched to this customer",
    ]
    assert top.score >= 0.9


def test_history_counts_customers_by_normalized_payer_name():
    history = PayerHistory.from_matches(
        [("Acme Corp", "a"), ("ACME CORP.", "a"), ("acme corp", "b"), ("", "x")]
    )

    assert history.customers_for("ACME  CORP") == [("a", 2), ("b", 1)]
    assert history.customers_for("Someone") == []


def test_several_open_invoices_of_one_customer_that_make_the_amount():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("1542.49", payer="Acme Corp"))  # 1042.50 + 300.00 + 199.99

    assert top.invoice_ids == ("id-INV-1042", "id-INV-1043", "id-INV-1044")
    assert top.amount == Decimal("1542.49")
    assert top.reasons == [
        "3 open invoices of Acme Corp total the amount",
        "payer name ≈ Acme Corp (1.00)",
    ]


def test_all_named_invoices_together_make_the_amount():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("499.99", payer="Acme Corp", reference="INV-1043, INV-1044"))

    assert top.invoice_ids == ("id-INV-1043", "id-INV-1044")
    assert top.reasons == [
        "invoice number INV-1043 in reference",
        "invoice number INV-1044 in reference",
        "the 2 invoices total the amount",
        "payer name ≈ Acme Corp (1.00)",
    ]


def test_partial_payment_suggests_the_named_invoice_for_the_payment_amount():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("500.00", payer="Northwind Traders", reference="INV-1050"))

    assert top.invoice_ids == ("id-INV-1050",)
    assert top.amount == Decimal("500.00")
    assert top.reasons == [
        "invoice number INV-1050 in reference",
        "partial payment of open balance 1200.00",
        "payer name ≈ Northwind Traders LLC (0.98)",
    ]


def test_short_pay_within_tolerance_is_evidence():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("1042.00", payer="Acme Corp"))

    assert top.invoice_ids == ("id-INV-1042",)
    assert top.amount == Decimal("1042.00")
    assert top.reasons == [
        "short-pay: amount is 0.50 below open balance 1042.50",
        "payer name ≈ Acme Corp (1.00)",
    ]


def test_short_pay_beyond_tolerance_is_a_partial_payment():
    index = MatchIndex.build(
        book(), short_pay_absolute=Decimal("0.10"), short_pay_ratio=Decimal("0")
    )

    top, _ = best(index, payment("1042.00", payer="Acme Corp"))

    assert "partial payment of open balance 1042.50" in top.reasons
    assert top.score < 0.9


def test_a_customer_billing_one_amount_hundreds_of_times_yields_its_oldest_few():
    """A payment of a recurring amount is scored against the customer's oldest few invoices
    of that amount (and the few smallest it short-pays), not all of them: ranking costs the
    same whatever the customer owes, and the clerk sees the oldest first."""
    from payments.matching.engine import SAME_AMOUNT_CANDIDATES

    start = date(2025, 1, 1)
    invoices = [
        invoice(f"INV-{5000 + n}", "242.02" if n % 2 else "242.50", ACME,
                issued=start + timedelta(days=n))
        for n in range(600)
    ]  # fmt: skip
    index = MatchIndex.build(invoices)

    suggestions = index.suggest(payment("242.02", payer="Acme Corp"), limit=5)

    # What gets scored: the candidates the engine gathers for that payment.
    evidence = index._customer_evidence(name_form("Acme Corp"), {}, {})
    candidates = index._candidates(to_cents(Decimal("242.02")), {}, evidence)
    singles = [c for c in candidates if len(c.invoices) == 1]
    assert len({c.invoices for c in singles}) <= 2 * SAME_AMOUNT_CANDIDATES
    assert [s.invoice_ids[0] for s in suggestions[:3]] == [
        "id-INV-5001",
        "id-INV-5003",
        "id-INV-5005",
    ]
    assert suggestions[0].amount == Decimal("242.02")
    assert index.decide(payment("242.02"), suggestions, today=TODAY).apply is False


def test_reference_naming_an_invoice_that_is_not_open_counts_against_others():
    index = MatchIndex.build(book())

    pay = payment("300.00", payer="Acme Corp", reference="INV-0999")
    top, suggestions = best(index, pay)

    assert top.invoice_ids == ("id-INV-1043",)
    assert "the reference names an invoice number that is not open" in top.reasons
    assert not decide(pay, suggestions, today=TODAY).apply


def test_payer_name_of_another_customer_lowers_the_score():
    index = MatchIndex.build(book())

    named = index.suggest(payment("87.15", payer="Northwind Traders"))[0].score
    stranger = index.suggest(payment("87.15", payer="Totally Different Company"))[0].score

    assert stranger < named


def test_amounts_and_scores_are_exact_types():
    index = MatchIndex.build(book())

    top, _ = best(index, payment("1042.5", reference="INV-1042"))

    assert isinstance(top.amount, Decimal)
    assert str(top.amount) == "1042.50"
    assert isinstance(top.score, float) and 0.0 <= top.score <= 1.0


def test_no_suggestion_for_a_zero_or_negative_amount():
    index = MatchIndex.build(book())

    assert index.suggest(payment("0.00", payer="Acme Corp")) == []
    assert index.suggest(payment("-5.00", payer="Acme Corp")) == []


def test_invoices_without_open_balance_are_not_indexed():
    paid = invoice("INV-2000", "0.00", ACME)
    index = MatchIndex.build([*book(), paid])

    assert all(
        "id-INV-2000" not in s.invoice_ids
        for s in index.suggest(payment("0.01", reference="INV-2000"))
    )


def test_limit_bounds_the_number_of_suggestions():
    index = MatchIndex.build([invoice(f"INV-{n}", "100.00", ACME) for n in range(10)])

    assert len(index.suggest(payment("100.00", payer="Acme Corp"), limit=3)) == 3


# -- auto-apply ----------------------------------------------------------------------------------


def suggestion(score, amount="100.00"):
    return Suggestion(invoice_ids=("x",), amount=Decimal(amount), score=score, reasons=[])


def test_auto_apply_the_unambiguous_number_amount_and_name_match():
    index = MatchIndex.build(book())
    pay = payment("1042.50", payer="Acme Corp", reference="INV-1042")

    decision = decide(pay, index.suggest(pay), today=TODAY)

    assert decision.apply
    assert decision.suggestion.invoice_ids == ("id-INV-1042",)
    assert decision.reason.startswith("unambiguous match with score")


def test_decide_is_also_reachable_on_the_index():
    pay = payment("100.00")

    assert MatchIndex.decide(pay, [suggestion(0.95)], today=TODAY).apply


def test_no_auto_apply_below_the_threshold():
    decision = decide(payment("100.00"), [suggestion(0.89)], today=TODAY)

    assert not decision.apply
    assert decision.suggestion is None
    assert decision.reason == "best score 0.89 is below the threshold 0.90"


def test_threshold_is_configurable():
    assert decide(payment("100.00"), [suggestion(0.89)], today=TODAY, threshold=0.85).apply
    assert not decide(payment("100.00"), [suggestion(0.95)], today=TODAY, threshold=0.97).apply


def test_no_auto_apply_when_the_next_candidate_is_within_the_margin():
    decision = decide(payment("100.00"), [suggestion(0.99), suggestion(0.85)], today=TODAY)

    assert not decision.apply
    assert decision.reason == "ambiguous: next candidate scores 0.85 against 0.99"
    assert decide(payment("100.00"), [suggestion(0.99), suggestion(0.83)], today=TODAY).apply


def test_no_auto_apply_of_a_payment_90_days_old_or_older():
    pay_89 = payment("100.00", day=TODAY - timedelta(days=89))
    pay_90 = payment("100.00", day=TODAY - timedelta(days=90))

    assert decide(pay_89, [suggestion(0.99)], today=TODAY).apply
    decision = decide(pay_90, [suggestion(0.99)], today=TODAY)
    assert not decision.apply
    assert decision.reason == "payment is 90 days old (limit 90)"


def test_no_auto_apply_of_a_payment_a_clerk_unapplied_before():
    decision = decide(payment("100.00"), [suggestion(0.99)], today=TODAY, previously_unapplied=True)

    assert not decision.apply
    assert decision.reason == "a clerk unapplied this payment before"


def test_no_auto_apply_without_candidates():
    decision = decide(payment("100.00"), [], today=TODAY)

    assert not decision.apply
    assert decision.reason == "no candidate invoice"


def test_no_auto_apply_of_more_money_than_the_payment():
    assert not decide(payment("50.00"), [suggestion(0.99, amount="60.00")], today=TODAY).apply


def test_payment_for_no_open_invoice_is_not_auto_applied():
    index = MatchIndex.build(book())

    for pay in [
        payment("777.77", payer="Acme Corp"),  # a known payer, an amount nothing makes
        payment("300.00", payer="Jimmy Nobody", reference="REFUND"),  # someone else's money
        payment("250.00", payer="Acme Corp", reference="DEPOSIT"),
    ]:
        assert not decide(pay, index.suggest(pay), today=TODAY).apply


def test_a_known_payer_with_an_amount_nothing_makes_gets_low_scored_suggestions():
    index = MatchIndex.build(book())

    suggestions = index.suggest(payment("777.77", payer="Acme Corp"))

    assert suggestions
    assert max(s.score for s in suggestions) <= 0.5


def test_two_invoices_of_the_same_amount_are_ambiguous():
    invoices = [
        invoice("INV-1", "250.00", ACME),
        invoice("INV-2", "250.00", ACME, issued=date(2026, 5, 9)),
    ]
    index = MatchIndex.build(invoices)
    pay = payment("250.00", payer="Acme Corp")

    suggestions = index.suggest(pay)

    assert [s.invoice_ids for s in suggestions[:2]] == [
        ("id-INV-1",),
        ("id-INV-2",),
    ]  # oldest first on a tie
    assert suggestions[0].score == suggestions[1].score
    assert not decide(pay, suggestions, today=TODAY).apply


def test_the_invoice_number_settles_two_invoices_of_the_same_amount():
    invoices = [
        invoice("INV-1", "250.00", ACME),
        invoice("INV-2", "250.00", ACME, issued=date(2026, 5, 9)),
    ]
    index = MatchIndex.build(invoices)
    pay = payment("250.00", payer="Acme Corp", reference="INV-2")

    decision = decide(pay, index.suggest(pay), today=TODAY)

    assert decision.apply
    assert decision.suggestion.invoice_ids == ("id-INV-2",)


# -- subset sums ---------------------------------------------------------------------------------


def test_consecutive_runs_find_every_adjacent_run_making_the_target():
    assert consecutive_runs([100, 200, 300, 100, 200], 600) == [(0, 1, 2), (1, 2, 3), (2, 3, 4)]
    assert consecutive_runs([100, 200], 100) == []  # single invoices are not runs
    assert consecutive_runs([50] * 20, 500, max_length=12) == [
        tuple(range(s, s + 10)) for s in range(11)
    ]


def test_small_subsets_match_brute_force():
    rng = random.Random(3)
    for _ in range(200):
        amounts = [
            rng.choice([100, 250, 399, 500, 1001, 1250, 75]) for _ in range(rng.randint(2, 9))
        ]
        target = rng.choice(
            [sum(rng.sample(amounts, rng.randint(2, min(4, len(amounts))))), rng.randint(100, 3000)]
        )
        expected = {
            combo
            for size in (2, 3, 4)
            for combo in itertools.combinations(range(len(amounts)), size)
            if sum(amounts[p] for p in combo) == target
        }

        found = small_subsets(amounts, target, max_results=10_000)

        assert len(found) == len(set(found))
        assert set(found) == expected


def test_small_subsets_are_bounded():
    amounts = [100] * 30

    assert len(small_subsets(amounts, 300, max_results=10)) == 10
    assert small_subsets(amounts, 300, max_size=2) == []
    assert small_subsets([100, 200], 0) == []


@given(st.lists(st.integers(min_value=1, max_value=300), max_size=40))
def test_pair_sums_pack_every_pair_in_order(amounts):
    expected: dict[int, list[tuple[int, int]]] = {}
    for i, j in itertools.combinations(range(len(amounts)), 2):
        expected.setdefault(amounts[i] + amounts[j], []).append((i, j))

    sums = pair_sums(amounts)

    assert list(sums) == list(expected)  # the sums in the order first met
    assert {total: pairs_in(packed) for total, packed in sums.items()} == expected
    assert pairs_in(0) == []


def test_pair_sums_take_at_most_256_amounts():
    assert pairs_in(pair_sums([1] * 256)[2])[-1] == (254, 255)
    with pytest.raises(ValueError, match="at most 256"):
        pair_sums([1] * 257)


def test_subset_search_uses_only_the_oldest_invoices_of_the_customer():
    old = [
        invoice(f"INV-{n}", "10.00", ACME, issued=date(2026, 1, 1) + timedelta(days=n))
        for n in range(30)
    ]
    new = [
        invoice("INV-900", "7.77", ACME, issued=date(2026, 6, 1)),
        invoice("INV-901", "1.11", ACME, issued=date(2026, 6, 2)),
    ]
    index = MatchIndex.build(old + new)

    # 7.77 + 1.11 (the 31st and 32nd invoice) is a consecutive run: found; no small subset beyond the pool
    suggestions = index.suggest(payment("8.88", payer="Acme Corp"))

    assert suggestions[0].invoice_ids == ("id-INV-900", "id-INV-901")
    assert all(
        "id-INV-901" not in s.invoice_ids or "id-INV-900" in s.invoice_ids for s in suggestions
    )


# -- determinism and scale -----------------------------------------------------------------------


def test_suggestions_are_deterministic_and_independent_of_input_order():
    invoices = book() + [
        invoice(f"INV-{n}", "300.00", ACME, issued=date(2026, 3, n)) for n in range(1, 6)
    ]
    pay = payment("300.00", payer="ACME CORP", reference="PO 55")
    first = MatchIndex.build(invoices).suggest(pay)

    shuffled = invoices[:]
    random.Random(1).shuffle(shuffled)

    assert MatchIndex.build(invoices).suggest(pay) == first
    assert MatchIndex.build(shuffled).suggest(pay) == first


def test_suggest_all_matches_one_by_one_in_order():
    index = MatchIndex.build(book())
    payments = [
        payment(amount, payer="Acme Corp") for amount in ("300.00", "199.99", "1042.50", "5.00")
    ] * 3

    assert suggest_all(index, payments, workers=2, chunk_size=2) == [
        index.suggest(p) for p in payments
    ]


def test_matching_one_payment_compares_only_a_few_names(monkeypatch):
    rng = random.Random(5)
    words = [
        "Alpha",
        "Beta",
        "Gamma",
        "Delta",
        "Omega",
        "Sigma",
        "Kappa",
        "Zeta",
        "Theta",
        "Lambda",
    ]
    invoices = [
        invoice(
            f"INV-{n}",
            f"{rng.randint(100, 99999)}.{rng.randint(0, 99):02d}",
            dict(
                customer_id=f"c{n}",
                customer_name=f"{rng.choice(words)} {rng.choice(words)} {n} Supply LLC",
                customer_external_id=None,
                contact_names=(),
            ),
        )
        for n in range(3000)
    ]
    # Counted on the engine's Python source: compiled, its calls to name_similarity are
    # direct and a patched module attribute would not see them.
    pure = pure_engine()
    index = pure.MatchIndex.build(invoices)
    calls = []
    original = pure.name_similarity
    monkeypatch.setattr(pure, "name_similarity", lambda *args: calls.append(1) or original(*args))

    index.suggest(payment("12.34", payer="Gamma Delta 1234 Supply"))

    assert 0 < len(calls) <= pure.NAME_CANDIDATES + 5


def test_ranking_never_forks_while_another_thread_runs():
    """A process running other threads (a Celery solo or threads worker, a gthread web
    worker) ranks in itself: a child forked while another thread holds a lock would wait
    for it forever. Single-threaded, it may fork."""
    import threading

    from payments.matching import parallel

    can_fork_alone = parallel._can_fork()
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert parallel._can_fork() is False
        index = MatchIndex.build(book())
        payments = [payment("300.00", payer="Acme Corp")] * 10
        ranked = suggest_all(index, payments, workers=2, chunk_size=2)
        assert [s[0].invoice_ids for s in ranked] == [("id-INV-1043",)] * 10
    finally:
        release.set()
        other.join()
    assert parallel._can_fork() is can_fork_alone
