"""Bank-file imports: store an upload and queue it, then (in the task) parse the file, skip
the credits imported before, COPY the new payments in batches with progress, and queue
their matching."""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from arpilot.errors import ValidationFailed
from arpilot.models import Organization
from arpilot.queueing import task_send, task_send_on_commit

# payments.tasks imports this package too; both sides only use the other's attributes when
# called, so the cycle is safe at import time.
from payments import importers, lock_objects, tasks
from payments.models import ZERO, Payment, PaymentImport
from payments.rendering import render_payment
from payments.selectors import payment_list
from payments.services.common import (
    COPY_ESCAPES,
    COPY_NULL,
    collector_paused,
    copy_field,
    copy_rows,
)
from payments.services.remittances import remittances_link_import
from webhooks.services import event_emit, event_wanted

logger = logging.getLogger(__name__)

IMPORT_BATCH = 20_000
# Files up to this size are parsed during the upload too, so an unreadable one is a 400 at
# once; larger ones are only sniffed, and a failure shows on the import (status "failed").
SYNC_PARSE_MAX_BYTES = 2 * 1024 * 1024
# A "running" import whose worker has been silent this long is taken over by a new task.
IMPORT_STALE_AFTER = 600
IMPORT_QUEUED_GRACE = 120

# The columns of an imported payment that differ from row to row, in this order; the others
# (organization, timestamps, status, import…) are the same for the whole file.
IMPORT_COLUMNS = (
    "id",
    "amount",
    "payment_date",
    "payment_method",
    "payer_name",
    "payer_reference",
    "external_payment_id",
    "currency",
    "bank_account",
    "line_number",
    "fingerprint",
    "payer_account",
)
_EXTERNAL_ID = IMPORT_COLUMNS.index("external_payment_id")
_FINGERPRINT = IMPORT_COLUMNS.index("fingerprint")


# --- the upload -------------------------------------------------------------------------------


def _csv_mapping(raw: dict | None):
    if not raw:
        return None
    values = dict(raw)
    if isinstance(values.get("reference"), list):
        values["reference"] = tuple(values["reference"])
    return importers.CsvMapping(**values)


def _check_parses(data: bytes, fmt, mapping, filename: str) -> None:
    """A 400 for a (small) file its parser refuses or chokes on."""
    try:
        importers.parse(data, fmt=fmt, csv_mapping=mapping)
    except importers.ImportFileError as exc:
        fields = {"file": [exc.message]}
        if mapping is not None:
            fields["mapping"] = [exc.message]
        raise ValidationFailed(
            f"The file cannot be imported: {exc.message}.", fields=fields
        ) from None
    except Exception:  # a parser bug on odd input: still the upload's fault, not a 500
        logger.exception("bank file %r could not be parsed", filename)
        message = "the file could not be read as a bank file"
        raise ValidationFailed(
            f"The file cannot be imported: {message}.", fields={"file": [message]}
        ) from None


@transaction.atomic
def payment_import_create(
    *, organization, filename: str, data: bytes, csv_mapping: dict | None = None
):
    """Store an uploaded bank file and queue its import (400 for a file that is not one)."""
    if not data or not data.strip():
        raise ValidationFailed("The file is empty.", fields={"file": ["The file is empty."]})
    mapping = _csv_mapping(csv_mapping)
    fmt = importers.detect_format(data)
    if fmt is None and mapping is None:
        raise ValidationFailed(
            importers.NOT_A_BANK_FILE[:1].upper() + importers.NOT_A_BANK_FILE[1:] + ".",
            fields={
                "file": [
                    importers.NOT_A_BANK_FILE[:1].upper() + importers.NOT_A_BANK_FILE[1:] + "."
                ]
            },
        )
    if len(data) <= SYNC_PARSE_MAX_BYTES:
        _check_parses(data, fmt, mapping, filename)
    payment_import = PaymentImport.objects.create(
        organization=organization,
        filename=(filename or "")[:255],
        file_size=len(data),
        data=zlib.compress(data, 1),
        format=fmt or importers.FORMATS[0],
        csv_mapping=csv_mapping or None,
    )
    import_id = str(payment_import.pk)
    task_send_on_commit(tasks.payment_import_task, args=[import_id])
    return payment_import


# --- rows -------------------------------------------------------------------------------------


