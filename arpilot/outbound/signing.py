"""Standard Webhooks signing: secrets, the signed headers, rotation, and the JSON body.

Every outbound POST (webhook deliveries, sync batches) is signed with the holder's current
secret and, for ``SECRET_OVERLAP`` after a rotation, with the one it replaced. Holders are
models inheriting ``arpilot.models.SigningSecretFields``.
"""

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta

from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from arpilot.outbound.transport import USER_AGENT

SECRET_PREFIX = "whsec_"
# After a rotation the previous secret still signs (beside the new one) this long.
SECRET_OVERLAP = timedelta(hours=24)


def secret_generate() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def body_encode(payload: dict) -> bytes:
    """The request body: compact JSON with sorted keys, so every retry sends the same bytes."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``{id}.{timestamp}.{body}`` (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(*, secrets_: list[str], msg_id: str, body: bytes, timestamp: int) -> dict:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_),
    }


def signing_secrets(holder, *, now=None) -> list[str]:
    """The secrets that sign for ``holder`` now: its own, and its previous one until that
    expires."""
    now = now or timezone.now()
    secrets_ = [holder.secret]
    expires = holder.previous_secret_expires_at
    if holder.previous_secret and expires is not None and expires > now:
        secrets_.append(holder.previous_secret)
    return secrets_


def secret_rotate(holder, *, now=None) -> list[str]:
    """Give ``holder`` a new secret, the old one signing beside it for ``SECRET_OVERLAP``.

    Does not save: returns the names of the fields it changed (the caller saves, under its
    own lock).
    """
    holder.previous_secret = holder.secret
    holder.previous_secret_expires_at = (now or timezone.now()) + SECRET_OVERLAP
    holder.secret = secret_generate()
    return ["secret", "previous_secret", "previous_secret_expires_at"]


def json_safe(data):
    """``data`` as the API renders it (UUIDs and dates as strings, Decimals as numbers)."""
    return json.loads(json.dumps(data, cls=JSONEncoder))
