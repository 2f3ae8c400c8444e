from django.urls import path

from mail import views

app_name = "mail"

urlpatterns = [
    path("", views.email_list, name="list"),
    path("<uuid:pk>/", views.email_detail, name="detail"),
    path("<uuid:pk>/source.eml", views.email_source, name="source"),
    path(
        "<uuid:pk>/attachments/<uuid:attachment_id>",
        views.attachment_download,
        name="attachment",
    ),
    path("<uuid:pk>/resend", views.email_resend, name="resend"),
    path("<uuid:pk>/mark-sent", views.email_mark_sent, name="mark-sent"),
    path("<uuid:pk>/cancel", views.email_cancel, name="cancel"),
]
