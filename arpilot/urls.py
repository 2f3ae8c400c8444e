from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from arpilot import views, workspace

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("customers.api.urls")),
    path("api/v1/", include("receivables.api.urls")),
    path("api/v1/", include("credits.api.urls")),
    path("api/v1/", include("payments.api.urls")),
    path("api/v1/", include("reconciliation.api.urls")),
    path("api/v1/", include("webhooks.api.urls")),
    path("api/v1/", include("dunning.api.urls")),
    path("hermes/api/v1/", include("receivables.aplos.urls")),
    path("healthz", views.healthz, name="healthz"),
    # The clerk workspace (server-rendered pages; sign in at /accounts/login/).
    path("workspace/organization", workspace.organization_switch, name="organization-switch"),
    path("customers/", include("customers.urls")),
    path("invoices/", include("receivables.urls")),
    path("payments/", include("payments.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("mail/", include("mail.urls")),
    path("collections/", include("dunning.urls")),
    path("credits/", include("credits.urls")),
    path("", include("reconciliation.urls")),
]

handler400 = "arpilot.views.handler400"
handler403 = "arpilot.views.handler403"
handler404 = "arpilot.views.handler404"
handler500 = "arpilot.views.handler500"