def _uuid4_texts(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, for COPY: one urandom call instead of a
    ``uuid.UUID`` object per row (a tenth of an import's Python time at 100k rows)."""
    raw = bytearray(os.urandom(16 * count))
    for offset in range(0, 16 * count, 16):
        raw[offset + 6] = (raw[offset + 6] & 0x0F) | 0x40
        raw[offset + 8] = (raw[offset + 8] & 0x3F) | 0x80
    text = raw.hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def _import_shared(payment_import) -> tuple[dict, str]:
    """The values every payment of an import shares, and the organization's currency."""
    organization_currency = Organization.objects.values_list("currency", flat=True).get(
        pk=payment_import.organization_id
    )
    now = timezone.now()
    shared = {
        "organization_id": payment_import.organization_id,
        "created_at": now,
        "updated_at": now,
        "notes": "",
        "status": Payment.Status.UNMATCHED,
        "applied_amount": ZERO,
        "written_off_amount": ZERO,
        "reviewed": False,
        "reviewed_at": None,
        "auto_applied": False,
        "unapplied_by_clerk": False,
        "source": Payment.Source.IMPORT,
        "payment_import_id": payment_import.pk,
        "customer_id": None,
        "refunded_amount": ZERO,
    }
    return shared, organization_currency or ""


def _import_row_tuples(
    transactions, *, file_currency: str, file_account: str, seen_prints: dict
) -> list[tuple]:
    """Credits as payment rows, one tuple each in ``IMPORT_COLUMNS`` order. A credit with a
    bank transaction id is keyed by it, one without by its fingerprint (numbered among
    themselves across the file through ``seen_prints``, so two identical ones are both
    kept)."""
    anonymous = [tx for tx in transactions if not (tx.bank_transaction_id or "").strip()]
    prints = dict(
        zip(map(id, anonymous), importers.fingerprints(anonymous, seen_prints), strict=True)
    )
    rows = []
    for tx, pk in zip(transactions, _uuid4_texts(len(transactions)), strict=True):
        bank_id = (tx.bank_transaction_id or "").strip()[:255]
        rows.append(
            (
                pk,
                tx.amount,
                tx.booking_date,
                (tx.payment_method or "")[:100],
                (tx.payer_name or "")[:255],
                (tx.reference or "")[:1000],
                bank_id,
                (tx.currency or file_currency)[:3].upper(),
                (tx.account or file_account)[:100],
                tx.line_number,
                "" if bank_id else prints[id(tx)],
                tx.payer_account or "",
            )
        )
    return rows


# --- inserting --------------------------------------------------------------------------------


def _payment_lines(shared: dict, rows: list[tuple]) -> Iterator[str]:
    """Payment rows as COPY text (``IMPORT_COLUMNS`` then ``shared``), 2,000 rows a chunk:
    formatted here in one f-string per row, the escaping inlined."""
    tail = "\t".join(copy_field(value) for value in shared.values()) + "\n"
    escapes = COPY_ESCAPES
    null = COPY_NULL
    for start in range(0, len(rows), 2000):
        yield "".join(
            f"{pk}\t{amount}\t{day.isoformat()}\t{method.translate(escapes)}\t"
            f"{payer.translate(escapes)}\t{reference.translate(escapes)}\t"
            f"{bank_id.translate(escapes)}\t{currency.translate(escapes)}\t"
            f"{account.translate(escapes)}\t{null if line is None else line}\t"
            f"{print_}\t{payer_account.translate(escapes)}\t{tail}"
            for pk, amount, day, method, payer, reference, bank_id, currency, account, line, print_, payer_account in rows[
                start : start + 2000
            ]
        )


def _payments_copy(table: str, shared: dict, rows: list[tuple]) -> None:
    """COPY imported payment rows into ``table`` (the payments table or its staging twin)."""
    fields = {field.attname: field.column for field in Payment._meta.concrete_fields}
    if set(fields) != set(shared) | set(IMPORT_COLUMNS):
        raise ImproperlyConfigured("Payment columns changed: update IMPORT_COLUMNS / shared.")
    names = [fields[name] for name in IMPORT_COLUMNS] + [fields[name] for name in shared]
    # Written in chunks: the server stores one chunk while the next is formatted.
    copy_rows(table, names, _payment_lines(shared, rows))


def _new_rows(organization_id: int, rows: list[tuple]) -> list[tuple]:
    """The rows whose bank transaction id / fingerprint is neither stored nor earlier in
    the file."""
    table = Payment._meta.db_table
    ids = [row[_EXTERNAL_ID] for row in rows if row[_EXTERNAL_ID]]
    prints = [row[_FINGERPRINT] for row in rows if row[_FINGERPRINT]]
    taken_ids: set = set()
    taken_prints: set = set()
    with connection.cursor() as cursor:
        if ids:
            cursor.execute(
                f"SELECT external_payment_id FROM {table} WHERE organization_id = %s "  # noqa: S608
                "AND external_payment_id <> '' AND external_payment_id = ANY(%s)",
                [organization_id, ids],
            )
            taken_ids = {value for (value,) in cursor.fetchall()}
        if prints:
            cursor.execute(
                f"SELECT fingerprint FROM {table} WHERE organization_id = %s "  # noqa: S608
                "AND fingerprint <> '' AND fingerprint = ANY(%s)",
                [organization_id, prints],
            )
            taken_prints = {value for (value,) in cursor.fetchall()}
    fresh = []
    for row in rows:
        key_id, key_print = row[_EXTERNAL_ID], row[_FINGERPRINT]
        if (key_id and key_id in taken_ids) or (key_print and key_print in taken_prints):
            continue
        if key_id:
            taken_ids.add(key_id)
        if key_print:
            taken_prints.add(key_print)
        fresh.append(row)
    return fresh


def _relaxed_commit() -> None:
    """Let this transaction's commit return before its WAL reaches the disk.

    Safe for import batches: a crash can lose only the latest commits, in order, so an
    import whose rows were lost is not yet "done" and the sweeper runs it again (inserts
    are idempotent); the final "done" update commits durably, flushing all before it.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _insert_new_payments(shared: dict, rows: list[tuple]) -> None:
    """Insert rows whose bank transaction id / fingerprint is not taken yet; skip the others.

    On PostgreSQL the batch's keys are looked up and the new rows COPYed straight in; if a
    concurrent import of the same file wins a race for some row, the batch is written again
    through a staging table with ``ON CONFLICT DO NOTHING``.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        Payment.objects.bulk_create(
            [Payment(**shared, **dict(zip(IMPORT_COLUMNS, row, strict=True))) for row in rows],
            ignore_conflicts=True,
            batch_size=500,
        )
        return
    table = Payment._meta.db_table
    fresh = _new_rows(shared["organization_id"], rows)
    if not fresh:
        return
    try:
        with transaction.atomic():
            _payments_copy(table, shared, fresh)
        return
    except (IntegrityError, psycopg.IntegrityError):  # COPY runs on the raw psycopg cursor
        pass
    names = ", ".join(field.column for field in Payment._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS payments_import_stage "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    _payments_copy("payments_import_stage", shared, fresh)
    with connection.cursor() as cursor:
        cursor.execute(
            # Table and column names come from the model, never from input.
            f"INSERT INTO {table} ({names}) SELECT {names} FROM payments_import_stage "  # noqa: S608
            "ON CONFLICT DO NOTHING"
        )
        cursor.execute("DELETE FROM payments_import_stage")


# --- the run ----------------------------------------------------------------------------------


def _import_claim(import_id):
    """Mark the import running; None if it is finished or another worker is on it."""
    with transaction.atomic():
        payment_import = lock_objects.payment_import_for_update(import_id)
        if payment_import is None or payment_import.status in (
            PaymentImport.Status.DONE,
            PaymentImport.Status.FAILED,
        ):
            return None
        now = timezone.now()
        if (
            payment_import.status == PaymentImport.Status.RUNNING
            and payment_import.updated_at
            and (now - payment_import.updated_at).total_seconds() < IMPORT_STALE_AFTER
        ):
            return None
        payment_import.status = PaymentImport.Status.RUNNING
        payment_import.started_at = payment_import.started_at or now
        payment_import.save(update_fields=["status", "started_at", "updated_at"])
        return payment_import


def payment_import_run(*, import_id) -> None:
    """Import a stored bank file (the task's body): parse, skip what was imported before,
    insert the new payments in batches with progress, then queue their matching.

    Safe to run twice: payments are unique per organization by bank transaction id or
    fingerprint, and the counters are recomputed from the rows.
    """
    payment_import = _import_claim(import_id)
    if payment_import is None:
        return
    with collector_paused():  # a file's rows: see collector_paused
        _import_run(payment_import)


class _Parse:
    """The file parsed in a thread (pure Python, no database) while the caller stores what
    it has read so far: a CSV's credits appear in ``streamed`` row by row. (The other
    formats hand over their transactions when they are done.)"""

    def __init__(self, payment_import):
        self.stored_file = bytes(payment_import.data)
        self.fmt = payment_import.format or None
        self.mapping = _csv_mapping(payment_import.csv_mapping)
        self.streamed = importers.ParseResult(format=importers.FORMAT_CSV)
        self.lines: int | None = None  # the file's lines, once decompressed
        self.result = None
        self.error: Exception | None = None
        self.thread = threading.Thread(
            target=self._parse, name=f"import-parse-{payment_import.pk}", daemon=True
        )
        self.thread.start()

    def _parse(self) -> None:
        try:
            data = zlib.decompress(self.stored_file)
            self.lines = data.count(b"\n") + (not data.endswith(b"\n"))
            self.result = importers.parse(
                data, fmt=self.fmt, csv_mapping=self.mapping, into=self.streamed
            )
        except Exception as exc:  # reported by the run, in the import's status
            self.error = exc


# While an import runs, its progress is in lines of the file: ``total`` is the file's line
# count (known from the start) and ``processed`` the line the import has reached; when it is
# done both count credits (read, stored). A clerk sees "line 40,000 of 100,000" at once
# instead of "0 of ?" until the parse ends.
PROGRESS_EVERY = 0.5  # seconds between progress updates while a CSV is read


class _ImportWriter:
    """Stores an import's credits batch by batch, each batch with its progress."""

    def __init__(self, payment_import):
        self.import_id = payment_import.pk
        self.shared, self.organization_currency = _import_shared(payment_import)
        self.seen_prints: dict = {}
        self.stored = 0
        self.lines = 0  # the file's line count, once known
        self.line_reached = 0

    def progress(self, *, lines: int | None = None, line_reached: int | None = None) -> None:
        """Record the file's line count and the line reached (never backwards)."""
        if lines is not None:
            self.lines = lines
        if line_reached is not None:
            self.line_reached = max(self.line_reached, min(line_reached, self.lines))
        PaymentImport.objects.filter(pk=self.import_id).update(
            total=self.lines, processed=self.line_reached, updated_at=timezone.now()
        )

    def store(self, transactions, *, file_currency: str, file_account: str) -> None:
        rows = _import_row_tuples(
            transactions,
            file_currency=file_currency,
            file_account=file_account,
            seen_prints=self.seen_prints,
        )
        self.stored += len(rows)
        last_line = max((tx.line_number or 0 for tx in transactions), default=0)
        with transaction.atomic():
            _relaxed_commit()
            _insert_new_payments(self.shared, rows)
            self.progress(line_reached=last_line)


def _import_run(payment_import) -> None:
    parse = _Parse(payment_import)  # started before the writer's reads, to overlap them
    writer = _ImportWriter(payment_import)
    consumed = _store_while_parsing(parse, writer)
    if parse.error is not None:
        _import_failed(payment_import.pk, parse.error)
        return
    result = parse.result
    _import_parsed(payment_import.pk, result)
    _store_the_rest(result, writer, consumed)
    created_count = _import_done(payment_import, len(result.transactions))
    if created_count:
        org_id = payment_import.organization_id
        # Advice that came before its payment is applied first (matching skips those).
        remittances_link_import(org_id, payment_import.pk)
        task_send_on_commit(
            tasks.payments_match_task, args=[org_id], kwargs={"import_id": str(payment_import.pk)}
        )


def _store_while_parsing(parse: _Parse, writer: _ImportWriter) -> int:
    """Store each full batch of streamed credits while the parse goes on, so the database
    works while Python parses; how many credits were stored so."""
    # A CSV credit without a currency or account of its own has none from the file either:
    # ParseResult.currency/account are the one value every credit carried. So batches stored
    # before the parse ends get the organization's currency and no account, as they would
    # after it.
    streamed = parse.streamed
    consumed = 0
    reported = 0.0
    while parse.thread.is_alive():
        if parse.lines is not None and not writer.lines:
            writer.progress(lines=parse.lines)
            reported = time.monotonic()
        if len(streamed.transactions) - consumed >= IMPORT_BATCH:
            batch = streamed.transactions[consumed : consumed + IMPORT_BATCH]
            consumed += len(batch)
            writer.store(batch, file_currency=writer.organization_currency, file_account="")
            reported = time.monotonic()
        elif (
            writer.lines and streamed.transactions and time.monotonic() - reported > PROGRESS_EVERY
        ):
            writer.progress(line_reached=streamed.transactions[-1].line_number or 0)
            reported = time.monotonic()
        else:
            parse.thread.join(0.005)
    if parse.lines is not None and not writer.lines:
        writer.lines = parse.lines
    return consumed


def _store_the_rest(result, writer: _ImportWriter, consumed: int) -> None:
    """Store the credits the parse handed over at its end (all, for a non-CSV file)."""
    total = len(result.transactions)
    for start in range(consumed, total, IMPORT_BATCH):
        writer.store(
            result.transactions[start : start + IMPORT_BATCH],
            file_currency=result.currency or writer.organization_currency,
            file_account=result.account or "",
        )


def _import_failed(import_id, error: Exception) -> None:
    if not isinstance(error, importers.ImportFileError):
        logger.error("payment import %s failed", import_id, exc_info=error)
    PaymentImport.objects.filter(pk=import_id).update(
        status=PaymentImport.Status.FAILED,
        error=error.message
        if isinstance(error, importers.ImportFileError)
        else f"unexpected error: {type(error).__name__}",
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _import_parsed(import_id, result) -> None:
    """Record what the parse found: format, skipped debits, rejected lines (the progress
    stays in lines until the import is done)."""
    PaymentImport.objects.filter(pk=import_id).update(
        format=result.format,
        debits_skipped=result.debits_skipped,
        rejected=[
            {"line_number": line.line_number, "reason": line.reason, "raw": line.raw}
            for line in result.rejected
        ],
        bank_account=(result.account or "")[:100],
        currency=(result.currency or "")[:3],
        updated_at=timezone.now(),
    )


def _import_done(payment_import, rows_count: int) -> int:
    """Announce the created payments and mark the import done; how many it created."""
    created = Payment.objects.filter(payment_import_id=payment_import.pk)
    created_count = created.count()
    with transaction.atomic():
        if created_count and event_wanted(payment_import.organization_id, "payment.imported"):
            _emit_imported(payment_import.organization_id, created)
        PaymentImport.objects.filter(pk=payment_import.pk).update(
            status=PaymentImport.Status.DONE,
            created_count=created_count,
            created_totals=_created_totals(created),
            duplicates_count=rows_count - created_count,
            total=rows_count,
            processed=rows_count,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    return created_count


def _emit_imported(organization_id: int, created) -> None:
    """A ``payment.imported`` event per created payment, rendered 500 at a time."""
    created_ids = list(created.values_list("pk", flat=True))
    for start in range(0, len(created_ids), 500):
        for payment in payment_list(organization=organization_id).filter(
            pk__in=created_ids[start : start + 500]
        ):
            event_emit(
                organization_id=payment.organization_id,
                event_type="payment.imported",
                data=render_payment(payment),
            )


def _created_totals(created) -> list[dict]:
    """The credits an import created, per currency: count and exact sum (a decimal string)."""
    rows = created.order_by().values("currency").annotate(count=Count("pk"), amount=Sum("amount"))
    return [
        {"currency": row["currency"], "count": row["count"], "amount": f"{row['amount']:.2f}"}
        for row in sorted(rows, key=lambda row: row["currency"])
    ]


def payment_imports_requeue_stale() -> int:
    """Queue again the imports whose task was lost: queued for over two minutes, or
    running with a silent worker for ``IMPORT_STALE_AFTER`` seconds (beat, every 5 minutes)."""
    now = timezone.now()
    stale = list(
        PaymentImport.objects.filter(
            Q(
                status=PaymentImport.Status.QUEUED,
                created_at__lt=now - timedelta(seconds=IMPORT_QUEUED_GRACE),
            )
            | Q(
                status=PaymentImport.Status.RUNNING,
                updated_at__lt=now - timedelta(seconds=IMPORT_STALE_AFTER),
            )
        ).values_list("pk", flat=True)[:100]
    )
    for import_id in stale:
        task_send(tasks.payment_import_task, args=[str(import_id)])
    return len(stale)
