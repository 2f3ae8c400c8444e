"""``Idempotency-Key`` on POST: the first response is stored and replayed to repeats.

Same key, same body: the stored status and body, no second side effect. Same key, other
body: 422. Same key while the first request still runs: 409. A 5xx or an exception is not
stored (the key is released), so the client may retry at once. Records are kept
``ARPILOT_IDEMPOTENCY_TTL`` (48 h).

"Same body" is the body as parsed: canonical JSON, or a form's fields plus each uploaded
file's name and SHA-256 (so the random multipart boundary of a retry does not matter, and a
large upload is hashed in chunks, never read whole into memory).
"""

import hashlib
import json
import logging
from decimal import Decimal

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.utils.encoders import JSONEncoder

from arpilot.errors import Conflict, Unprocessable, ValidationFailed
from arpilot.models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class Replay(Exception):
    def __init__(self, record: IdempotencyKey) -> None:
        super().__init__(record.key)
        self.status = record.response_status
        self.body = record.response_body


CHUNK = 64 * 1024


def _json_default(value):
    # The parser reads fractions as Decimal; hash them as the float they spell (the same
    # fingerprint as before: canonical JSON of ``json.loads``).
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _file_digest(upload: UploadedFile) -> str:
    """SHA-256 of an uploaded file, read in chunks; the file is left at its start."""
    digest = hashlib.sha256()
    for chunk in upload.chunks(CHUNK):
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _form_canonical(data) -> bytes:
    """Form fields and files, independent of the multipart boundary and of field order.

    A file counts by its field, name and content (SHA-256), never by how it was framed.
    """
    items = data.lists() if hasattr(data, "lists") else ((k, [v]) for k, v in data.items())
    fields = []
    for name, values in items:
        canonical = []
        for value in values:
            if isinstance(value, UploadedFile):
                canonical.append({"file": value.name, "sha256": _file_digest(value)})
            else:
                canonical.append(value)
        fields.append([name, canonical])
    fields.sort(key=lambda field: field[0])
    return json.dumps(fields, default=str).encode()


def _raw_body(request, digest) -> None:
    """Hash a body no parser reads, in chunks (never all of it in memory)."""
    django_request = request._request
    length = int(django_request.META.get("CONTENT_LENGTH") or 0)
    if length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        digest.update(django_request.body)  # cached: the view may still read it
        return
    while chunk := django_request.read(CHUNK):
        digest.update(chunk)


def _fingerprint(request) -> str:
    """What the request asks for: method, path and body as parsed (not as framed).

    JSON counts as canonical JSON; forms and multipart uploads as their fields plus each
    file's name and SHA-256, so a retry with another multipart boundary is the same request.
    Nothing reads the whole raw body into memory (a 50 MB upload stays a file on disk).
    """
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), b"\0"):
        digest.update(part)
    try:
        data = request.data  # parsed once; the view reads the same (ParseError: a 400)
    except UnsupportedMediaType:
        _raw_body(request, digest)
        return digest.hexdigest()
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    if isinstance(data, QueryDict) or "form" in media_type:
        digest.update(_form_canonical(data))
    else:
        digest.update(json.dumps(data, sort_keys=True, default=_json_default).encode())
    return digest.hexdigest()


def begin(request, key: str) -> IdempotencyKey:
    """Claim ``key`` for this request, or raise Replay / Conflict / Unprocessable."""
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"{HEADER} is longer than {MAX_KEY_LENGTH} characters.",
            fields={HEADER: [f"At most {MAX_KEY_LENGTH} characters."]},
        )
    organization = request.organization
    fingerprint = _fingerprint(request)
    now = timezone.now()
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    organization=organization, key=key, request_fingerprint=fingerprint
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(organization=organization, key=key).first()
        if existing is None:
            continue
        if existing.created_at < now - settings.ARPILOT_IDEMPOTENCY_TTL:
            existing.delete()
            continue
        if existing.request_fingerprint != fingerprint:
            raise Unprocessable(
                f"{HEADER} {key!r} was already used with a different request body.",
                fields={HEADER: ["Already used with a different request."]},
            )
        if existing.state == IdempotencyKey.State.COMPLETED:
            raise Replay(existing)
        if existing.created_at >= now - settings.ARPILOT_IDEMPOTENCY_STALE_AFTER:
            raise Conflict(f"A request with {HEADER} {key!r} is still being processed.")
        taken = IdempotencyKey.objects.filter(
            pk=existing.pk, state=IdempotencyKey.State.IN_PROGRESS, created_at=existing.created_at
        ).update(created_at=now)
        if taken:
            existing.created_at = now
            return existing
        raise Conflict(f"A request with {HEADER} {key!r} is still being processed.")
    raise Conflict(f"A request with {HEADER} {key!r} is still being processed.")


def release(record: IdempotencyKey) -> None:
    """Forget a claim whose request failed, so a retry runs again (never a 409).

    Only this request's claim: a claim another request took over (stale) stays. Best effort:
    a failing delete is logged, never raised over the error that got us here; the claim then
    expires after ``ARPILOT_IDEMPOTENCY_STALE_AFTER`` as before.
    """
    try:
        with transaction.atomic():
            IdempotencyKey.objects.filter(
                pk=record.pk,
                state=IdempotencyKey.State.IN_PROGRESS,
                created_at=record.created_at,
            ).delete()
    except DatabaseError:
        logger.exception("could not release %s %r", HEADER, record.key)


def finish(record: IdempotencyKey, response) -> None:
    """Store the response for replay; forget the key after a server error."""
    if response.status_code >= 500:
        release(record)
        return
    body = (
        json.loads(json.dumps(response.data, cls=JSONEncoder))
        if response.data is not None
        else None
    )
    IdempotencyKey.objects.filter(pk=record.pk).update(
        state=IdempotencyKey.State.COMPLETED,
        response_status=response.status_code,
        response_body=body,
    )
