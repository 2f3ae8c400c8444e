from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from arpilot import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("customers.api.urls")),
    path("api/v1/", include("receivables.api.urls")),
    path("api/v1/", include("payments.api.urls")),
    path("api/v1/", include("reconciliation.api.urls")),
    path("api/v1/", include("webhooks.api.urls")),
    path("hermes/api/v1/", include("receivables.aplos.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("", views.home, name="home"),
]

handler400 = "arpilot.views.handler400"
handler403 = "arpilot.views.handler403"
handler404 = "arpilot.views.handler404"
handler500 = "arpilot.views.handler500"
