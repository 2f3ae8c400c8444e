from django.urls import path

from credits import views

app_name = "credits"

urlpatterns = [
    path("deductions/", views.deduction_list, name="deductions"),
]
