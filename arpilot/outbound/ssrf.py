"""Which addresses an outbound POST (a webhook, a sync push) may be sent to, checked at
registration and at connect time.

A URL is refused when its host resolves to any address that is not globally routable:
loopback, private, link-local, shared (CGNAT 100.64/10), multicast, reserved, unspecified,
site-local, or an IPv6 form wrapping such an IPv4 address (IPv4-mapped ``::ffff:``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``). ``ARPILOT_WEBHOOKS_ALLOW_INSECURE`` (tests, local
development; refused in production) allows plain HTTP and loopback addresses, nothing else.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from arpilot.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class UnsafeURL(ValueError):
    """The URL may not receive webhooks; the message says why."""


def _embedded_reason(kind: str, inner: ipaddress.IPv4Address, allow_loopback: bool):
    reason = address_refusal_reason(inner, allow_loopback=allow_loopback)
    return f"{kind} address wrapping {reason}" if reason else None


def address_refusal_reason(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why ``ip`` may not receive webhooks, or None when it may."""
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return _embedded_reason("IPv4-mapped", ip.ipv4_mapped, allow_loopback)
        if ip in NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            return _embedded_reason("NAT64", inner, allow_loopback)
        if ip.sixtofour is not None:
            return _embedded_reason("6to4", ip.sixtofour, allow_loopback)
        if ip in NAT64_LOCAL:
            return "a local-use NAT64 address (64:ff9b:1::/48)"
        if ip.teredo is not None:
            return "a Teredo tunnel address (2001::/32)"
    if ip.is_unspecified:
        return f"an unspecified address ({ip})"
    if ip.is_loopback:
        return None if allow_loopback else f"a loopback address ({ip})"
    if ip.is_link_local:
        return f"a link-local address ({ip})"
    if ip.version == 4 and ip in CGNAT:
        return f"a shared CGNAT address ({ip})"
    if ip.is_multicast:
        return f"a multicast address ({ip})"
    if ip.is_reserved:
        return f"a reserved address ({ip})"
    if ip.is_private:
        return f"a private address ({ip})"
    if ip.version == 6 and ip.is_site_local:
        return f"a site-local address ({ip})"
    if not ip.is_global:
        return f"an address that is not globally routable ({ip})"
    return None


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (tests replace this: there is no DNS in CI)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # incl. gaierror, NUL, bad IDNA
        raise UnsafeURL(f"The host {host!r} does not resolve.") from exc
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def insecure_allowed() -> bool:
    return bool(settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE)


def url_check(url: str) -> None:
    """Raise UnsafeURL with the reason when ``url`` may not receive webhooks."""
    allow_insecure = insecure_allowed()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}.") from exc
    allowed_schemes = {"https", "http"} if allow_insecure else {"https"}
    if parts.scheme not in allowed_schemes:
        raise UnsafeURL("The URL must use https.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("The URL may not carry credentials.")
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = resolve_host(host, port or (443 if parts.scheme == "https" else 80))
    if not addresses:
        raise UnsafeURL(f"The host {host!r} does not resolve.")
    for address in addresses:
        reason = address_refusal_reason(address, allow_loopback=allow_insecure)
        if reason:
            raise UnsafeURL(f"The host {host!r} resolves to {reason}.")


def url_validate(url: str) -> None:
    """``url_check`` for services: raise ValidationFailed on the ``url`` field."""
    try:
        url_check(url)
    except UnsafeURL as exc:
        raise ValidationFailed(f"Invalid input: url: {exc}", fields={"url": [str(exc)]}) from exc
