"""The few open invoices one payment can match, read by what its evidence points at.

Matching a batch indexes the whole book once (``payments.services.matching._match_index``).
One payment arriving over the API should not read a book of a million invoices to rank a
handful: on PostgreSQL it reads only its candidates, in two statements whose cost does not
grow with the book (each an index lookup):

* invoices its reference or notes may name: open invoices whose number has the same digits
  (``invoice_number_key`` keeps digits and letters; equal keys have equal digits, so this
  reads every invoice the engine could find by number, and a few it then ignores);
* customers whose name or a contact's name is like the payer's (trigram word similarity,
  ``pg_trgm`` with GIN indexes, at a strict cut first and again at a loose one, in the same
  round trip, for a payer with no close name; the engine then scores them with its own
  measure), whose external id the reference mentions, or whom the clerks matched to this
  payer before;
* invoices of exactly the payment's amount, when at most ``MAX_AMOUNT_ONLY_HITS`` are (more,
  and an amount alone says nothing: the engine ignores them too);

then, of each of those customers, what the engine can match a payment to: its oldest
``RUN_POOL`` open invoices (subset sums, consecutive runs, what a named invoice leaves), its
oldest ``SAME_AMOUNT_CANDIDATES`` invoices of each payment's amount and the first as many it
can short-pay (index lookups, ``invoice_open_customer_age`` / ``_amount``), so a customer owing
thousands of invoices costs what one owing sixty does; their contacts and the payer's
history. The engine indexes that small book as it would the whole one and ranks the same
candidates; ``tests/payments/test_match_candidates.py`` checks the suggestions agree with the
whole-book index on generated books. (One thing it does not read: an invoice in another
currency than the payment's that only its converted amount would find, beyond the customer's
oldest; the engine suggests those to a clerk and never applies them itself.)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection

from arpilot.db import execute_with_settings
from customers.models import Contact, Customer
from payments.matching import OpenInvoice, PayerHistory, PaymentInput
from payments.matching.engine import (
    MAX_AMOUNT_ONLY_HITS,
    RUN_POOL,
    SAME_AMOUNT_CANDIDATES,
    SHORT_PAY_ABSOLUTE,
    SHORT_PAY_RATIO,
    short_pay_ceiling,
)
from payments.matching.normalize import (
    _CANONICAL,
    _LEGAL_SUFFIXES,
    account_key,
    external_id_key,
    from_cents,
    name_form,
    number_mentions,
    to_cents,
)
from payments.models import PayerCustomerHistory
from receivables.models import Invoice

# Names most like the payer's read as candidates (customers and contacts each).
NAME_HITS = 20
# Customers whose invoices are read at most (the best-named first), per payment and in all;
# the engine weighs the five best-named, and searches six customers' invoices.
CUSTOMERS_PER_PAYMENT = 12
MAX_CUSTOMERS = 40
# Payer names are read strictly first, loosely only when needed. The ``<%`` operator's cut,
# ``pg_trgm.word_similarity_threshold``, is 0.7 on every connection (``arpilot.settings``,
# DATABASES OPTIONS): for a payer of common words the trigram index hands out far fewer names
# to recheck than at a low cut. A payer with no name scoring ``CLOSE_NAME`` at that cut (a
# typo: "NOVPATH MEDIAA" for Novapath Media scores 0.61 by trigrams while the engine
# accepts it; a stranger) is read again at ``LOOSE_NAME_CUT``, below the engine's own
# acceptance, so a name it would accept is read (bench/README.md, bench.matching_one).
CLOSE_NAME = 0.8
LOOSE_NAME_CUT = 0.45

_DIGITS_RE = re.compile(r"\D+")
_OPEN = list(str(status) for status in Invoice.OPEN_STATUSES)

# The expressions the migration indexes (payments 0004): keep them identical.
NUMBER_DIGITS_SQL = "ltrim(regexp_replace(invoice_number, '[^0-9]+', '', 'g'), '0')"
EXTERNAL_KEY_SQL = "upper(regexp_replace(external_id, '[^A-Za-z0-9]+', '', 'g'))"


def usable() -> bool:
    """Candidates are read by SQL only PostgreSQL has (trigrams, regular expressions)."""
    return connection.vendor == "postgresql"


def _plain(form) -> str:
    """The payer's words as written, without the legal suffixes the engine drops too."""
    words = [
        word for word in form.simple.split() if _CANONICAL.get(word, word) not in _LEGAL_SUFFIXES
    ]
    return " ".join(words) or form.simple


