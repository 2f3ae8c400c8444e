"""Bank-file imports: POST /api/v1/payments/import and GET /api/v1/payments/imports/{id}."""

import json
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from payments import services
from payments.models import Payment, PaymentImport
from payments.services import imports
from tests.payments.factories import make_invoice

SAMPLES = Path(__file__).parent / "samples"
IMPORT_URL = "/api/v1/payments/import"


_capture = []


@pytest.fixture(autouse=True)
def _run_on_commit(django_capture_on_commit_callbacks):
    """The import task is queued on commit; run it (eagerly) when the request commits."""
    _capture.append(django_capture_on_commit_callbacks)
    yield
    _capture.pop()


def upload(api, name: str, data: bytes | None = None, **extra):
    body = {
        "file": SimpleUploadedFile(
            name, data if data is not None else (SAMPLES / name).read_bytes()
        )
    }
    body.update(extra)
    with _capture[-1](execute=True):
        return api.post(IMPORT_URL, body, format="multipart")


def outcome(api, response) -> dict:
    assert response.status_code == 202, response.content
    return api.get(f"/api/v1/payments/imports/{response.json()['data']['id']}").json()["data"]


@pytest.mark.parametrize(
    ("name", "fmt", "created", "debits"),
    [
        ("chase_checking_date_description_amount.csv", "csv", 4, 2),
        ("posting_date_amount_payee_reference.csv", "csv", 3, 2),
        ("credit_debit_counterparty_details.csv", "csv", 3, 2),
        ("chase_business_details.csv", "csv", 3, 2),
        ("booking_date_semicolon_decimal_comma.csv", "csv", 3, 1),
        ("wells_fargo_v1.ofx", "ofx", 3, 1),
        ("bank_of_america_v2.ofx", "ofx", 2, 1),
        ("camt053_v08_deutsche_bank.xml", "camt053", 3, 1),
        ("jpmorgan_bai2.bai", "bai2", 4, 1),
    ],
)
def test_each_format_imports_its_credits(api, org, name, fmt, created, debits):
    result = outcome(api, upload(api, name))

    assert result["status"] == "done"
    assert result["format"] == fmt
    assert result["filename"] == name
    assert (result["total"], result["created_count"], result["duplicates_count"]) == (
        created,
        created,
        0,
    )
    assert result["debits_skipped"] == debits
    assert result["rejected"] == []
    assert result["progress"] == 1.0
    assert result["error"] is None
    payments = Payment.objects.for_org(org)
    assert payments.count() == created
    assert all(p.source == "import" and str(p.payment_import_id) == result["id"] for p in payments)
    assert all(p.amount > 0 for p in payments)


def test_response_is_202_with_the_import(api, org):
    response = upload(api, "wells_fargo_v1.ofx")

    assert response.status_code == 202
    data = response.json()["data"]
    assert set(data) == {
        "id",
        "status",
        "format",
        "filename",
        "file_size",
        "bank_account",
        "currency",
        "total",
        "processed",
        "progress",
        "created_count",
        "created_totals",
        "duplicates_count",
        "debits_skipped",
        "rejected",
        "error",
        "started_at",
        "finished_at",
        "created_at",
        "updated_at",
    }
    assert data["format"] == "ofx"


def test_importing_the_same_file_twice_creates_nothing_the_second_time(api, org):
    for name in ("chase_checking_date_description_amount.csv", "jpmorgan_bai2.bai"):
        first = outcome(api, upload(api, name))
        second = outcome(api, upload(api, name))

        assert second["created_count"] == 0
        assert second["duplicates_count"] == first["created_count"] > 0
    assert Payment.objects.for_org(org).count() == 4 + 4


def test_bad_lines_are_reported_and_good_lines_imported(api, org):
    result = outcome(api, upload(api, "bad_lines.csv"))

    assert result["status"] == "done"
    assert result["created_count"] == 6
    assert result["debits_skipped"] == 1
    assert [line["line_number"] for line in result["rejected"]][:3] == [7, 9, 10]
    assert result["rejected"][0] == {
        "line_number": 7,
        "reason": "line 7: amount 'abc' is not a number",
        "raw": result["rejected"][0]["raw"],
    }
    assert "abc" in result["rejected"][0]["raw"]


