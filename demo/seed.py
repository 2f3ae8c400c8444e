"""Believable demo data, built through the same services the API uses."""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from arpilot.actors import acting_as
from credits import services as credits
from customers import services as customer_services
from customers.models import Customer
from dunning import services as collections
from payments import services as payments
from receivables import services as receivables
from receivables.models import Invoice

COMPANIES = [
    ("Acme Corporation", "Wile Coyote", "ap@acme.example", ["wholesale", "net-30"]),
    ("Northwind Traders LLC", "Nancy Davolio", "billing@northwind.example", ["retail"]),
    ("Globex Industries", "Hank Scorpio", "payables@globex.example", ["enterprise", "net-60"]),
    ("Initech Software", "Bill Lumbergh", "accounts@initech.example", ["enterprise"]),
    ("Umbrella Health Partners", "Alice Abernathy", "finance@umbrella.example", ["healthcare"]),
    ("Stark Fabrication Inc.", "Pepper Potts", "ap@starkfab.example", ["wholesale", "vip"]),
    ("Wayne Logistics", "Lucius Fox", "invoices@waynelog.example", ["logistics", "vip"]),
    ("Cyberdyne Systems", "Miles Dyson", "ap@cyberdyne.example", ["enterprise"]),
    ("Soylent Foods Co.", "Sol Roth", "payables@soylent.example", ["retail", "net-30"]),
    ("Tyrell Biotech", "Rachael Tyrell", "ap@tyrell.example", ["healthcare", "vip"]),
    ("Oceanic Airlines Cargo", "Jack Shephard", "cargo-ap@oceanic.example", ["logistics"]),
    ("Pied Piper Compression", "Jared Dunn", "finance@piedpiper.example", ["startup"]),
    ("Hooli XYZ", "Gavin Belson", "ap@hooli.example", ["enterprise", "net-60"]),
    ("Vandelay Industries", "Art Vandelay", "imports@vandelay.example", ["wholesale"]),
    ("Dunder Mifflin Paper", "Angela Martin", "accounting@dundermifflin.example", ["retail"]),
    ("Bluth Company Homes", "Michael Bluth", "ap@bluth.example", ["construction"]),
]
TIMEZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "UTC"]


def seed_customers(organization, *, small: bool = False) -> list:
    rng = random.Random(42)
    customers = []
    for index, (name, contact, email, tags) in enumerate(COMPANIES[: 5 if small else None]):
        contacts = [
            {
                "contact_name": contact,
                "email": email,
                "title": "Accounts Payable",
                "phone": f"+1 555 01{index:02d}",
                "phone_type": "work",
                "escalation_level": 1,
                "is_primary": True,
            }
        ]
        if index % 3 == 0:
            contacts.append(
                {
                    "contact_name": "Finance Controller",
                    "email": f"controller.{email}",
                    "escalation_level": 2,
                    "title": "Controller",
                }
            )
        customers.append(
            customer_services.customer_create(
                organization=organization,
                company_name=name,
                contacts=contacts,
                external_id=f"C-{1001 + index}",
                address=f"{100 + index} Commerce Way",
                timezone=rng.choice(TIMEZONES),
                tags=tags,
            )
        )
    return customers


AMOUNTS = ["450.00", "1200.00", "2375.50", "980.00", "5600.00", "310.25", "7425.00", "1890.00"]
AGES = [0, 5, 10, 20, 35, 50, 70, 95, 130]


def seed_invoices(organization, customers, *, small: bool = False) -> list:
    """Open, overdue and part-paid invoices spread over the aging buckets."""
    rng = random.Random(7)
    today = timezone.localdate()
    invoices = []
    number = 1000
    for customer in customers:
        for _ in range(rng.randint(1, 2) if small else rng.randint(2, 4)):
            number += 1
            issued = today - timedelta(days=rng.choice(AGES))
            invoice = receivables.invoice_create(
                organization=organization,
                customer=customer,
                invoice_number=f"INV-{number}",
                amount=Decimal(rng.choice(AMOUNTS)),
                issue_date=issued,
                due_date=issued + timedelta(days=30),
            )
            if rng.random() < 0.15:
                receivables.invoice_record_offline_payment(
                    invoice=invoice, amount=(invoice.amount / 2).quantize(Decimal("0.01"))
                )
            invoices.append(invoice)
    return invoices


def seed_payments(organization, invoices, *, small: bool = False) -> list:
    """Bank payments as they arrive: clean remittances, short-pays, combined payments,
    and a few nobody can place; the matching engine then suggests and auto-applies."""
    rng = random.Random(11)
    today = timezone.localdate()
    created = []
    for index, invoice in enumerate(rng.sample(invoices, min(len(invoices), 4 if small else 18))):
        invoice.refresh_from_db()
        name = invoice.customer.company_name
        siblings = [
            i
            for i in invoices
            if i.customer_id == invoice.customer_id and i.pk != invoice.pk and i.amount_due > 0
        ]
        kind = index % 5
        if kind == 0:
            amount, payer, reference = (
                invoice.amount_due,
                name.upper(),
                f"INV {invoice.invoice_number.split('-')[1]} PAYMENT",
            )
        elif kind == 1:
            amount, payer, reference = invoice.amount_due - Decimal("0.75"), name, "REMITTANCE"
        elif kind == 2 and siblings:
            amount = invoice.amount_due + siblings[0].amount_due
            payer, reference = name, f"{invoice.invoice_number} {siblings[0].invoice_number}"
        elif kind == 3:
            amount, payer = invoice.amount_due, name.split()[0].upper() + " PAYABLES"
            reference = f"REMIT {invoice.customer.external_id}"
        else:
            amount = Decimal(rng.choice(["500.00", "1000.00", "250.00"]))
            payer, reference = rng.choice(["J SMITH", "ACCT 99812", "ONLINE TRANSFER"]), "TRANSFER"
        created.append(
            payments.payment_create(
                organization=organization,
                amount=amount,
                payment_date=today - timedelta(days=index % 6),
                payer_name=payer,
                payer_reference=reference,
                payment_method=rng.choice(["ach", "wire", "check"]),
                external_payment_id=f"DEMO-{index + 1:04d}",
            )
        )
    payments.payments_match(organization=organization, payment_ids=[p.pk for p in created])
    return created


