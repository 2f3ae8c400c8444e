"""The bank-file import pages through the Django test client: a refused upload is said once
and listed afterwards, progress is in lines from the start, the credits to tie to the
statement, the raw text of rejected lines, and a re-upload that warns instead of offering
to review nothing."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from payments.models import PaymentImport
from payments.services import imports as import_services
from payments.views import imports as views

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
IMPORT = "/payments/import/"
BANK_CSV = b"""Date,Amount,Payer,Reference
2026-11-20,100.00,Acme Widgets,Payment INV-1001
2026-11-21,-20.00,Bank fee,Monthly fee
2026-11-22,abc,Broken Line,INV-9
2026-11-23,150.25,Bolt Logistics,Remittance
"""
NOT_A_BANK_FILE = (
    "x.json was refused: the file is not a bank file this app reads (CSV, OFX, CAMT.053, "
    "BAI2 or MT940)."
)


def csrf(client) -> dict:
    client.get(IMPORT)
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode()).strip()


def upload(client, name: str, data: bytes, capture):
    with capture(execute=True):
        return client.post(
            IMPORT,
            {"file": SimpleUploadedFile(name, data, content_type="text/csv")},
            **csrf(client),
        )


# --- refused uploads --------------------------------------------------------------------------


def test_a_refused_upload_is_said_once_then_listed(ui, org, django_capture_on_commit_callbacks):
    refused = upload(ui, "x.json", b'{"a": 1}', django_capture_on_commit_callbacks)

    assert refused.status_code == 400
    page = text(refused)
    assert f'<p class="field-error" id="file-err" role="alert">{NOT_A_BANK_FILE}</p>' in page
    assert page.count("not a bank file") == 1
    assert "Refused uploads" not in page  # the refusal just made is the form's error

    later = text(ui.get(IMPORT))
    assert "file-err" not in later
    listed = re.search(r"<ul class=\"refused-list\" data-refused>(.*?)</ul>", later).group(1)
    assert re.fullmatch(
        rf"<li><span class=\"small\">\d{{4}}-\d\d-\d\d \d\d:\d\d</span> · {re.escape(NOT_A_BANK_FILE)}</li>",
        listed.strip(),
    )
    assert later.count("not a bank file") == 1
    assert not PaymentImport.objects.for_org(org).exists()


def test_an_empty_file_is_refused_in_words(ui, django_capture_on_commit_callbacks):
    page = text(upload(ui, "empty.csv", b"  \n", django_capture_on_commit_callbacks))
    assert "empty.csv was refused: the file is empty." in page
    assert page.count("is empty") == 1


def test_refusals_are_listed_newest_first_and_kept_per_organization(
    ui, org, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(views, "UPLOAD_MAX_BYTES", 64)
    upload(ui, "x.json", b'{"a": 1}', django_capture_on_commit_callbacks)
    second = text(upload(ui, "big.csv", BANK_CSV * 3, django_capture_on_commit_callbacks))
    assert "big.csv is larger than 64 bytes" in second
    assert second.count(NOT_A_BANK_FILE) == 1  # listed; the new one is the form's error

    listed = re.findall(
        r"<li><span class=\"small\">[^<]*</span> · (.*?)</li>", text(ui.get(IMPORT))
    )
    assert [item.split(" ")[0] for item in listed] == ["big.csv", "x.json"]
    session = ui.session
    assert list(session[f"{views.REFUSED_KEY}.{org.pk}"][0]) == ["filename", "reason", "at"]


# --- progress -----------------------------------------------------------------------------------


def _import(org, **fields) -> PaymentImport:
    return PaymentImport.objects.create(
        organization=org, filename="big.csv", data=b"", file_size=2048, **fields
    )


def test_a_queued_import_says_what_it_will_read_never_0_of_unknown(ui, org):
    fragment = text(ui.get(reverse("payments:import-detail", args=[_import(org).pk]), **HTMX))
    assert "Queued: 2.0 KB to read." in fragment
    assert "?" not in re.sub(r"<[^>]+>", "", fragment)
    assert '<progress id="import-bar">Not started</progress>' in fragment


def test_a_running_import_shows_lines_read_of_the_file(ui, org):
    payment_import = _import(org, status="running", total=1200, processed=300)
    fragment = text(ui.get(reverse("payments:import-detail", args=[payment_import.pk]), **HTMX))
    assert '<progress id="import-bar" max="1200" value="300">300 of 1200 lines</progress>' in (
        fragment
    )
    assert "300 of 1200 lines processed" in fragment
    assert 'hx-trigger="every 1s"' in fragment


def test_the_run_reports_progress_in_lines_from_the_start(org, monkeypatch):
    monkeypatch.setattr(import_services, "IMPORT_BATCH", 2)
    lines = ["Date,Amount,Payer,Reference"] + [
        f"2026-11-{day:02d},{day}.00,Payer {day},Ref {day}" for day in range(1, 8)
    ]
    data = ("\n".join(lines) + "\n").encode()
    payment_import = import_services.payment_import_create(
        organization=org, filename="week.csv", data=data
    )
    seen = []
    progress = import_services._ImportWriter.progress

    def recording(writer, **kwargs):
        progress(writer, **kwargs)
        seen.append(
            tuple(PaymentImport.objects.values_list("total", "processed").get(pk=writer.import_id))
        )

    monkeypatch.setattr(import_services._ImportWriter, "progress", recording)

    import_services.payment_import_run(import_id=payment_import.pk)

    assert seen, "no progress was reported"
    assert {total for total, _ in seen} == {8}  # the file's lines, from the first report on
    reached = [processed for _, processed in seen]
    assert reached == sorted(reached) and reached[-1] == 8
    payment_import.refresh_from_db()
    assert (payment_import.status, payment_import.total, payment_import.processed) == (
        "done",
        7,
        7,
    )


# --- the outcome --------------------------------------------------------------------------------


def test_the_outcome_ties_to_the_statement_and_shows_rejected_lines_as_in_the_file(
    ui, org, django_capture_on_commit_callbacks
):
    response = upload(ui, "november.csv", BANK_CSV, django_capture_on_commit_callbacks)
    page = text(ui.get(response["Location"]))

    totals = re.search(r"<table class=\"data compact\" data-totals>(.*?)</table>", page).group(1)
    assert (
        '<tr><td>USD</td><td class="num">2</td><td class="num">'
        '<span class="money">$250.25</span></td></tr>'
    ) in totals
    assert (
        "Not in the total: 0 credits imported before, 1 debit, 1 rejected line (listed below)."
    ) in page
    assert '<code class="raw-line">2026-11-22,abc,Broken Line,INV-9</code>' in page
    assert "Review the 2 new payments" in page
    assert "data-nothing-new" not in page
    listing = text(ui.get(IMPORT))
    assert '<td class="num"><span class="money">$250.25</span></td>' in listing


def test_a_re_upload_of_the_same_file_warns_instead_of_offering_to_review_nothing(
    ui, org, django_capture_on_commit_callbacks
):
    first = upload(ui, "november.csv", BANK_CSV, django_capture_on_commit_callbacks)
    earlier = PaymentImport.objects.for_org(org).get()
    again = upload(ui, "november.csv", BANK_CSV, django_capture_on_commit_callbacks)
    assert again["Location"] != first["Location"]

    page = text(ui.get(again["Location"]))

    assert "Review the 0" not in page
    assert "/payments/review/?import_id=" not in page
    warning = re.search(
        r'<p class="msg msg-warning import-notice" role="alert" data-nothing-new>(.*?)</p>', page
    )
    assert warning.group(1) == (
        "Nothing new in this file: its 2 credits were imported before — it is the same file "
        f'as the import of <a href="/payments/import/{earlier.pk}/">'
        f"{earlier.created_at.astimezone().strftime('%Y-%m-%d %H:%M')}</a>. No payment was "
        "created; there is nothing to review."
    )
    assert '<td class="num">2</td>' not in page.split("data-totals")[1][:200]
    assert "No credit was created." in page


def test_an_overlapping_file_says_what_it_skipped(ui, org, django_capture_on_commit_callbacks):
    upload(ui, "first.csv", BANK_CSV, django_capture_on_commit_callbacks)
    more = BANK_CSV + b"2026-11-24,75.00,Crane Co,INV-77\n"
    page = text(
        ui.get(upload(ui, "more.csv", more, django_capture_on_commit_callbacks)["Location"])
    )
    assert "2 credits of this file were imported before and skipped." in page
    assert "Review the 1 new payment" in page
    assert "data-nothing-new" not in page


def test_a_different_file_with_nothing_new_names_no_earlier_import(
    ui, org, django_capture_on_commit_callbacks
):
    upload(ui, "first.csv", BANK_CSV, django_capture_on_commit_callbacks)
    reordered = BANK_CSV.replace(
        b"Date,Amount,Payer,Reference\n", b"Date,Amount,Payer,Reference\n\n"
    )
    page = text(
        ui.get(upload(ui, "other.csv", reordered, django_capture_on_commit_callbacks)["Location"])
    )
    assert "Nothing new in this file: its 2 credits were imported before. No payment" in page
    assert "same file" not in page


# --- query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 6])
def test_the_import_pages_do_not_grow_with_rows(
    ui, org, size, django_assert_num_queries, django_capture_on_commit_callbacks
):
    for index in range(size):
        data = BANK_CSV.replace(b"Acme Widgets", f"Acme {index}".encode())
        response = upload(ui, f"f{index}.csv", data, django_capture_on_commit_callbacks)
    again = upload(ui, "again.csv", data, django_capture_on_commit_callbacks)
    # Session, user, memberships, the recent imports.
    with django_assert_num_queries(4):
        assert ui.get(IMPORT).status_code == 200
    # ... the import.
    with django_assert_num_queries(4):
        assert ui.get(response["Location"]).status_code == 200
    # ... the import, then for nothing new: same-size earlier imports, this file, the match.
    with django_assert_num_queries(7):
        assert ui.get(again["Location"]).status_code == 200
