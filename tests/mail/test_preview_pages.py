"""The clerk pages of the outbox: the list and one email, scoped to the organization, with
everything the email says escaped and its HTML in a sandboxed frame."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mail import services
from mail.models import OutboundEmail

pytestmark = pytest.mark.django_db
Status = OutboundEmail.Status


def _email(org, n: int = 0, **overrides) -> OutboundEmail:
    arguments = {
        "organization_id": org.pk,
        "to": [f"ap{n}@customer.example"],
        "subject": f"Reminder {n}",
        "body_text": "Please pay.",
        "kind": "reminder",
    }
    return services.email_queue(**(arguments | overrides))


def test_the_list_shows_the_organizations_emails_newest_first(ui, org, other_org):
    _email(org, 1)
    _email(org, 2, kind="statement")
    _email(other_org, 3, subject="Globex secret")

    response = ui.get(reverse("mail:list"))

    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("Reminder 2") < body.index("Reminder 1")
    assert "Globex secret" not in body
    assert '<option value="statement">statement</option>' in body


def test_the_list_filters_by_kind_and_status(ui, org):
    _email(org, 1)
    _email(org, 2, kind="statement")
    cancelled = _email(org, 3, kind="statement")
    OutboundEmail.objects.filter(pk=cancelled.pk).update(status=Status.CANCELLED)

    by_kind = ui.get(reverse("mail:list"), {"kind": "statement"}).content.decode()
    by_both = ui.get(
        reverse("mail:list"), {"kind": "statement", "status": "queued"}
    ).content.decode()
    bad = ui.get(reverse("mail:list"), {"status": "exploded"})

    assert ("Reminder 1" in by_kind, "Reminder 2" in by_kind, "Reminder 3" in by_kind) == (
        False,
        True,
        True,
    )
    assert ("Reminder 2" in by_both, "Reminder 3" in by_both) == (True, False)
    assert bad.status_code == 200
    assert "No emails match." in bad.content.decode()


def test_the_list_is_paginated(ui, org):
    for n in range(51):
        _email(org, n)

    first = ui.get(reverse("mail:list")).content.decode()
    second = ui.get(reverse("mail:list"), {"page": 2}).content.decode()

    assert "Page 1 of 2 · 51 total" in first
    assert len(re.findall(r'href="/mail/[0-9a-f-]{36}/"', first)) == 50
    assert "Reminder 0<" in second and "Reminder 0<" not in first


@pytest.mark.parametrize("size", [1, 30])
def test_the_list_renders_in_six_queries_whatever_its_length(ui, org, size):
    """Session, user, memberships; the kinds; the count; the page."""
    for n in range(size):
        _email(org, n, attachments=[("s.pdf", b"%PDF", "application/pdf")])

    with CaptureQueriesContext(connection) as queries:
        response = ui.get(reverse("mail:list"))

    assert response.status_code == 200
    assert len(queries) == 6, [q["sql"] for q in queries]


def test_the_detail_page_shows_headers_text_html_and_attachments(ui, org):
    email = _email(
        org,
        1,
        reply_to=["clerk@acme.example"],
        body_text="Line one\nLine two",
        body_html='<p onclick="steal()">Hello</p><script>alert("x")</script>',
        attachments=[("statement.pdf", b"%PDF-1.4 bytes", "application/pdf")],
        reference={"invoice_ids": ["INV-1"]},
    )

    with CaptureQueriesContext(connection) as queries:
        response = ui.get(reverse("mail:detail", args=[email.pk]))

    assert response.status_code == 200
    assert len(queries) == 5  # session, user, memberships; the email; its attachments
    body = response.content.decode()
    assert email.message_id.replace("<", "&lt;").replace(">", "&gt;") in body
    assert "clerk@acme.example" in body
    assert "Line one\nLine two" in body
    assert "<script>" not in body  # the HTML is only ever inside srcdoc, escaped
    (frame,) = re.findall(r"<iframe[^>]*>", body)
    assert 'sandbox=""' in frame
    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))
    assert srcdoc.endswith('<p onclick="steal()">Hello</p><script>alert("x")</script>')
    assert "Content-Security-Policy" in srcdoc
    (attachment,) = email.attachments.all()
    download = reverse("mail:attachment", args=[email.pk, attachment.pk])
    assert download in body and "statement.pdf" in body


def test_everything_an_email_says_is_escaped(ui, org):
    email = _email(
        org,
        1,
        kind="<b>kind</b>",
        subject="<img src=x onerror=alert(1)>",
        body_text="</pre><script>alert(2)</script>",
        attachments=[("<i>x</i>.pdf", b"%PDF", "application/pdf")],
    )

    listing = ui.get(reverse("mail:list")).content.decode()
    detail = ui.get(reverse("mail:detail", args=[email.pk])).content.decode()

    for body in (listing, detail):
        assert "<img src=x" not in body
        assert "&lt;img src=x onerror=alert(1)&gt;" in body
        assert "<b>kind</b>" not in body
    assert "<script>alert(2)" not in detail
    assert "<i>x</i>" not in detail


def test_an_attachment_downloads_with_its_bytes(ui, org):
    email = _email(org, 1, attachments=[("statement.pdf", b"%PDF-1.4 \x00\xff", "application/pdf")])
    (attachment,) = email.attachments.all()

    response = ui.get(reverse("mail:attachment", args=[email.pk, attachment.pk]))

    assert response.status_code == 200
    assert response.content == b"%PDF-1.4 \x00\xff"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="statement.pdf"'


def test_the_source_downloads_as_eml_with_the_message_id(ui, org):
    email = _email(org, 1)

    response = ui.get(reverse("mail:source", args=[email.pk]))

    assert response["Content-Type"] == "message/rfc822"
    assert f"Message-ID: {email.message_id}".encode() in response.content


def test_another_organizations_email_is_a_404(ui, other_ui, org):
    email = _email(org, 1, attachments=[("s.pdf", b"%PDF", "application/pdf")])
    (attachment,) = email.attachments.all()

    for url in (
        reverse("mail:detail", args=[email.pk]),
        reverse("mail:source", args=[email.pk]),
        reverse("mail:attachment", args=[email.pk, attachment.pk]),
    ):
        assert other_ui.get(url).status_code == 404
    assert other_ui.post(reverse("mail:cancel", args=[email.pk])).status_code in {403, 404}
    assert "Reminder 1" not in other_ui.get(reverse("mail:list")).content.decode()


def test_signed_out_the_pages_ask_to_sign_in(client, org):
    email = _email(org, 1)

    response = client.get(reverse("mail:detail", args=[email.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_clerk_settles_an_unconfirmed_email_from_its_page(ui, org):
    email = _email(org, 1)
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=Status.UNCONFIRMED, last_error="The connection failed while …"
    )
    page = ui.get(reverse("mail:detail", args=[email.pk]))
    assert b"mark sent</button>" in page.content
    token = ui.cookies["csrftoken"].value

    response = ui.post(reverse("mail:mark-sent", args=[email.pk]), {"csrfmiddlewaretoken": token})
    again = ui.post(
        reverse("mail:mark-sent", args=[email.pk]), {"csrfmiddlewaretoken": token}, follow=True
    )

    assert response.status_code == 302
    assert OutboundEmail.objects.get(pk=email.pk).status == Status.SENT
    assert "Only an unconfirmed email can be marked sent." in again.content.decode()


def test_the_admin_lists_searches_and_filters_emails_read_only(admin_client, org):
    email = _email(org, 1, subject="Statement for Acme")
    changelist = reverse("admin:mail_outboundemail_changelist")

    found = admin_client.get(changelist, {"q": "acme"})
    filtered = admin_client.get(changelist, {"status__exact": "sent"})
    change = admin_client.get(reverse("admin:mail_outboundemail_change", args=[email.pk]))

    assert "Statement for Acme" in found.content.decode()
    assert "Statement for Acme" not in filtered.content.decode()
    assert change.status_code == 200
    assert 'name="body_text"' not in change.content.decode()  # shown, not editable


def test_the_admin_sends_a_failed_email_again(admin_client, org):
    email = _email(org, 1)
    OutboundEmail.objects.filter(pk=email.pk).update(status=Status.FAILED, attempt_count=6)

    admin_client.post(
        reverse("admin:mail_outboundemail_changelist"),
        {"action": "resend", "_selected_action": [str(email.pk)]},
    )

    email.refresh_from_db()
    assert (email.status, email.attempt_count) == (Status.QUEUED, 0)
