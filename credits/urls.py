from django.urls import path

from credits import credit_note_views, credit_views, views

app_name = "credits"

urlpatterns = [
    path("deductions/", views.deduction_list, name="deductions"),
    path("deductions/<uuid:pk>/resolve/", views.deduction_resolve, name="deduction-resolve"),
    *credit_note_views.urlpatterns,
    *credit_views.urlpatterns,
]
