from django.urls import path

from credits import views

app_name = "credits"

urlpatterns = [
    path("deductions/", views.deduction_list, name="deductions"),
    path("deductions/<uuid:pk>/resolve/", views.deduction_resolve, name="deduction-resolve"),
]
