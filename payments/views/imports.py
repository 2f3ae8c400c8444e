"""Bank-file imports in the clerk pages: upload (streamed, size-limited), the uploads
refused (each with its reason, once), progress in lines from the start, and the outcome:
the credits to tie to the statement, and a warning when the file brought nothing new."""

from django.core.files.uploadhandler import (
    FileUploadHandler,
    SkipFile,
    TemporaryFileUploadHandler,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from arpilot.errors import ApplicationError
from arpilot.workspace import (
    is_htmx,
    org_object_or_404,
    workspace_view,
)
from payments import selectors, services
from payments.api.serializers import IMPORT_MAX_BYTES
from payments.forms import ImportForm
from payments.models import PaymentImport

# --- imports --------------------------------------------------------------------------------

RECENT_IMPORTS = 20
# Refused uploads are not stored: the clerk's session keeps the last few, per organization.
REFUSED_KEY = "payments.refused_uploads"
REFUSED_KEPT = 10


# The most a bank file may weigh: the API's limit (POST /api/v1/payments/import).
UPLOAD_MAX_BYTES = IMPORT_MAX_BYTES


def _megabytes(size: int) -> str:
    """``52428800`` → ``50 MB`` (``1 KB``, ``100 bytes`` for the small limits of tests)."""
    for unit, name in ((1024 * 1024, "MB"), (1024, "KB")):
        if size >= unit:
            return f"{size / unit:.4g} {name}"
    return f"{size} bytes"


def _too_large(filename: str, limit: int) -> str:
    return (
        f"{filename or 'The file'} is larger than {_megabytes(limit)}, the most a bank file "
        "may be. Split it, or export a shorter period."
    )


class _SizeLimitHandler(FileUploadHandler):
    """The first upload handler of the upload page: counts each file's bytes as they arrive
    and, past ``limit``, skips the rest of that file (the handlers after it close and delete
    what they had written), remembering its name in ``too_large``."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.too_large: list[str] = []

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large.append(self.file_name or "")
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler makes the file


@csrf_exempt  # checked by csrf_protect below, once the upload handlers are in place
def import_upload(request):
    """Upload a bank file (its import runs in the background) and see recent imports.

    The upload streams to a temporary file in chunks (never whole into memory), and a file
    over ``UPLOAD_MAX_BYTES`` is cut off as soon as it passes the limit: a form error naming
    the file and the limit, nothing stored."""
    limiter = None
    if request.method == "POST":
        # Before anything reads request.POST (CSRF included): handlers apply only to an
        # upload not yet parsed.
        limiter = _SizeLimitHandler(request, UPLOAD_MAX_BYTES)
        request.upload_handlers = [limiter, TemporaryFileUploadHandler(request)]
    return _import_upload(request, limiter)


@csrf_protect
@workspace_view
def _import_upload(request, limiter):
    organization = request.organization
    form = ImportForm(request.POST or None, request.FILES or None)
    form.fields[
        "file"
    ].help_text = f"CSV, OFX/QFX, BAI2, camt.053 XML or MT940, up to {_megabytes(UPLOAD_MAX_BYTES)}"
    refused = None
    if limiter is not None and limiter.too_large:
        form.full_clean()
        refused = (limiter.too_large[0], _too_large(limiter.too_large[0], limiter.limit))
        form.errors["file"] = form.error_class([refused[1]])
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > UPLOAD_MAX_BYTES:
            refused = (upload.name, _too_large(upload.name, UPLOAD_MAX_BYTES))
            form.add_error("file", refused[1])
        else:
            try:
                payment_import = services.payment_import_create(
                    organization=organization, filename=upload.name, data=_read(upload)
                )
            except ApplicationError as exc:
                refused = (upload.name, _refusal(upload.name, exc))
                form.add_error("file", refused[1])
            else:
                return redirect("payments:import-detail", pk=payment_import.pk)
            finally:
                upload.close()  # a temporary file is deleted now
    # The refusal just made is the form's error; the list shows the earlier ones.
    earlier_refusals = _refused_uploads(request)
    if refused is not None:
        _remember_refusal(request, *refused)
    imports = selectors.payment_import_list(organization=organization)[:RECENT_IMPORTS]
    return render(
        request,
        "payments/import.html",
        {"form": form, "imports": imports, "refused_uploads": earlier_refusals},
        status=400 if form.errors else 200,
    )


def _refusal(filename: str, exc: ApplicationError) -> str:
    """Why the file was refused, said once ("x.json was refused: the file is empty."): the
    error's message, and the file field's own words only where the message lacks them."""
    message = exc.message.strip().rstrip(".")
    details = [
        detail.strip().rstrip(".")
        for detail in exc.fields.get("file") or []
        if detail.strip().rstrip(".").lower() not in message.lower()
    ]
    reason = "; ".join([message, *details])
    if reason[:1].isupper() and not reason[1:2].isupper():
        reason = reason[:1].lower() + reason[1:]
    return f"{filename or 'The file'} was refused: {reason}."


def _refused_key(request) -> str:
    return f"{REFUSED_KEY}.{request.organization.pk}"


def _refused_uploads(request) -> list[dict]:
    return list(request.session.get(_refused_key(request), []))


def _remember_refusal(request, filename: str, reason: str) -> None:
    kept = _refused_uploads(request)
    kept.insert(
        0,
        {
            "filename": (filename or "")[:255],
            "reason": reason,
            "at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
        },
    )
    request.session[_refused_key(request)] = kept[:REFUSED_KEPT]


def _read(upload) -> bytes:
    """The uploaded file's bytes (within the limit), read from its temporary file in chunks."""
    return b"".join(upload.chunks())


@workspace_view
def import_detail(request, pk):
    """An import's progress (polled while it runs) and then its outcome."""
    payment_import = org_object_or_404(
        selectors.payment_import_list(organization=request.organization), pk=pk
    )
    template = (
        "payments/import_progress.html" if is_htmx(request) else "payments/import_detail.html"
    )
    nothing_new = (
        payment_import.status == PaymentImport.Status.DONE
        and not payment_import.created_count
        and payment_import.duplicates_count > 0
    )
    return render(
        request,
        template,
        {
            "import": payment_import,
            "nothing_new": nothing_new,
            "same_file": _same_file_imported_before(request.organization, payment_import)
            if nothing_new
            else None,
        },
    )


def _same_file_imported_before(organization, payment_import) -> PaymentImport | None:
    """The latest earlier import of exactly this file (same bytes), or None: two queries,
    the stored files compared as stored (one compression, so equal files stay equal)."""
    candidates = list(
        selectors.payment_import_list(organization=organization)
        .filter(file_size=payment_import.file_size, created_at__lt=payment_import.created_at)
        .exclude(pk=payment_import.pk)
        .values_list("pk", "data")[:5]
    )
    if not candidates:
        return None
    data = bytes(
        PaymentImport.objects.for_org(organization)
        .values_list("data", flat=True)
        .get(pk=payment_import.pk)
    )
    for pk, stored in candidates:
        if bytes(stored) == data:
            return selectors.payment_import_list(organization=organization).get(pk=pk)
    return None
