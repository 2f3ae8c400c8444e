"""``tests.factories`` holds the builders its docstring names; the per-app modules re-export
them (one object, whichever module a test imports it from)."""

import tests.factories as shared
import tests.payments.factories as payments
import tests.receivables.factories as receivables
import tests.reconciliation.factories as reconciliation


def test_the_shared_module_holds_every_builder_and_the_app_modules_re_export_them():
    for name in ("OrganizationFactory", "CustomerFactory", "ContactFactory", "TagFactory"):
        assert getattr(shared, name).__module__ == "tests.factories"
    for name in ("make_invoice", "make_payment", "make_change", "make_due"):
        assert getattr(shared, name).__module__ == "tests.factories"
    assert receivables.make_invoice is payments.make_invoice is shared.make_invoice
    assert payments.make_payment is shared.make_payment
    assert reconciliation.make_change is shared.make_change
    assert reconciliation.make_due is shared.make_due
