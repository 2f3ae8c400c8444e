"""The deductions page (server-rendered, under /credits/)."""

from django.http import HttpResponse

from arpilot.workspace import workspace_view


@workspace_view
def deduction_list(request):
    return HttpResponse("Deductions")