def test_a_truncated_bai2_file_is_refused_whole_with_the_level_that_failed(api, org):
    response = upload(api, "malformed_bai2_truncated.bai")

    assert response.status_code == 400
    [message] = response.json()["error"]["fields"]["file"]
    assert "file trailer (99)" in message
    assert not PaymentImport.objects.exists()


@pytest.mark.parametrize(
    "name",
    [
        "not_a_bank_file.json",
        "not_a_bank_file.txt",
        "not_a_bank_file_pain001.xml",
        "malformed_truncated.ofx",
        "malformed_truncated_camt053.xml",
        "xxe_camt053.xml",
    ],
)
def test_not_a_bank_file_or_unreadable_file_is_400(api, org, name):
    response = upload(api, name)

    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]
    assert not PaymentImport.objects.exists()


def test_binary_and_empty_files_are_400(api):
    assert upload(api, "x.png", b"\x89PNG\r\n\x1a\n" + bytes(200)).status_code == 400
    assert upload(api, "empty.csv", b"").status_code == 400


def test_missing_file_is_400(api):
    response = api.post(IMPORT_URL, {}, format="multipart")

    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_json_body_is_415(api):
    response = api.post(IMPORT_URL, {"file": "x"}, format="json")

    assert response.status_code == 415


def test_csv_with_a_column_mapping(api, org):
    data = (
        b"When;Who;Why;How much;Id\n"
        b"01.10.2024;Acme Corp;INV-1042;1.250,00;A1\n"
        b"02.10.2024;Globex;Inv 7;-20,00;A2\n"
    )
    mapping = {
        "date": "When",
        "payer_name": "Who",
        "reference": ["Why"],
        "amount": "How much",
        "transaction_id": "Id",
        "decimal_separator": ",",
        "day_first": True,
    }

    result = outcome(api, upload(api, "odd.csv", data, mapping=json.dumps(mapping)))

    assert (result["created_count"], result["debits_skipped"]) == (1, 1)
    payment = Payment.objects.for_org(org).get()
    assert (str(payment.amount), payment.payer_name, payment.external_payment_id) == (
        "1250.00",
        "Acme Corp",
        "A1",
    )
    assert payment.payment_date.isoformat() == "2024-10-01"


@pytest.mark.parametrize(
    "mapping",
    [
        "not json",
        "[1, 2]",
        json.dumps({"colour": "red"}),
        json.dumps({"date": True}),
        json.dumps({"decimal_separator": "x"}),
        json.dumps({"date": "Nope", "amount": "Amount"}),
    ],
)
def test_bad_mapping_is_400(api, mapping):
    response = upload(api, "bad_lines.csv", mapping=mapping)

    assert response.status_code == 400
    assert "mapping" in response.json()["error"]["fields"]


def test_imported_payments_are_matched(api, org):
    from tests.factories import CustomerFactory

    customer = CustomerFactory(organization=org, company_name="Acme Corp")
    invoice = make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-1042")

    outcome(api, upload(api, "bad_lines.csv"))

    payment = Payment.objects.for_org(org).get(external_payment_id="T1")
    assert payment.suggestions.exists()
    assert str(payment.suggestions.get(rank=1).invoice_ids[0]) == str(invoice.pk)


def test_running_the_task_again_changes_nothing(api, org):
    result = outcome(api, upload(api, "jpmorgan_bai2.bai"))

    services.payment_import_run(import_id=result["id"])
    PaymentImport.objects.filter(pk=result["id"]).update(status="queued")
    services.payment_import_run(import_id=result["id"])

    again = api.get(f"/api/v1/payments/imports/{result['id']}").json()["data"]
    assert (again["created_count"], again["duplicates_count"]) == (4, 0)
    assert Payment.objects.for_org(org).count() == 4


