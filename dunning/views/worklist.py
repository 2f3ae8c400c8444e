"""The collector's worklist and the customer page's collections panel."""

from django.http import HttpResponse

from arpilot.workspace import workspace_view


@workspace_view
def worklist(request):
    return HttpResponse("Worklist")
