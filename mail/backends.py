"""The embedded default's email backend: each message one ``.eml`` file under ``var/mail/``.

Django's own file backend appends every message of a connection to one ``.log`` file with
separator lines; an ``.eml`` file holds one message exactly as an SMTP server would receive
it, so a mail client opens it. The name starts with the send time and ends with the
Message-ID's local part (the outbox row's id), so a file is found from its row and back.
"""

import os
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class EmlFileBackend(BaseEmailBackend):
    def __init__(self, *, file_path=None, fail_silently=False, **kwargs) -> None:
        super().__init__(fail_silently=fail_silently)
        self.file_path = Path(file_path or settings.EMAIL_FILE_PATH).resolve()
        try:
            self.file_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"Cannot create the email folder {self.file_path} ({exc})"
            ) from exc

    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages:
            try:
                self._write(message)
            except OSError:
                if not self.fail_silently:
                    raise
            else:
                sent += 1
        return sent

    def _write(self, message) -> Path:
        """Write the message whole or not at all (a temporary file renamed into place)."""
        mime = message.message()
        target = self.file_path / self._file_name(mime["Message-ID"] or "")
        fd, temporary = tempfile.mkstemp(dir=self.file_path, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(mime.as_bytes(linesep="\r\n"))
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    @staticmethod
    def _file_name(message_id: str) -> str:
        local_part = message_id.strip("<> ").split("@", 1)[0]
        stem = _UNSAFE.sub("-", local_part)[:80] or "message"
        return f"{timezone.now():%Y%m%d-%H%M%S}-{stem}.eml"
