"""``select_for_update`` querysets of payments.

Lock order for money: the payment row first, then invoices in primary-key order
(``receivables.lock_objects.invoices_for_update``). Every service that moves money takes its
locks in that order, so two of them can wait for each other but never deadlock.
"""

from django.db import connection

from arpilot.errors import NotFound
from arpilot.models import Organization
from payments.models import Payment, PaymentImport, PaymentSettings


def payment_for_update(organization, payment_id) -> Payment:
    """Lock one payment of the organization (404 when it is not one of its payments)."""
    payment = (
        Payment.objects.for_org(organization).filter(pk=payment_id).select_for_update().first()
    )
    if payment is None:
        raise NotFound("Payment not found.")
    if isinstance(organization, Organization):
        payment.organization = organization  # in hand: the services read it, no second query
    return payment


def payment_import_for_update(import_id) -> PaymentImport | None:
    return PaymentImport.objects.filter(pk=import_id).defer("data").select_for_update().first()


def payment_settings_for_update(organization) -> PaymentSettings:
    return PaymentSettings.objects.select_for_update().get(
        organization_id=getattr(organization, "pk", organization)
    )


MATCHING_LOCK_CLASS = 4_001


def matching_store_lock(organization_id: int) -> None:
    """Two matching runs of one organization (an import's and an on-demand one) write their
    suggestions batch by batch in turn (a transaction-scoped advisory lock on PostgreSQL;
    SQLite serialises writers anyway). It is no row lock, so money services, which lock
    payments and invoices, never wait for it and cannot deadlock with it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [MATCHING_LOCK_CLASS, organization_id]
            )
