"""The HTTP side of an outbound POST (a webhook delivery, a sync batch): one request over a
pinned, filtered connection (the body and headers come signed from ``signing``).

``requests-hardened`` (Saleor's) resolves the host once, refuses private addresses, connects
to the address it checked while sending the URL's name as Host and TLS SNI (so a DNS answer
that changes between check and connect cannot redirect us), and never follows redirects.
On top of it every connection is checked again with our own table (``ssrf``), so
registration and connect time refuse exactly the same addresses.
"""

import ipaddress
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter

from arpilot.outbound import ssrf

TIMEOUT_SECONDS = 15
SNIPPET_BYTES = 1024
USER_AGENT = "ARPilot-Webhooks/1.0"


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    duration_ms: int
    error: str = ""
    response_snippet: str = ""
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class RefusedAddress(requests.ConnectionError):
    pass


class CheckedAdapter(IPFilterAdapter):
    """requests-hardened's pinning adapter, plus our address table on the pinned address."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        address = ipaddress.ip_address(host_params["host"].strip("[]"))
        reason = ssrf.address_refusal_reason(address, allow_loopback=self._allow_loopback)
        if reason:
            raise RefusedAddress(f"Refused to connect to {reason}.")
        return host_params, pool_kwargs


class DeliverySession(HTTPSession):
    def __init__(self, *, allow_loopback: bool) -> None:
        super().__init__(
            Config(
                ip_filter_enable=True,
                ip_filter_allow_loopback_ips=allow_loopback,
                never_redirect=True,
                default_timeout=(TIMEOUT_SECONDS, TIMEOUT_SECONDS),
                user_agent_override=USER_AGENT,
            )
        )
        self.trust_env = False  # no proxies or netrc from the worker's environment
        # Replace the library's adapters with the same ones plus our own address check.
        for scheme, https in (("http://", False), ("https://", True)):
            self.mount(scheme, CheckedAdapter(is_https_proto=https, allow_loopback=allow_loopback))


_sessions = threading.local()


def _session() -> DeliverySession:
    """One session per thread and setting, so connections to an endpoint are kept alive."""
    allow = ssrf.insecure_allowed()
    cache = getattr(_sessions, "by_setting", None)
    if cache is None:
        cache = _sessions.by_setting = {}
    if allow not in cache:
        cache[allow] = DeliverySession(allow_loopback=allow)
    return cache[allow]


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def post(url: str, *, body: bytes, headers: dict) -> AttemptResult:
    """POST ``body`` once; never raises for network trouble, it is in the result."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    if not (url.startswith("https://") or ssrf.insecure_allowed()):
        return AttemptResult(None, 0, error="Refused: the URL must use https.")
    try:
        response = _session().post(
            url,
            data=body,
            headers=headers,
            stream=True,
            timeout=(TIMEOUT_SECONDS, TIMEOUT_SECONDS),
        )
    except requests.Timeout:
        return AttemptResult(None, elapsed(), error=f"Timed out after {TIMEOUT_SECONDS} s.")
    except requests.RequestException as exc:
        return AttemptResult(None, elapsed(), error=_describe(exc))
    try:
        raw = response.raw.read(SNIPPET_BYTES, decode_content=True) or b""
    except Exception as exc:  # a body that breaks off still leaves us the status code
        raw = f"[body unreadable: {type(exc).__name__}]".encode()
    finally:
        response.close()
    snippet = raw.decode("utf-8", errors="replace")
    return AttemptResult(
        response.status_code,
        elapsed(),
        response_snippet=snippet,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, RefusedAddress):
        return str(exc)
    if isinstance(exc, InvalidIPAddress):
        return f"Refused to connect to a private address ({exc})."
    return f"{type(exc).__name__}: {exc}"[:500]
