"""``runserver`` for the embedded default: static files come from WhiteNoise (as in
production), and the listening socket keeps a real backlog.

Django's development server accepts 10 pending connections; the 11th concurrent client is
reset before the server sees it. ``make run`` is how a newcomer (and a bulk loader pointed
at a laptop) first meets ARPilot, so it takes a backlog a busy client can fill.
"""

from django.core.management.commands.runserver import Command as RunserverCommand
from django.core.servers.basehttp import WSGIServer

BACKLOG = 256


class BackloggedWSGIServer(WSGIServer):
    request_queue_size = BACKLOG


class Command(RunserverCommand):
    server_cls = BackloggedWSGIServer
