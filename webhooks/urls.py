from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("<uuid:pk>/", views.endpoint_detail, name="detail"),
    path("<uuid:pk>/test", views.endpoint_send_test, name="test"),
    path(
        "<uuid:pk>/deliveries/<uuid:delivery_id>/redeliver",
        views.delivery_redeliver,
        name="redeliver",
    ),
]
