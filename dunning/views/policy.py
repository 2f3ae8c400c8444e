"""The dunning policy editor, the dry run and the run on demand."""

from django.http import HttpResponse
from django.urls import path

from arpilot.workspace import workspace_view


@workspace_view
def policy(request):
    return HttpResponse("Policy")


# Included by dunning/urls.py (namespace "collections").
routes = [
    path("policy/", policy, name="policy"),
]
