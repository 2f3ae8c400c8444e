"""Payer aliases: the learned payer names per customer, remembered, renamed, forgotten."""

import pytest

from arpilot.errors import NotFound, ValidationFailed
from payments.models import PayerCustomerHistory
from payments.services import payer_alias_forget, payer_alias_remember, payer_alias_rename
from payments.services.aliases import REMEMBERED_COUNT, payer_key
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_remembering_a_payer_stores_its_normalized_name_as_strong_history(org):
    customer = CustomerFactory(organization=org)

    alias = payer_alias_remember(
        organization=org, payer_name="  Acme, Holdings ltd. ", customer_id=customer.pk
    )

    assert alias.payer_key == payer_key("Acme Holdings Ltd")
    assert alias.count == REMEMBERED_COUNT
    assert alias.customer_id == customer.pk


def test_remembering_again_never_lowers_what_was_learned(org):
    customer = CustomerFactory(organization=org)
    PayerCustomerHistory.objects.create(
        organization=org, payer_key=payer_key("Acme"), customer=customer, count=7
    )

    alias = payer_alias_remember(organization=org, payer_name="ACME", customer_id=customer.pk)

    assert alias.count == 7
    assert PayerCustomerHistory.objects.count() == 1


def test_a_payer_name_without_letters_or_digits_is_refused(org):
    customer = CustomerFactory(organization=org)
    with pytest.raises(ValidationFailed) as refused:
        payer_alias_remember(organization=org, payer_name=" - ", customer_id=customer.pk)
    assert refused.value.fields == {
        "payer_name": ["Enter a payer name with at least one letter or digit."]
    }


def test_a_customer_of_another_organization_is_refused(org, other_org):
    stranger = CustomerFactory(organization=other_org)
    with pytest.raises(ValidationFailed) as refused:
        payer_alias_remember(organization=org, payer_name="Acme", customer_id=stranger.pk)
    assert refused.value.fields == {"customer_id": ["No such customer."]}


def test_renaming_onto_a_known_name_merges_the_counts(org):
    customer = CustomerFactory(organization=org)
    typo = PayerCustomerHistory.objects.create(
        organization=org, payer_key="ACME HOLDNGS", customer=customer, count=1
    )
    known = PayerCustomerHistory.objects.create(
        organization=org, payer_key=payer_key("Acme Holdings"), customer=customer, count=3
    )

    merged = payer_alias_rename(organization=org, alias_id=typo.pk, payer_name="Acme Holdings")

    assert merged.pk == known.pk
    assert merged.count == 4
    assert not PayerCustomerHistory.objects.filter(pk=typo.pk).exists()


def test_renaming_changes_the_key(org):
    customer = CustomerFactory(organization=org)
    alias = PayerCustomerHistory.objects.create(
        organization=org, payer_key="ACME", customer=customer, count=1
    )

    renamed = payer_alias_rename(organization=org, alias_id=alias.pk, payer_name="Acme Two")

    assert renamed.payer_key == payer_key("Acme Two")
    assert renamed.count == 1


def test_forgetting_removes_it_and_another_organizations_alias_is_not_found(org, other_org):
    mine = PayerCustomerHistory.objects.create(
        organization=org, payer_key="ACME", customer=CustomerFactory(organization=org), count=1
    )
    theirs = PayerCustomerHistory.objects.create(
        organization=other_org,
        payer_key="ACME",
        customer=CustomerFactory(organization=other_org),
        count=1,
    )

    payer_alias_forget(organization=org, alias_id=mine.pk)
    with pytest.raises(NotFound):
        payer_alias_forget(organization=org, alias_id=theirs.pk)

    assert list(PayerCustomerHistory.objects.values_list("pk", flat=True)) == [theirs.pk]


def _stark_payment(org):
    from tests.factories import make_invoice, make_payment

    stark = CustomerFactory(organization=org, company_name="Stark Fabrication Inc.")
    wayne = CustomerFactory(organization=org, company_name="Wayne Enterprises")
    stark_invoice = make_invoice(org, customer=stark, amount="250.00")
    wayne_invoice = make_invoice(org, customer=wayne, amount="250.00")
    payment = make_payment(org, amount="250.00", payer_name="STARK PAYABLES")
    return stark, wayne, stark_invoice, wayne_invoice, payment


def test_a_clerk_reassigning_a_payment_unlearns_the_wrong_alias_and_learns_the_right_one(org):
    from payments.services import payment_unapply, payment_update

    stark, wayne, stark_invoice, wayne_invoice, payment = _stark_payment(org)
    key = payer_key("STARK PAYABLES")
    payment_update(organization=org, payment_id=payment.pk, invoice_id=wayne_invoice.pk)
    assert PayerCustomerHistory.objects.get(payer_key=key, customer=wayne).count == 1

    payment_unapply(organization=org, payment_id=payment.pk, by_clerk=True)
    # Unapplying alone may be for another reason (a wrong amount): nothing is unlearned yet.
    assert PayerCustomerHistory.objects.filter(payer_key=key, customer=wayne).exists()
    payment_update(organization=org, payment_id=payment.pk, invoice_id=stark_invoice.pk)

    assert not PayerCustomerHistory.objects.filter(payer_key=key, customer=wayne).exists()
    assert PayerCustomerHistory.objects.get(payer_key=key, customer=stark).count == 1


def test_reassigning_in_one_step_counts_a_well_learned_alias_one_less(org):
    from payments.services import payment_update

    stark, wayne, stark_invoice, wayne_invoice, payment = _stark_payment(org)
    key = payer_key("STARK PAYABLES")
    PayerCustomerHistory.objects.create(organization=org, payer_key=key, customer=wayne, count=3)
    payment_update(organization=org, payment_id=payment.pk, invoice_id=wayne_invoice.pk)
    assert PayerCustomerHistory.objects.get(payer_key=key, customer=wayne).count == 4

    payment_update(organization=org, payment_id=payment.pk, invoice_id=stark_invoice.pk)

    assert PayerCustomerHistory.objects.get(payer_key=key, customer=wayne).count == 3
    assert PayerCustomerHistory.objects.get(payer_key=key, customer=stark).count == 1
