"""The clerk's bank-file upload page: the API's size limit, and the upload streamed to a
temporary file in chunks (a file over the limit is cut off, never read whole)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client
from django.urls import reverse

from arpilot import services as org_services
from arpilot.models import Membership
from payments import services
from payments.api.serializers import IMPORT_MAX_BYTES
from payments.models import Payment, PaymentImport
from payments.views import imports as views

pytestmark = pytest.mark.django_db

BANK_CSV = b"Date,Description,Amount\n2026-11-20,ACME CORP INV-1,100.00\n"


@pytest.fixture
def ui(org) -> Client:
    user = org_services.user_create(username="clerk", password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user, role=Membership.Role.CLERK)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _csrf(client: Client) -> dict:
    client.get(reverse("payments:import"))
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


@pytest.fixture
def written(monkeypatch) -> list:
    """Bytes each upload wrote to its temporary file."""
    sizes: list = []

    class Counting(TemporaryFileUploadHandler):
        def new_file(self, *args, **kwargs):
            super().new_file(*args, **kwargs)
            sizes.append(0)

        def receive_data_chunk(self, raw_data, start):
            sizes[-1] += len(raw_data)
            return super().receive_data_chunk(raw_data, start)

    monkeypatch.setattr(views, "TemporaryFileUploadHandler", Counting)
    return sizes


def test_the_limit_is_the_api_s():
    assert views.UPLOAD_MAX_BYTES == IMPORT_MAX_BYTES == 50 * 1024 * 1024


def test_the_page_states_the_limit(ui):
    assert "up to 50 MB" in _text(ui.get(reverse("payments:import")))


def test_a_file_over_the_limit_is_a_form_error_and_nothing_is_stored(ui, org, monkeypatch, written):
    monkeypatch.setattr(views, "UPLOAD_MAX_BYTES", 1024)

    def never(**kwargs):
        raise AssertionError("a file over the limit reached the import service")

    monkeypatch.setattr(services, "payment_import_create", never)
    big = BANK_CSV + b"2026-11-21,FILLER,1.00\n" * 20_000  # about 460 kB

    response = ui.post(
        reverse("payments:import"),
        {"file": SimpleUploadedFile("statement-march.csv", big, content_type="text/csv")},
        **_csrf(ui),
    )

    assert response.status_code == 400
    page = _text(response)
    assert 'aria-invalid="true"' in page
    error = re.search(r'<p class="field-error" id="file-err" role="alert">(.*?)</p>', page)
    assert error and error.group(1) == (
        "statement-march.csv is larger than 1 KB, the most a bank file may be. "
        "Split it, or export a shorter period."
    )
    assert "This field is required" not in page
    # Cut off at the first chunk past the limit: not a byte of it was written to disk.
    assert written == [0]
    assert not PaymentImport.objects.for_org(org).exists()
    assert not Payment.objects.for_org(org).exists()


def test_the_error_names_the_real_limit(ui, monkeypatch):
    monkeypatch.setattr(views, "UPLOAD_MAX_BYTES", 50 * 1024 * 1024)
    assert views._too_large("big.csv", views.UPLOAD_MAX_BYTES) == (
        "big.csv is larger than 50 MB, the most a bank file may be. "
        "Split it, or export a shorter period."
    )


def test_a_file_within_the_limit_streams_to_disk_and_imports(
    ui, org, monkeypatch, written, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(views, "UPLOAD_MAX_BYTES", len(BANK_CSV))
    seen = []
    read = views._read
    monkeypatch.setattr(views, "_read", lambda upload: seen.append(type(upload)) or read(upload))

    with django_capture_on_commit_callbacks(execute=True):
        response = ui.post(
            reverse("payments:import"),
            {"file": SimpleUploadedFile("ok.csv", BANK_CSV, content_type="text/csv")},
            **_csrf(ui),
        )

    assert response.status_code == 302, _text(response)
    assert seen == [TemporaryUploadedFile]
    assert written == [len(BANK_CSV)]
    payment_import = PaymentImport.objects.for_org(org).get()
    assert (payment_import.filename, payment_import.file_size) == ("ok.csv", len(BANK_CSV))
    assert Payment.objects.for_org(org).count() == 1


def test_the_upload_still_needs_the_csrf_token(ui, org):
    response = ui.post(
        reverse("payments:import"),
        {"file": SimpleUploadedFile("ok.csv", BANK_CSV, content_type="text/csv")},
    )
    assert response.status_code == 403
    assert not PaymentImport.objects.for_org(org).exists()
