"""A customer's payments and unapplied cash: a panel of the customer page (the customers
app sits below payments, so the page loads this panel by htmx)."""

from django.shortcuts import render

from arpilot.workspace import base_template, org_object_or_404, paginate, workspace_view
from customers.models import Customer
from payments import selectors

PANEL_PAGE = 25


@workspace_view
def customer_panel(request, customer_id):
    organization = request.organization
    customer = org_object_or_404(Customer.objects.for_org(organization), pk=customer_id)
    payments = selectors.customer_payment_list(organization=organization, customer_id=customer.pk)
    page = paginate(request, payments, per_page=PANEL_PAGE)
    return render(
        request,
        "payments/customer_panel.html",
        {
            "customer": customer,
            "page_obj": page,
            "payments": page.object_list,
            "unapplied": selectors.customer_unapplied_cash(payments),
            "base_template": base_template(request),
        },
    )
