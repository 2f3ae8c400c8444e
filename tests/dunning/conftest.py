import pytest

from tests.dunning.factories import customer_with_contacts


@pytest.fixture
def customer(org):
    return customer_with_contacts(org, company_name="Acme <Tools> Ltd")


@pytest.fixture(autouse=True)
def _no_pdf(monkeypatch):
    """Statement PDFs are small fakes (WeasyPrint is slow and may be missing)."""
    monkeypatch.setattr(
        "dunning.services.run.statement_pdf", lambda statement, organization_name: b"%PDF-fake"
    )
