"""The matching engine compiled by mypyc (payments.matching.compiled): used only when built
from today's sources, and ranking exactly as its Python source does."""

import copy
import pickle
import shutil
from decimal import Decimal

import pytest

from bench.book import SHORT_PAY_ABSOLUTE, SHORT_PAY_RATIO, TODAY, matching_book
from payments import matching
from payments.matching import (
    AutoApplyDecision,
    OpenInvoice,
    PaymentInput,
    Suggestion,
    compiled,
    engine,
    name_form,
)


def pure_engine():
    """``payments.matching.engine`` run from its source, with the sources of the modules
    compiled with it, whether or not a build is loaded."""
    import importlib.util
    import sys

    loaded = {}
    try:
        for name in compiled.COMPILED:  # each imports those before it
            qualified = f"payments.matching.{name}"
            loaded[qualified] = sys.modules.get(qualified)
            spec = importlib.util.spec_from_file_location(
                qualified, compiled.PACKAGE_DIR / f"{name}.py"
            )
            module = importlib.util.module_from_spec(spec)
            sys.modules[qualified] = module  # dataclasses look their module up
            spec.loader.exec_module(module)
        return module
    finally:
        for qualified, previous in loaded.items():
            if previous is None:
                sys.modules.pop(qualified, None)
            else:
                sys.modules[qualified] = previous


def stamped(tmp_path, digest: str):
    build = tmp_path / "mypyc"
    build.mkdir()
    (build / compiled.STAMP_NAME).write_text(digest + "\n")
    return build


def test_a_build_of_these_sources_goes_first_on_the_package_path(tmp_path, monkeypatch):
    monkeypatch.delenv("ARPILOT_PURE_MATCHING", raising=False)
    build = stamped(tmp_path, compiled.sources_digest())
    path = ["/src/payments/matching"]

    assert compiled.enable(path, build) is True
    assert path == [str(build / "payments" / "matching"), "/src/payments/matching"]


def test_a_build_of_other_sources_is_never_loaded(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("ARPILOT_PURE_MATCHING", raising=False)
    build = stamped(tmp_path, "0" * 64)
    path = ["/src/payments/matching"]

    assert compiled.enable(path, build) is False
    assert path == ["/src/payments/matching"]
    assert "runs as pure Python" in caplog.text
    assert compiled.enable(path, tmp_path / "never-built") is False


def test_pure_python_on_request(tmp_path, monkeypatch):
    build = stamped(tmp_path, compiled.sources_digest())
    monkeypatch.setenv("ARPILOT_PURE_MATCHING", "1")
    path: list[str] = []

    assert compiled.enable(path, build) is False
    assert path == []


def test_the_digest_covers_every_compiled_source(tmp_path):
    for name in compiled.COMPILED:
        shutil.copyfile(compiled.PACKAGE_DIR / f"{name}.py", tmp_path / f"{name}.py")
    digest = compiled.sources_digest(tmp_path)
    assert digest == compiled.sources_digest()
    for name in compiled.COMPILED:
        source = tmp_path / f"{name}.py"
        original = source.read_bytes()
        source.write_bytes(original + b"\n# edited\n")
        assert compiled.sources_digest(tmp_path) != digest, name
        source.write_bytes(original)


def test_the_loaded_engine_is_the_build_when_enabled():
    assert engine.__file__.endswith(".so") == matching.COMPILED


def test_the_engines_data_pickles_and_copies():
    """Suggestions and decisions travel back from the ranking workers pickled; compiled,
    a frozen class would refuse to be restored without its ``__reduce__``."""
    suggestion = Suggestion(("inv-1", "inv-2"), Decimal("10.50"), 0.93, ["why"], "cust-1")
    items = [
        name_form("Acme Holdings, Inc."),
        suggestion,
        AutoApplyDecision(True, suggestion, "unambiguous"),
        PaymentInput("pay-1", Decimal("10.50"), TODAY, "ACME", "INV-1", currency="EUR"),
        OpenInvoice("inv-1", "INV-1", "cust-1", "Acme", None, ("Jo",), Decimal("5.25"), TODAY),
    ]
    for item in items:
        assert pickle.loads(pickle.dumps(item)) == item
        assert copy.deepcopy(item) == item
    assert hash(copy.copy(items[0])) == hash(items[0])


@pytest.mark.parametrize("seed", [3, 8])
def test_the_loaded_engine_ranks_exactly_as_its_source(seed):
    """Suggestions (invoices, amounts, scores, reasons) and decisions are the same whether
    the engine runs compiled or from its source, on a generated book."""
    book = matching_book(seed=seed, customers=150, invoices=700, payments=500)
    options = dict(short_pay_absolute=SHORT_PAY_ABSOLUTE, short_pay_ratio=SHORT_PAY_RATIO)
    loaded = engine.MatchIndex.build(book.invoices, book.history, **options)
    source = pure_engine()
    assert source.__file__.endswith("engine.py")
    reference = source.MatchIndex.build(book.invoices, book.history, **options)

    def fields(suggestion):  # the two sides' classes differ when the types are compiled
        return suggestion and (
            suggestion.invoice_ids, suggestion.amount, suggestion.score, suggestion.reasons,
            suggestion.customer_id, suggestion.currency,
        )  # fmt: skip

    for case in book.cases:
        ours = loaded.suggest(case.payment)
        theirs = reference.suggest(case.payment)
        assert list(map(fields, ours)) == list(map(fields, theirs)), case.payment
        decided = engine.decide(case.payment, ours, today=TODAY)
        expected = source.decide(case.payment, theirs, today=TODAY)
        assert (decided.apply, decided.reason, fields(decided.suggestion)) == (
            expected.apply, expected.reason, fields(expected.suggestion)
        )  # fmt: skip