def _digits(payments: Iterable[PaymentInput]) -> tuple[list[str], list[str]]:
    """The digit strings of every number the payments mention, and their external-id keys."""
    digits: set[str] = set()
    raw: set[str] = set()
    for payment in payments:
        for text in (payment.reference, payment.notes):
            for mention in number_mentions(text):
                key = _DIGITS_RE.sub("", mention.key).lstrip("0")
                if key:
                    digits.add(key)
                if len(mention.raw_key) >= 3:
                    raw.add(external_id_key(mention.raw_key))
    return sorted(digits), sorted(raw)


def candidate_book(
    org_id: int,
    payments: list[PaymentInput],
    *,
    short_pay_absolute: Decimal = SHORT_PAY_ABSOLUTE,
    short_pay_ratio: Decimal = SHORT_PAY_RATIO,
) -> tuple[list[OpenInvoice], PayerHistory]:
    """The open invoices the payments can match and the payer history they need (``short_pay_*``:
    the engine's tolerance, as the index that ranks them is built with)."""
    digits, raw_keys = _digits(payments)
    # The payer as written (upper case, punctuation dropped) without legal suffixes: names
    # are stored as written, and the engine's canonical words ("HLDGS") would not be found.
    payers = sorted(
        {
            _plain(form)
            for form in map(name_form, (p.payer_name for p in payments))
            if form.informative
        }
    )
    payer_keys = sorted(
        {name_form(p.payer_name).full for p in payments if p.payer_name}
        | {account_key(p.payer_account) for p in payments if p.payer_account}
    )
    amounts = sorted({p.amount for p in payments if p.amount > 0})
    absolute, ratio = to_cents(short_pay_absolute), short_pay_ratio.as_integer_ratio()
    ceilings = [from_cents(short_pay_ceiling(to_cents(a), absolute, ratio)) for a in amounts]
    invoice_table = Invoice._meta.db_table
    customer_table = Customer._meta.db_table
    contact_table = Contact._meta.db_table
    history_table = PayerCustomerHistory._meta.db_table
    open_filter = "organization_id = %(org)s AND status = ANY(%(open)s) AND amount_due > 0"
    # The engine's order of a customer's invoices (``MatchIndex._invoice_order``).
    age = "issue_date, COALESCE(due_date, issue_date), invoice_number"
    # One statement: the candidate customers (with why), then every open invoice of theirs
    # and the invoices named or of the amount, with customer name and external id.
    sql = f"""
        WITH named AS (
            SELECT id, customer_id FROM {invoice_table}
            WHERE {open_filter} AND {NUMBER_DIGITS_SQL} = ANY(%(digits)s)
        ), amount_hits AS (
            SELECT id, customer_id, amount_due FROM (
                SELECT id, customer_id, amount_due,
                       count(*) OVER (PARTITION BY amount_due) AS hits
                FROM (
                    SELECT id, customer_id, amount_due FROM {invoice_table}
                    WHERE {open_filter} AND amount_due = ANY(%(amounts)s)
                    LIMIT {MAX_AMOUNT_ONLY_HITS + 1} * (cardinality(%(amounts)s::numeric[]) + 1)
                ) limited
            ) counted WHERE hits <= {MAX_AMOUNT_ONLY_HITS}
        ), scored AS (
            SELECT payer, c.id AS customer_id,
                   word_similarity(payer, upper(c.company_name)) AS similarity
            FROM unnest(%(payers)s::text[]) AS payer,
            LATERAL (
                SELECT id, company_name FROM {customer_table}
                WHERE organization_id = %(org)s AND payer <%% upper(company_name)
                ORDER BY payer <<-> upper(company_name) LIMIT {NAME_HITS}
            ) c
            UNION ALL
            SELECT payer, k.customer_id, word_similarity(payer, upper(k.contact_name)) - 0.05
            FROM unnest(%(payers)s::text[]) AS payer,
            LATERAL (
                SELECT customer_id, contact_name FROM {contact_table}
                WHERE organization_id = %(org)s AND payer <%% upper(contact_name)
                ORDER BY payer <<-> upper(contact_name) LIMIT {NAME_HITS}
            ) k
        ), names AS (
            SELECT customer_id, max(similarity) AS similarity FROM scored GROUP BY customer_id
        ), wanted AS (
            SELECT customer_id, max(weight) AS weight FROM (
                SELECT customer_id, 3.0 AS weight FROM named
                UNION ALL SELECT customer_id, 2.0 FROM {history_table}
                    WHERE organization_id = %(org)s AND payer_key = ANY(%(payer_keys)s)
                UNION ALL SELECT id, 2.0 FROM {customer_table}
                    WHERE organization_id = %(org)s AND external_id <> ''
                    AND {EXTERNAL_KEY_SQL} = ANY(%(raw_keys)s)
                UNION ALL SELECT customer_id, similarity FROM names
                UNION ALL SELECT customer_id, 0.0 FROM amount_hits
            ) reasons GROUP BY customer_id
            ORDER BY max(weight) DESC, customer_id LIMIT %(max_customers)s
        ), chosen AS (
            SELECT x.id FROM wanted w CROSS JOIN LATERAL (
                SELECT id FROM {invoice_table}
                WHERE customer_id = w.customer_id AND {open_filter}
                ORDER BY {age} LIMIT {RUN_POOL}
            ) x
            UNION SELECT x.id FROM wanted w
            CROSS JOIN unnest(%(amounts)s::numeric[], %(ceilings)s::numeric[]) AS a(amount, ceiling)
            CROSS JOIN LATERAL (
                (SELECT id FROM {invoice_table}
                 WHERE customer_id = w.customer_id AND {open_filter} AND amount_due = a.amount
                 ORDER BY {age} LIMIT {SAME_AMOUNT_CANDIDATES})
                UNION ALL
                (SELECT id FROM {invoice_table}
                 WHERE customer_id = w.customer_id AND {open_filter}
                 AND amount_due > a.amount AND amount_due <= a.ceiling
                 ORDER BY amount_due, {age} LIMIT {SAME_AMOUNT_CANDIDATES})
            ) x
            UNION SELECT id FROM named
            UNION SELECT id FROM amount_hits
        )
        SELECT i.id, i.invoice_number, i.customer_id, c.company_name, c.external_id,
               i.amount_due, i.issue_date, i.due_date, i.currency,
               -- payers with a name this close: the others are looked up again, loosely
               (SELECT count(*) FROM (
                    SELECT payer FROM scored GROUP BY payer
                    HAVING max(similarity) >= {CLOSE_NAME}
               ) close) AS named_payers
        -- The ids as an array: planned as index lookups (joined to the CTE, its estimate of
        -- thousands of rows made a hash join over every invoice).
        FROM unnest(ARRAY(SELECT id FROM chosen)) AS picked(id)
        JOIN {invoice_table} i ON i.id = picked.id
        JOIN {customer_table} c ON c.id = i.customer_id
    """  # noqa: S608 - table names from models, values bound
    params = {
        "org": org_id,
        "open": _OPEN,
        "digits": digits,
        "raw_keys": raw_keys,
        "amounts": amounts,
        "ceilings": ceilings,
        "max_customers": min(MAX_CUSTOMERS, CUSTOMERS_PER_PAYMENT * len(payments)),
        "payers": payers,
        "payer_keys": payer_keys,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        if payers and (not rows or rows[0][-1] < len(payers)):
            # Some payer has no close name at the connection's strict cut (a typo, a name
            # written differently, a stranger): read again at the loose one, in the same
            # round trip.
            execute_with_settings(
                cursor, sql, params, {"pg_trgm.word_similarity_threshold": LOOSE_NAME_CUT}
            )
            rows = cursor.fetchall()
        rows = [row[:-1] for row in rows]
        customer_ids = sorted({row[2] for row in rows}, key=str)
        contacts: dict = {}
        history = PayerHistory()
        if customer_ids:
            # Contacts of those customers and the payers' history with every customer (its
            # shares are over all of them, as the whole-book index reads it).
            cursor.execute(
                f"""
                SELECT 'c', customer_id, contact_name, 0 FROM {contact_table}
                WHERE organization_id = %(org)s AND customer_id = ANY(%(customers)s)
                UNION ALL
                SELECT 'h', customer_id, payer_key, count FROM {history_table}
                WHERE organization_id = %(org)s AND payer_key = ANY(%(payer_keys)s)
                """,  # noqa: S608
                {"org": org_id, "customers": customer_ids, "payer_keys": payer_keys},
            )
            for kind, customer_id, text, count in cursor.fetchall():
                if kind == "c":
                    contacts.setdefault(customer_id, []).append(text)
                else:
                    history.counts.setdefault(text, Counter())[customer_id] += count
    invoices = open_invoices_from_rows(rows, contacts)
    return invoices, history


def open_invoices_from_rows(rows, contacts: dict) -> list[OpenInvoice]:
    """Matching's open invoices from rows of (id, number, customer id, company name,
    external id, amount due, issue date, due date, currency); ``contacts``: names by
    customer id (the whole book's read builds them the same way)."""
    frozen = {customer_id: tuple(names) for customer_id, names in contacts.items()}
    empty = ()
    return [
        OpenInvoice(
            id=pk,
            invoice_number=number,
            customer_id=customer_id,
            customer_name=company,
            customer_external_id=external or None,
            contact_names=frozen.get(customer_id, empty),
            open_balance=due,
            issue_date=issued,
            due_date=due_date,
            currency=currency or None,
        )
        for pk, number, customer_id, company, external, due, issued, due_date, currency in rows
    ]
