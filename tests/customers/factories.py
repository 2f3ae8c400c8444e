def customer_payload(**overrides) -> dict:
    payload = {
        "company_name": "Acme Corp",
        "customer_id": "C-0042",
        "address": "1 Main Street, Springfield",
        "contacts": [{"contact_name": "Wile E. Coyote", "email": "wile@acme.example"}],
        "tags": ["wholesale"],
    }
    payload.update(overrides)
    return payload
