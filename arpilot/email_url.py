"""``EMAIL_URL`` to Django's email settings (read by ``arpilot/settings.py``, before Django
is set up, so nothing here imports Django).

    smtp://user:password@host:587/?tls=True     SMTP, STARTTLS after connecting
    smtps://user:password@host:465/             SMTP over TLS from the first byte
    file:///absolute/path                       one .eml file per message, in that folder
    console://                                  printed on standard output
    memory://                                   kept in ``django.core.mail.outbox`` (tests)

User and password are percent-decoded (write ``@`` as ``%40``). Query options: ``tls``,
``ssl`` (true/false), ``timeout`` (seconds).
"""

from urllib.parse import parse_qs, unquote, urlsplit

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
FILE_BACKEND = "mail.backends.EmlFileBackend"
_BACKENDS = {
    "smtp": SMTP_BACKEND,
    "smtps": SMTP_BACKEND,
    "file": FILE_BACKEND,
    "console": "django.core.mail.backends.console.EmailBackend",
    "memory": "django.core.mail.backends.locmem.EmailBackend",
}
_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EmailURLError(ValueError):
    """The URL cannot configure email; the message says why (the password never in it)."""


def _flag(options: dict, name: str) -> bool:
    raw = options.get(name, [""])[-1].strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise EmailURLError(f"EMAIL_URL option {name} must be true or false, got {raw!r}")


def email_settings_from_url(url: str) -> dict:
    """The ``EMAIL_*`` settings ``url`` stands for, by their Django names."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _BACKENDS:
        known = ", ".join(sorted(_BACKENDS))
        raise EmailURLError(f"EMAIL_URL scheme must be one of {known}, got {scheme or 'none'!r}")
    result: dict = {"EMAIL_BACKEND": _BACKENDS[scheme]}
    if scheme == "file":
        if not parts.path or parts.path == "/":
            raise EmailURLError("EMAIL_URL file:// needs a folder: file:///var/lib/arpilot/mail")
        result["EMAIL_FILE_PATH"] = unquote(parts.path)
        return result
    if scheme not in _DEFAULT_PORTS:
        return result
    options = parse_qs(parts.query, keep_blank_values=True)
    if not parts.hostname:
        raise EmailURLError("EMAIL_URL needs a host: smtp://user:password@host:587/?tls=True")
    try:
        port = parts.port
    except ValueError as exc:
        raise EmailURLError("EMAIL_URL port must be a number from 1 to 65535") from exc
    use_ssl = scheme == "smtps" or _flag(options, "ssl")
    use_tls = _flag(options, "tls")
    if use_ssl and use_tls:
        raise EmailURLError("EMAIL_URL: tls (STARTTLS) and ssl (implicit TLS) exclude each other")
    result.update(
        EMAIL_HOST=parts.hostname,
        EMAIL_PORT=port or _DEFAULT_PORTS[scheme],
        EMAIL_HOST_USER=unquote(parts.username or ""),
        EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
        EMAIL_USE_TLS=use_tls,
        EMAIL_USE_SSL=use_ssl,
    )
    if "timeout" in options:
        try:
            result["EMAIL_TIMEOUT"] = float(options["timeout"][-1])
        except ValueError as exc:
            raise EmailURLError("EMAIL_URL option timeout must be a number of seconds") from exc
    return result
