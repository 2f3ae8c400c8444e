"""Receivables' write operations, one module per job (re-exported here, so callers write
``from receivables import services`` or ``from receivables.services import x``):

- ``ledger``: the chart of accounts, funds, balanced postings and their reversals;
- ``invoices``: invoices created, changed, voided and deleted;
- ``invoice_lines``: an invoice's lines and the entries that issue it;
- ``invoice_money``: money on invoices (payments applied, offline payments, Aplos receive);
- ``state``: the derived status, the invoice lock and the events every service shares;
- ``overdue``: the hourly overdue sweep;
- ``statements``: statements of account emailed through the mail outbox;
- ``adjustments``: balances lowered without money received (write-offs, credit notes);
- ``rates``: the organization's exchange rates (one posted, or a CSV of many).
"""

from receivables.services.adjustments import Adjustment, invoice_credit, invoice_write_off
from receivables.services.invoice_lines import LineSpec
from receivables.services.invoice_money import (
    invoice_apply_payment,
    invoice_offline_payment_reverse,
    invoice_receive,
    invoice_record_offline_payment,
    invoice_unapply_payment,
)
from receivables.services.invoices import (
    _next_aplos_id,
    aplos_contact_for,
    customer_delete_hook,
    invoice_create,
    invoice_currency,
    invoice_delete,
    invoice_has_moved_money,
    invoice_update,
    invoice_void,
)
from receivables.services.ledger import (
    DEFAULT_ACCOUNTS,
    DEFAULT_FUND_NAME,
    REVERSAL_KIND,
    Posting,
    account_create,
    account_update,
    default_account,
    default_fund,
    fund_create,
    fund_update,
    ledger_defaults,
    ledger_post,
    ledger_reverse,
    organization_ledger_setup,
)
from receivables.services.overdue import OVERDUE_BATCH, invoices_mark_overdue
from receivables.services.rates import IMPORT_MAX_BYTES as RATES_IMPORT_MAX_BYTES
from receivables.services.rates import RatesImported, exchange_rate_set, exchange_rates_import
from receivables.services.state import (
    Status,
    customer_today,
    derive_status,
    is_prefetched,
    money_moving,
)
from receivables.services.statements import StatementsQueued, statement_send, statements_send

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEFAULT_FUND_NAME",
    "OVERDUE_BATCH",
    "RATES_IMPORT_MAX_BYTES",
    "REVERSAL_KIND",
    "Adjustment",
    "LineSpec",
    "Posting",
    "RatesImported",
    "StatementsQueued",
    "Status",
    "_next_aplos_id",
    "account_create",
    "account_update",
    "aplos_contact_for",
    "customer_delete_hook",
    "customer_today",
    "default_account",
    "default_fund",
    "derive_status",
    "exchange_rate_set",
    "exchange_rates_import",
    "fund_create",
    "fund_update",
    "invoice_apply_payment",
    "invoice_create",
    "invoice_credit",
    "invoice_currency",
    "invoice_delete",
    "invoice_has_moved_money",
    "invoice_offline_payment_reverse",
    "invoice_receive",
    "invoice_record_offline_payment",
    "invoice_unapply_payment",
    "invoice_update",
    "invoice_void",
    "invoice_write_off",
    "invoices_mark_overdue",
    "is_prefetched",
    "ledger_defaults",
    "ledger_post",
    "ledger_reverse",
    "money_moving",
    "organization_ledger_setup",
    "statement_send",
    "statements_send",
]
