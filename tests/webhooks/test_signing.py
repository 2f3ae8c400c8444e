import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from arpilot.outbound import signing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
payloads = st.fixed_dictionaries(
    {
        "id": st.uuids().map(str),
        "type": st.sampled_from(["invoice.paid", "customer.created", "webhook.test"]),
        "created_at": st.just("2026-11-29T16:30:00+00:00"),
        "data": st.dictionaries(st.text(min_size=1), json_values, max_size=5),
    }
)
SECRET = signing.secret_generate()


def _signed(payload: dict, secrets_: list[str]) -> tuple[bytes, dict]:
    body = signing.body_encode(payload)
    headers = signing.signed_headers(
        secrets_=secrets_, msg_id=payload["id"], body=body, timestamp=int(time.time())
    )
    return body, headers


def test_secret_has_the_standard_webhooks_form():
    secret = signing.secret_generate()

    assert secret.startswith("whsec_")
    assert len(Webhook(secret)._whsecret) == 32
    assert secret != signing.secret_generate()


@settings(max_examples=200, deadline=None)
@given(payload=payloads)
def test_signatures_verify_with_the_standardwebhooks_package(payload):
    body, headers = _signed(payload, [SECRET])

    assert Webhook(SECRET).verify(body, headers) == payload


@settings(max_examples=100, deadline=None)
@given(payload=payloads, flip=st.integers(min_value=0))
def test_a_tampered_body_is_rejected(payload, flip):
    body, headers = _signed(payload, [SECRET])
    position = flip % len(body)
    tampered = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]

    # A flipped bit inside a multi-byte character is not even UTF-8 any more; the package
    # then refuses it while decoding, before comparing signatures.
    with pytest.raises((WebhookVerificationError, UnicodeDecodeError)):
        Webhook(SECRET).verify(tampered, headers)


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_tampered_headers_are_rejected(header):
    payload = {"id": "evt-1", "type": "webhook.test", "created_at": "x", "data": {}}
    body, headers = _signed(payload, [SECRET])
    altered = {
        "webhook-id": "evt-2",
        "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1),
        "webhook-signature": signing.signature(
            signing.secret_generate(), "evt-1", int(headers["webhook-timestamp"]), body
        ),
    }
    headers[header] = altered[header]

    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_during_rotation_both_secrets_verify():
    old, new = signing.secret_generate(), signing.secret_generate()
    payload = {"id": "evt-1", "type": "webhook.test", "created_at": "x", "data": {}}

    body, headers = _signed(payload, [new, old])

    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(body, headers) == payload
    assert Webhook(old).verify(body, headers) == payload
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.secret_generate()).verify(body, headers)