def test_imports_of_another_organization_are_404(api, other_api):
    result = outcome(api, upload(api, "jpmorgan_bai2.bai"))

    assert other_api.get(f"/api/v1/payments/imports/{result['id']}").status_code == 404
    assert api.get(f"/api/v1/payments/imports/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/v1/payments/imports/nope").status_code == 404


def test_import_needs_a_key(anon_api):
    response = anon_api.post(
        IMPORT_URL, {"file": SimpleUploadedFile("a.csv", b"x")}, format="multipart"
    )

    assert response.status_code == 401


def test_import_with_an_idempotency_key_replays(api, org):
    data = (SAMPLES / "jpmorgan_bai2.bai").read_bytes()
    with _capture[-1](execute=True):
        first = api.post(
            IMPORT_URL,
            {"file": SimpleUploadedFile("a.bai", data)},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="imp-1",
        )
    with _capture[-1](execute=True):
        again = api.post(
            IMPORT_URL,
            {"file": SimpleUploadedFile("a.bai", data)},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="imp-1",
        )

    assert first.status_code == again.status_code == 202
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert PaymentImport.objects.count() == 1


def test_texts_with_tabs_backslashes_and_newlines_survive_the_import(api, org):
    data = (
        b"Date,Description,Amount,Transaction ID\n"
        b'2024-10-01,"ACME \\ CORP\tINV-1\nsecond line",100.00,T\\1\n'
    )

    result = outcome(api, upload(api, "odd.csv", data))

    assert result["created_count"] == 1
    payment = Payment.objects.for_org(org).get()
    assert payment.external_payment_id == "T\\1"
    assert "\\" in payment.payer_reference + payment.payer_name


def test_a_concurrent_import_winning_the_race_is_not_a_crash(api, org, monkeypatch):
    from django.db import connection

    first = outcome(api, upload(api, "jpmorgan_bai2.bai"))
    assert first["created_count"] == 4
    Payment.objects.for_org(org).filter(
        external_payment_id__in=Payment.objects.for_org(org).values_list(
            "external_payment_id", flat=True
        )[:2]
    ).delete()
    if connection.vendor == "postgresql":
        # pretend the lookup saw nothing: the COPY meets the two stored rows and falls back
        monkeypatch.setattr(imports, "_new_rows", lambda organization_id, rows: rows)

    second = outcome(api, upload(api, "jpmorgan_bai2.bai"))

    assert second["status"] == "done", second
    assert (second["created_count"], second["duplicates_count"]) == (2, 2)
    assert Payment.objects.for_org(org).count() == 4


def _csv(lines: list[str]) -> bytes:
    return ("Date,Description,Amount,Currency\n" + "\n".join(lines) + "\n").encode()


def test_a_csv_is_stored_batch_by_batch_while_it_is_read(api, org, monkeypatch):
    """Batches of 3: identical credits without a bank id in different batches are numbered
    across the file (both kept), currencies and debits land as read in one go, and a
    re-import still finds every credit."""
    monkeypatch.setattr(imports, "IMPORT_BATCH", 3)
    same = "2024-10-01,ACME CORP INV-1,100.00,"
    lines = [same, "2024-10-02,GLOBEX,-5.00,", "2024-10-02,INITECH,20.00,EUR"]
    lines += [f"2024-10-03,PAYER {n},{10 + n}.00," for n in range(5)] + [same]
    stored = []
    insert = imports._insert_new_payments
    monkeypatch.setattr(
        imports,
        "_insert_new_payments",
        lambda shared, rows: stored.append(len(rows)) or insert(shared, rows),
    )

    result = outcome(api, upload(api, "batches.csv", _csv(lines)))

    assert (result["status"], result["total"], result["processed"]) == ("done", 8, 8)
    assert (result["created_count"], result["debits_skipped"]) == (8, 1)
    assert sum(stored) == 8 and max(stored) <= 3
    acme = Payment.objects.for_org(org).filter(payer_reference="ACME CORP INV-1")
    assert acme.count() == 2
    assert len(set(acme.values_list("fingerprint", flat=True))) == 2
    currencies = dict(Payment.objects.for_org(org).values_list("payer_reference", "currency"))
    assert currencies["INITECH"] == "EUR" and currencies["PAYER 0"] == org.currency

    again = outcome(api, upload(api, "batches-again.csv", _csv(lines)))
    assert (again["created_count"], again["duplicates_count"]) == (0, 8)


