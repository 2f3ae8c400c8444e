"""Believable demo data, built through the same services the API uses."""

import random

from customers import services as customer_services

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


def seed_organization(organization, *, small: bool = False) -> dict[str, int]:
    """Seed every domain of ARPilot; returns what was created, by kind."""
    customers = seed_customers(organization, small=small)
    return {"customers": len(customers)}
