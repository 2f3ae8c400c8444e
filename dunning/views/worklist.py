"""The collector's worklist and the customer page's collections panel."""

from django.http import HttpResponse
from django.urls import path

from arpilot.workspace import workspace_view


@workspace_view
def worklist(request):
    return HttpResponse("Worklist")


# Included by dunning/urls.py (namespace "collections").
routes = [
    path("", worklist, name="worklist"),
]