def test_an_unexpected_parse_error_fails_the_import_with_a_reason(api, org, monkeypatch):
    from payments import importers

    check_at_upload = importers.parse

    def broken(*args, into=None, **kwargs):
        if into is None:  # the upload's quick check of a small file passes
            return check_at_upload(*args, **kwargs)
        raise ZeroDivisionError("a bug in a parser")

    monkeypatch.setattr(importers, "parse", broken)

    result = outcome(api, upload(api, "chase_checking_date_description_amount.csv"))

    assert (result["status"], result["error"]) == ("failed", "unexpected error: ZeroDivisionError")
    assert not Payment.objects.for_org(org).exists()


def test_batches_are_stored_while_the_parse_is_still_going(api, org, monkeypatch):
    """The parse runs in a thread: the first full batch is stored before the parse ends."""
    import threading

    from payments import importers

    monkeypatch.setattr(imports, "IMPORT_BATCH", 2)
    real_parse = importers.parse
    first_batch_stored = threading.Event()
    stored_while_parsing = []

    def slow_parse(data, *, into=None, **kwargs):
        result = real_parse(data, **kwargs)
        if into is None:
            return result
        for tx in result.transactions:  # as a long CSV appends them, one by one
            into.transactions.append(tx)
            if len(into.transactions) == 2:
                stored_while_parsing.append(first_batch_stored.wait(10))
        into.debits_skipped = result.debits_skipped
        return into

    insert = imports._insert_new_payments

    def insert_and_tell(shared, rows):
        insert(shared, rows)
        first_batch_stored.set()

    monkeypatch.setattr(importers, "parse", slow_parse)
    monkeypatch.setattr(imports, "_insert_new_payments", insert_and_tell)

    result = outcome(api, upload(api, "chase_checking_date_description_amount.csv"))

    assert stored_while_parsing == [True]
    assert (result["status"], result["created_count"], result["debits_skipped"]) == ("done", 4, 2)


def test_a_parser_failure_on_upload_is_a_400_naming_the_file(api, org, monkeypatch):
    from payments import importers

    def broken(*args, **kwargs):
        raise IndexError("a bug in a parser")

    monkeypatch.setattr(importers, "parse", broken)

    response = upload(api, "chase_checking_date_description_amount.csv")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"file": ["the file could not be read as a bank file"]}
    assert not PaymentImport.objects.exists()


def test_an_import_reports_the_exact_sum_it_created_and_each_rejected_line_as_written(api, org):
    data = (
        b"Date,Description,Amount,Currency\n"
        b"2026-11-02,ACME PAYMENT INV-1,1250.50,USD\n"
        b"2026-11-03,GLOBEX PAYMENT,0.10,USD\n"
        b"2026-11-03,EURO CLIENT,99.99,EUR\n"
        b"2026-11-04,ODD AMOUNT,1.2.3,USD\n"
        b"2026-11-09,8"
    )

    result = outcome(api, upload(api, "statement.csv", data))

    assert result["created_count"] == 3
    assert result["created_totals"] == [
        {"currency": "EUR", "count": 1, "amount": 99.99},
        {"currency": "USD", "count": 2, "amount": 1250.6},
    ]
    assert [(line["line_number"], line["raw"]) for line in result["rejected"]] == [
        (5, "2026-11-04,ODD AMOUNT,1.2.3,USD"),
        (6, "2026-11-09,8"),
    ]
    assert "1.2.3" in result["rejected"][0]["reason"]
