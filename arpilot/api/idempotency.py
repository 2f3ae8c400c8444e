"""``Idempotency-Key`` on POST: the first response is stored and replayed to repeats.

Same key, same body: the stored status and body, no second side effect. Same key, other
body: 422. Same key while the first request still runs: 409. A 5xx is not stored, so the
client may retry. Records are kept ``ARPILOT_IDEMPOTENCY_TTL`` (48 h).
"""

import hashlib
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from arpilot.errors import Conflict, Unprocessable, ValidationFailed
from arpilot.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class Replay(Exception):
    def __init__(self, record: IdempotencyKey) -> None:
        super().__init__(record.key)
        self.status = record.response_status
        self.body = record.response_body


def _fingerprint(request) -> str:
    raw = request._request.body
    body: bytes = raw
    if request.content_type and "json" in request.content_type:
        try:
            body = json.dumps(json.loads(raw or b"null"), sort_keys=True).encode()
        except ValueError:
            body = raw
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), b"\0", body):
        digest.update(part)
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


def finish(record: IdempotencyKey, response) -> None:
    """Store the response for replay; forget the key after a server error."""
    if response.status_code >= 500:
        IdempotencyKey.objects.filter(pk=record.pk).delete()
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
