"""Transactional email: the outbox, sending and the sweeper: the mail app's public services.

Other apps reach mail only through these (above all ``email_queue``, called inside their
own transaction). The work is split along its seams:

- ``outbox``: emails written in the caller's transaction, and a clerk's decisions about one
  (send again, mark sent, cancel);
- ``queueing``: send tasks queued after commit, and the sweeper (lost tasks, dead workers);
- ``sending``: leasing, the ``before_send`` hook, the SMTP exchange, retries; its docstring
  says what is guaranteed when a worker dies mid-send (at most once).
"""

from mail.selectors import email_list_referencing  # the one read other apps need
from mail.services.outbox import (
    MAX_ATTACHMENT_BYTES,
    email_cancel,
    email_mark_sent,
    email_prepare,
    email_queue,
    email_resend,
    emails_queue,
)
from mail.services.queueing import emails_requeue_due, emails_send_queue
from mail.services.sending import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    email_message,
    email_send,
    retry_delay,
)

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "MAX_ATTEMPTS",
    "RETRY_DELAYS",
    "email_cancel",
    "email_list_referencing",
    "email_mark_sent",
    "email_message",
    "email_prepare",
    "email_queue",
    "email_resend",
    "email_send",
    "emails_queue",
    "emails_requeue_due",
    "emails_send_queue",
    "retry_delay",
]
