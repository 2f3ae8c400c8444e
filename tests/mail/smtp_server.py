"""A real SMTP server (aiosmtpd) on 127.0.0.1 in a thread: keeps every message it accepts,
answers as scripted, and can hang at the greeting or after the message data."""

import asyncio
import email
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=default_policy)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPServer:
    """``data_replies``/``rcpt_replies``: replies used in order (then a 250); a reply other
    than 250 refuses. ``hang_at_ehlo``/``hang_after_data``: seconds to wait before answering
    (the second after the message was taken: the server has it, the client does not know)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.data_replies: list[str] = []
        self.rcpt_replies: list[str] = []
        self.hang_at_ehlo = 0.0
        self.hang_after_data = 0.0
        self.greeted = threading.Event()
        self.got_message = threading.Event()
        self.running = False
        self.port = _free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SMTPServer":
        self.controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        """Stop listening (a test may stop it early: nothing listens there then)."""
        if self.running:
            self.running = False
            self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}/"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.greeted.set()
        if self.hang_at_ehlo:
            await asyncio.sleep(self.hang_at_ehlo)
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.pop(0) if self.rcpt_replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        reply = self.data_replies.pop(0) if self.data_replies else "250 Message accepted"
        if reply.startswith("250"):
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, time.time())
            )
            self.got_message.set()
        if self.hang_after_data:
            await asyncio.sleep(self.hang_after_data)
        return reply

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)