CALLS = [
    ("call", "Left a voicemail about the overdue invoices; will try again Thursday."),
    ("note", "Customer moved AP to a new ERP last month; remittances may arrive late."),
    ("call", "Spoke to AP: the invoices are approved and in the next payment run."),
]


def seed_collections(organization, *, user=None) -> dict[str, int]:
    """The collector's week so far, by ``user``: calls and notes, a promise to pay, a
    disputed invoice, a short payment's deduction; then today's dunning run (its reminders
    go through the outbox)."""
    customers = list(Customer.objects.for_org(organization).order_by("company_name"))
    today = collections.organization_today(organization)
    overdue = {}
    for invoice in (
        Invoice.objects.for_org(organization)
        .filter(status__in=Invoice.OPEN_STATUSES, amount_due__gt=0, due_date__lt=today)
        .order_by("due_date", "invoice_number")
    ):
        overdue.setdefault(invoice.customer_id, []).append(invoice)
    debtors = [customer for customer in customers if customer.pk in overdue]
    counts = {"notes": 0, "promises": 0, "disputes": 0, "deductions": 0}
    with acting_as(user):
        for customer, (kind, body) in zip(debtors, CALLS, strict=False):
            collections.note_create(
                organization=organization, customer_id=customer.pk, kind=kind, body=body
            )
            counts["notes"] += 1
        if len(debtors) > 1:
            promised = overdue[debtors[1].pk][:1]
            collections.promise_create(
                organization=organization,
                customer_id=debtors[1].pk,
                invoice_ids=[invoice.pk for invoice in promised],
                amount=sum((invoice.amount_due for invoice in promised), Decimal("0")),
                promised_date=today + timedelta(days=7),
                note="Promised on the phone by AP, payment run next week.",
            )
            counts["promises"] += 1
        if len(debtors) > 2:
            collections.dispute_open(
                organization=organization,
                invoice_id=overdue[debtors[2].pk][0].pk,
                reason_code="damaged_goods",
                note="Two pallets arrived damaged; photos requested.",
            )
            counts["disputes"] += 1
        if len(debtors) > 3:
            short = overdue[debtors[3].pk][0]
            credits.deduction_open(
                organization=organization,
                invoice_id=short.pk,
                amount=min(short.amount_due, Decimal("150.00")),
                reason_code="pricing",
                note="Paid at last year's price list.",
            )
            counts["deductions"] += 1
    counts["reminders"] = len(collections.dunning_run(organization=organization))
    return counts


def seed_credits(organization) -> dict[str, int]:
    """What is not exactly an invoice: a credit note applied to part of an invoice, and a
    European customer's invoice in euros booked at the rate table's rate (with the rates of
    the last two months, so its aging shows in the base currency)."""
    from credits.services import credit_notes

    today = timezone.localdate()
    counts = {"credit notes": 0, "invoices in EUR": 0}
    for days_ago, rate in ((60, "1.0712"), (30, "1.0845"), (0, "1.0790")):
        receivables.exchange_rate_set(
            organization=organization,
            currency="EUR",
            date=today - timedelta(days=days_ago),
            rate=Decimal(rate),
        )
    open_invoices = list(
        Invoice.objects.for_org(organization)
        .filter(status__in=Invoice.OPEN_STATUSES, amount_due__gt=Decimal("200.00"))
        .order_by("due_date", "invoice_number")
    )
    if open_invoices:
        invoice = open_invoices[-1]
        note = credit_notes.credit_note_create(
            organization=organization,
            customer=invoice.customer_id,
            invoice_id=invoice.pk,
            amount=Decimal("120.00"),
            memo="Price adjustment agreed with AP: volume discount.",
            status="posted",
        )
        credit_notes.credit_note_apply(
            organization=organization,
            credit_note_id=note.pk,
            allocations=[{"invoice_id": invoice.pk, "amount": Decimal("80.00")}],
        )
        counts["credit notes"] += 1
    customer = customer_services.customer_create(
        organization=organization,
        company_name="Lindqvist Maskin AB",
        contacts=[
            {
                "contact_name": "Karin Lindqvist",
                "email": "ekonomi@lindqvist.example",
                "is_primary": True,
            }
        ],
        external_id="EU-0001",
        timezone="Europe/Stockholm",
        tags=["export"],
    )
    receivables.invoice_create(
        organization=organization,
        customer=customer,
        invoice_number="EU-2026-0042",
        currency="EUR",
        amount=Decimal("2400.00"),
        issue_date=today - timedelta(days=40),
        due_date=today - timedelta(days=10),
        notes="Machine parts, delivered to Göteborg.",
    )
    counts["invoices in EUR"] += 1
    return counts


def seed_organization(organization, *, small: bool = False) -> dict[str, int]:
    """Seed every domain of ARPilot through its services; returns counts by kind."""
    customers = seed_customers(organization, small=small)
    invoices = seed_invoices(organization, customers, small=small)
    bank_payments = seed_payments(organization, invoices, small=small)
    return {"customers": len(customers), "invoices": len(invoices), "payments": len(bank_payments)}
