"""Idempotency-Key on multipart uploads: the file counts, not the multipart framing."""

from pathlib import Path

import pytest
from django.test.client import encode_multipart

from arpilot.api import idempotency
from payments.models import PaymentImport

pytestmark = pytest.mark.django_db

IMPORT_URL = "/api/v1/payments/import"
SAMPLE = Path(__file__).parents[1] / "payments" / "samples" / "jpmorgan_bai2.bai"
CSV_HEADER = b"Date,Description,Amount\n"
CSV_LINE = b'10/01/2024,"ACH CREDIT ACME CORP INV-1042 PAYMENT FOR SERVICES",1250.00\n'


class NamedBytes:
    """A file for ``encode_multipart``: bytes with a name."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self._data = data

    def read(self) -> bytes:
        return self._data


def _post_file(api, data: bytes, *, boundary: str, key: str | None, name: str = "a.bai"):
    body = encode_multipart(boundary, {"file": NamedBytes(name, data)})
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.generic(
        "POST",
        IMPORT_URL,
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
        **headers,
    )


def test_the_same_file_with_another_boundary_is_a_replay(api):
    data = SAMPLE.read_bytes()

    first = _post_file(api, data, boundary="----boundaryAAAA1111", key="upload-1")
    again = _post_file(api, data, boundary="----boundaryBBBB2222", key="upload-1")

    assert first.status_code == 202, first.content
    assert again.status_code == 202, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert PaymentImport.objects.count() == 1


def test_another_file_or_file_name_with_the_same_key_is_422(api):
    data = SAMPLE.read_bytes()
    _post_file(api, data, boundary="b1", key="upload-2")

    other_content = _post_file(api, data + b"\n", boundary="b2", key="upload-2")
    other_name = _post_file(api, data, boundary="b3", key="upload-2", name="b.bai")

    assert other_content.status_code == 422
    assert other_name.status_code == 422
    assert PaymentImport.objects.count() == 1


def test_the_uploaded_file_is_still_read_whole_by_the_view(api):
    data = SAMPLE.read_bytes()

    response = _post_file(api, data, boundary="b1", key="upload-3")

    assert response.status_code == 202
    assert response.json()["data"]["file_size"] == len(data)


def test_a_12_mb_upload_with_a_key_is_answered_as_without_one(api, monkeypatch):
    """Past DATA_UPLOAD_MAX_MEMORY_SIZE (10 MB): the fingerprint never reads request.body."""
    lines = 12 * 1024 * 1024 // len(CSV_LINE) + 1
    data = CSV_HEADER + CSV_LINE * lines
    assert len(data) > 12 * 1024 * 1024
    body_reads = []
    real = idempotency._raw_body
    monkeypatch.setattr(idempotency, "_raw_body", lambda *a: body_reads.append(1) or real(*a))

    plain = _post_file(api, data, boundary="big0", key=None, name="big.csv")
    first = _post_file(api, data, boundary="big1", key="big-upload", name="big.csv")
    again = _post_file(api, data, boundary="big2", key="big-upload", name="big.csv")

    assert plain.status_code == 202, plain.content
    assert first.status_code == 202, first.content
    assert first.json()["data"]["file_size"] == len(data)
    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert PaymentImport.objects.count() == 2
    assert body_reads == []
