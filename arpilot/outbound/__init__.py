"""Outbound signed HTTP: what webhooks delivery and the accounting sync push share.

- ``ssrf``: which addresses a URL may resolve to (checked at registration and connect time);
- ``transport``: one POST over a pinned, filtered connection, never raising for network trouble;
- ``signing``: Standard Webhooks secrets and signatures, secret rotation, and the JSON body.

The secrets live on models inheriting ``arpilot.models.SigningSecretFields``.
"""
