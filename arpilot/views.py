from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error

from arpilot.api.exceptions import error_body

API_PREFIXES = ("/api/", "/hermes/")


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIXES)


def handler400(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body(400, "Bad request."), status=400)
    return bad_request(request, exception)


def handler403(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body(403, "Forbidden."), status=403)
    return permission_denied(request, exception)


def handler404(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body(404, "Not found."), status=404)
    return page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return JsonResponse(
            {"error": {"code": "server_error", "message": "Internal server error."}}, status=500
        )
    return server_error(request)


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
