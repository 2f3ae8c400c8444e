"""A statement of account as a PDF: the print template drawn by WeasyPrint.

WeasyPrint loads Pango (with HarfBuzz and fontconfig) from the system when first imported,
so it is imported here, on the first PDF, not when Django starts: a machine without those
libraries still serves the JSON and the page, and a PDF request there is a clear 503.
The template carries its own CSS and fetches nothing (every URL is refused).
"""

import logging

from django.template.loader import render_to_string

from arpilot.errors import ApplicationError
from receivables.statements import Statement

logger = logging.getLogger(__name__)

PDF_MEDIA_TYPE = "application/pdf"


class PdfUnavailable(ApplicationError):
    status_code = 503
    code = "server_error"


def _weasyprint():
    """WeasyPrint's HTML class and a URL fetcher that refuses every URL."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: Pango or its companions missing
        logger.error("WeasyPrint cannot load: %s", exc)
        raise PdfUnavailable(
            "PDF statements are not available on this server (WeasyPrint cannot load its "
            "system libraries); ask for JSON instead."
        ) from None
    return HTML, URLFetcher(allowed_protocols=())


def statement_filename(statement: Statement) -> str:
    """``statement-<customer id or uuid>-<from>-<to>.pdf`` (ASCII, safe in a header)."""
    name = statement.customer.external_id or str(statement.customer.pk)
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in name)
    return f"statement-{safe[:60]}-{statement.date_from}-{statement.date_to}.pdf"


def statement_html(statement: Statement, *, organization_name: str) -> str:
    return render_to_string(
        "receivables/statement_pdf.html",
        {
            "statement": statement,
            "organization_name": organization_name,
            "currency": statement.currency,
        },
    )


def statement_pdf(statement: Statement, *, organization_name: str) -> bytes:
    """The statement as PDF bytes."""
    html_class, no_fetching = _weasyprint()
    html = statement_html(statement, organization_name=organization_name)
    return html_class(string=html, base_url=None, url_fetcher=no_fetching).write_pdf()
