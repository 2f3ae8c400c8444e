"""The clerk's statement of account page and its PDF download."""

from django.http import HttpResponse
from django.shortcuts import render

from arpilot.errors import ApplicationError
from arpilot.workspace import org_object_or_404, workspace_view
from customers.models import Customer
from receivables.statement_pdf import PDF_MEDIA_TYPE, statement_filename, statement_pdf
from receivables.statements import customer_statement, organization_today, statement_period


def _period_errors(exc: ApplicationError) -> dict[str, str]:
    return {field: " ".join(messages) for field, messages in exc.fields.items()}


@workspace_view
def customer_statement_page(request, customer_id):
    """A customer's statement for the period in ``?from=&to=`` (defaults: the 90 days up to
    today): opening balance, the ledger lines with the running balance, totals, closing
    balance and aging, and a link to the same statement as PDF (``?format=pdf``). A date
    that cannot be read shows the form with the error and no statement (a 400)."""
    organization = request.organization
    customer = org_object_or_404(Customer.objects.for_org(organization), pk=customer_id)
    try:
        date_from, date_to = statement_period(request.GET, today=organization_today(organization))
    except ApplicationError as exc:
        return render(
            request,
            "receivables/statement.html",
            {"customer": customer, "statement": None, "errors": _period_errors(exc)},
            status=400,
        )
    statement = customer_statement(
        organization=organization, customer=customer, date_from=date_from, date_to=date_to
    )
    if request.GET.get("format") == "pdf":
        return _pdf_response(statement, organization.name)
    return render(
        request,
        "receivables/statement.html",
        {"customer": customer, "statement": statement, "errors": {}},
    )


def _pdf_response(statement, organization_name: str) -> HttpResponse:
    try:
        pdf = statement_pdf(statement, organization_name=organization_name)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")
    response = HttpResponse(pdf, content_type=PDF_MEDIA_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{statement_filename(statement)}"'
    return response
