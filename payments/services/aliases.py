"""Payer aliases: the payer names (and payer accounts: keys ``account:<IBAN or number>``) the
organization has learned for each customer (``PayerCustomerHistory``, which matching reads
as evidence), remembered, renamed and forgotten by a clerk."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from arpilot.errors import NotFound, ValidationFailed
from customers.models import Customer
from payments.matching import name_form
from payments.matching.normalize import (
    ACCOUNT_KEY_PREFIX,
    account_key,
    account_normalize,
    iban_valid,
    looks_like_iban,
)
from payments.models import PayerCustomerHistory

# Matching reads a payer's history as strong evidence from two matches up (and a share of
# at least 80% of that payer's money): a remembered payer counts as that.
REMEMBERED_COUNT = 2


def payer_key(payer_name: str) -> str:
    """The history key of a payer name (as matching normalizes it); "" for no name."""
    return name_form(payer_name).full[:255] if payer_name else ""


def payer_keys(payment) -> list[str]:
    """The history keys a payment's payer is learned under: its name's and its account's."""
    keys = [payer_key(payment.payer_name), account_key(getattr(payment, "payer_account", ""))]
    return [key for key in keys if key]


def payer_account_clean(value: str | None, field: str = "payer_account") -> str:
    """A payer account as stored (upper case, letters and digits); one shaped like an IBAN
    must pass its mod-97 check (a 400 naming ``field``)."""
    account = account_normalize(value)
    if not account:
        return ""
    if len(account) > 64:
        raise ValidationFailed(
            "The payer account is too long.",
            fields={field: ["At most 64 letters and digits (an IBAN has at most 34)."]},
        )
    if looks_like_iban(account) and not iban_valid(account):
        raise ValidationFailed(
            "The payer account is not a valid IBAN.",
            fields={field: ["Not a valid IBAN: its check digits do not match."]},
        )
    return account


def _key_or_refuse(payer_name: str) -> str:
    key = payer_key((payer_name or "").strip())
    if not key:
        raise ValidationFailed(
            "Give the payer's name as the bank shows it.",
            fields={"payer_name": ["Enter a payer name with at least one letter or digit."]},
        )
    return key


def _customer(organization, customer_id) -> Customer:
    try:
        return Customer.objects.for_org(organization).get(pk=customer_id)
    except (Customer.DoesNotExist, ValueError, TypeError) as exc:
        raise ValidationFailed(
            "Unknown customer.", fields={"customer_id": ["No such customer."]}
        ) from exc


def _alias_for_update(organization, alias_id) -> PayerCustomerHistory:
    try:
        return (
            PayerCustomerHistory.objects.for_org(organization).select_for_update().get(pk=alias_id)
        )
    except (PayerCustomerHistory.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("That payer name is no longer remembered.") from exc


@transaction.atomic
def payer_alias_remember(*, organization, payer_name: str, customer_id) -> PayerCustomerHistory:
    """Remember that money from ``payer_name`` is for the customer: its history counts at
    least ``REMEMBERED_COUNT`` matches, so matching treats it as strong evidence."""
    key = _key_or_refuse(payer_name)
    customer = _customer(organization, customer_id)
    alias, _created = PayerCustomerHistory.objects.select_for_update().get_or_create(
        organization_id=organization.pk,
        payer_key=key,
        customer=customer,
        defaults={"count": REMEMBERED_COUNT},
    )
    if alias.count < REMEMBERED_COUNT:
        alias.count = REMEMBERED_COUNT
        alias.save(update_fields=["count", "updated_at"])
    return alias


@transaction.atomic
def payer_alias_rename(*, organization, alias_id, payer_name: str) -> PayerCustomerHistory:
    """Correct a learned payer name; one already learned for the customer absorbs it."""
    alias = _alias_for_update(organization, alias_id)
    if alias.payer_key.startswith(ACCOUNT_KEY_PREFIX):
        raise ValidationFailed(
            "A learned payer account is not renamed.",
            fields={"payer_name": ["This alias is a payer account: forget it instead."]},
        )
    key = _key_or_refuse(payer_name)
    if key == alias.payer_key:
        return alias
    existing = (
        PayerCustomerHistory.objects.for_org(organization)
        .select_for_update()
        .filter(payer_key=key, customer_id=alias.customer_id)
        .first()
    )
    if existing is not None:
        PayerCustomerHistory.objects.filter(pk=existing.pk).update(count=F("count") + alias.count)
        alias.delete()
        existing.refresh_from_db()
        return existing
    alias.payer_key = key
    alias.save(update_fields=["payer_key", "updated_at"])
    return alias


@transaction.atomic
def payer_alias_forget(*, organization, alias_id) -> None:
    """Forget a learned payer name: matching no longer counts it for that customer."""
    _alias_for_update(organization, alias_id).delete()


def payer_aliases_unlearn(payment, customer_ids) -> int:
    """A clerk moved the payment's money away from these customers (unapplied it from their
    invoices, or reassigned it): what matching learned from this payer (its name and its
    account) for them was wrong.
    Each learned match counts one less; at none the alias is gone. How many were forgotten.

    Called in the clerk's transaction with the customers that lost the payment and gained
    nothing back from it."""
    keys = payer_keys(payment)
    customers = sorted({customer for customer in customer_ids if customer}, key=str)
    if not keys or not customers:
        return 0
    learned = PayerCustomerHistory.objects.for_org(payment.organization_id).filter(
        payer_key__in=keys, customer_id__in=customers
    )
    deleted, _ = learned.filter(count__lte=1).delete()
    learned.update(count=F("count") - 1)  # those left counted more than one
    return deleted
