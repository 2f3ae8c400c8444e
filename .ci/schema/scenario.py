"""A short scenario through the client openapi-python-client generated from /api/schema/.

Usage: PYTHONPATH=<dir holding arpilot_client> python scenario.py BASE_URL API_KEY
"""

import datetime
import sys
import uuid

from arpilot_client import AuthenticatedClient
from arpilot_client.api.customers import customers_create
from arpilot_client.api.invoices import invoices_create
from arpilot_client.api.payments import payments_create, payments_list, payments_partial_update
from arpilot_client.api.receivables import aplos_receivables_list
from arpilot_client.api.reconciliation import reconciliation_changes_list
from arpilot_client.models import (
    ContactNestedCreateInputRequest,
    CustomerCreateInputRequest,
    InvoiceCreateRequest,
    PatchedPaymentUpdateRequest,
    PaymentCreateRequest,
)
from arpilot_client.types import Response


def ok(response: Response, status: int):
    if response.status_code != status:
        sys.exit(f"expected {status}, got {response.status_code}: {response.content[:500]!r}")
    if response.parsed is None:
        sys.exit(f"the client could not parse the {status} reply: {response.content[:500]!r}")
    return response.parsed


def main(base_url: str, key: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True)
    run = uuid.uuid4().hex[:8]
    today = datetime.date.today()

    customer = ok(
        customers_create.sync_detailed(
            client=client,
            body=CustomerCreateInputRequest(
                company_name=f"Scenario Co {run}",
                contacts=[
                    ContactNestedCreateInputRequest(contact_name="Ada", email="ada@example.com")
                ],
            ),
        ),
        201,
    ).data

    invoice = ok(
        invoices_create.sync_detailed(
            client=client,
            body=InvoiceCreateRequest(
                invoice_number=f"INV-{run}",
                customer_id=customer.id,
                due_date=today + datetime.timedelta(days=30),
                amount="120.30",  # money as a numeric string
            ),
        ),
        201,
    ).data
    assert str(invoice.amount_due) in {"120.3", "120.30"}, invoice.amount_due

    # Only the required fields: no payment_method, payer_name, … sent.
    payment = ok(
        payments_create.sync_detailed(
            client=client,
            body=PaymentCreateRequest(amount="120.30", payment_date=today),
            idempotency_key=f"scenario-{run}",
        ),
        201,
    ).data

    applied = ok(
        payments_partial_update.sync_detailed(
            str(payment.id),
            client=client,
            body=PatchedPaymentUpdateRequest(invoice_id=invoice.id),
        ),
        200,
    ).data
    assert str(applied.invoice_id) == str(invoice.id), applied
    assert applied.unapplied_amount == 0, applied.unapplied_amount

    reviewed_queue = ok(payments_list.sync_detailed(client=client, reviewed=False), 200)
    assert any(str(p.id) == str(payment.id) for p in reviewed_queue.data)

    changes = ok(reconciliation_changes_list.sync_detailed(client=client), 200)
    receivables = ok(aplos_receivables_list.sync_detailed(client=client), 200)
    assert receivables.links.self_.startswith("/hermes/api/v1/receivables"), receivables.links
    print(
        f"python scenario OK: invoice {invoice.invoice_number} paid by payment {payment.id}; "
        f"{changes.pagination.total} approved change(s); "
        f"{receivables.meta.resource_count} Aplos receivable(s)"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
