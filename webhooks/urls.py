from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("<uuid:pk>/", views.endpoint_detail, name="detail"),
    path("<uuid:pk>/test", views.endpoint_send_test, name="test"),
    path("<uuid:pk>/edit", views.endpoint_edit, name="edit"),
    path("<uuid:pk>/active", views.endpoint_active, name="active"),
    path("<uuid:pk>/delete", views.endpoint_delete, name="delete"),
    path("<uuid:pk>/rotate-secret", views.endpoint_rotate_secret, name="rotate-secret"),
    path(
        "<uuid:pk>/deliveries/<uuid:delivery_id>/redeliver",
        views.delivery_redeliver,
        name="redeliver",
    ),
]
