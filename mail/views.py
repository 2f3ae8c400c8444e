"""Clerk pages of the outbox: the organization's emails, and one email as it was sent
(headers, the text, the HTML in a sandboxed frame, attachments), with a clerk's decisions
about one that did not simply go out."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from arpilot.errors import Conflict
from arpilot.workspace import org_object_or_404, paginate, workspace_view
from mail import selectors, services
from mail.filters import EmailFilterSet
from mail.models import OutboundEmail

# How each status looks, in the badge classes the other pages use.
STATUS_BADGES = {
    OutboundEmail.Status.QUEUED: "queued",
    OutboundEmail.Status.SENDING: "running",
    OutboundEmail.Status.SENT: "succeeded",
    OutboundEmail.Status.FAILED: "failed",
    OutboundEmail.Status.CANCELLED: "void",
    OutboundEmail.Status.UNCONFIRMED: "overdue",
}
# Shown in the HTML preview frame before the email's own HTML: nothing is fetched but
# images (scripts do not run anyway: the frame is sandboxed).
PREVIEW_POLICY = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src data: https:; style-src 'unsafe-inline'\">"
)


def _badged(email: OutboundEmail) -> OutboundEmail:
    email.badge = STATUS_BADGES.get(email.status, email.status)
    return email


@workspace_view
def email_list(request):
    """The organization's emails, newest first, filtered by kind and status."""
    organization = request.organization
    filterset = EmailFilterSet(
        request.GET, queryset=selectors.email_list(organization=organization)
    )
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = paginate(request, queryset)
    return render(
        request,
        "mail/email_list.html",
        {
            "filterset": filterset,
            "page_obj": page,
            "emails": [_badged(email) for email in page.object_list],
            "kinds": selectors.email_kinds(organization=organization),
            "statuses": OutboundEmail.Status.choices,
        },
    )


@workspace_view
def email_detail(request, pk):
    """One email: headers, text, HTML (sandboxed, no scripts), attachments, and why it was
    not sent if it was not."""
    email = org_object_or_404(selectors.email_detail(organization=request.organization), pk=pk)
    return render(
        request,
        "mail/email_detail.html",
        {
            "email": _badged(email),
            "attachments": selectors.attachment_list(email=email),
            "html_preview": PREVIEW_POLICY + email.body_html if email.body_html else "",
        },
    )


@workspace_view
def attachment_download(request, pk, attachment_id):
    """One attachment's bytes, as a download (never shown inline)."""
    email = org_object_or_404(selectors.email_detail(organization=request.organization), pk=pk)
    attachment = email.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("Not found.")
    response = HttpResponse(bytes(attachment.content), content_type=attachment.mimetype)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=attachment.filename
    )
    return response


@workspace_view
def email_source(request, pk):
    """The message as a mail client opens it (``.eml``), built as the worker builds it."""
    email = org_object_or_404(selectors.email_detail(organization=request.organization), pk=pk)
    source = services.email_message(email).message().as_bytes(linesep="\r\n")
    response = HttpResponse(source, content_type="message/rfc822")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{email.pk}.eml"
    )
    return response


def _decision(service, done: str):
    @require_POST
    @workspace_view
    def view(request, pk):
        email = org_object_or_404(selectors.email_detail(organization=request.organization), pk=pk)
        try:
            service(email=email)
        except Conflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done)
        return redirect("mail:detail", pk=email.pk)

    view.__doc__ = service.__doc__
    return view


email_resend = _decision(services.email_resend, "Queued to be sent again.")
email_mark_sent = _decision(services.email_mark_sent, "Marked sent.")
email_cancel = _decision(services.email_cancel, "Cancelled: it will not be sent.")
