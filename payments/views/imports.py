"""Bank-file imports in the clerk pages: upload (streamed, size-limited) and progress."""

from django.core.files.uploadhandler import (
    FileUploadHandler,
    SkipFile,
    TemporaryFileUploadHandler,
)
from django.shortcuts import redirect, render
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
from payments.views.queue import _error_text

# --- imports --------------------------------------------------------------------------------

RECENT_IMPORTS = 20


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
    if limiter is not None and limiter.too_large:
        form.full_clean()
        form.errors["file"] = form.error_class([_too_large(limiter.too_large[0], limiter.limit)])
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > UPLOAD_MAX_BYTES:
            form.add_error("file", _too_large(upload.name, UPLOAD_MAX_BYTES))
        else:
            try:
                payment_import = services.payment_import_create(
                    organization=organization, filename=upload.name, data=_read(upload)
                )
            except ApplicationError as exc:
                form.add_error("file", _error_text(exc))
            else:
                return redirect("payments:import-detail", pk=payment_import.pk)
            finally:
                upload.close()  # a temporary file is deleted now
    imports = selectors.payment_import_list(organization=organization)[:RECENT_IMPORTS]
    return render(
        request,
        "payments/import.html",
        {"form": form, "imports": imports},
        status=400 if form.errors else 200,
    )


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
    return render(request, template, {"import": payment_import})
