"""The API's orjson renderer writes exactly DRF's JSONRenderer's bytes (arpilot/api/renderers.py)."""

import math
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer

from arpilot.api.renderers import JSONRenderer

ours, theirs = JSONRenderer(), DRFJSONRenderer()


def _both(data, media_type=None, context=None):
    try:
        expected = theirs.render(data, media_type, context)
    except Exception as exc:  # whatever DRF raises, ours must raise too
        with pytest.raises(type(exc)):
            ours.render(data, media_type, context)
        return None
    assert ours.render(data, media_type, context) == expected
    return expected


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**12), max_value=10**12
    ),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(),
    st.text(alphabet='\u2028\u2029\x00\x1f\x7f"\\/é€😀 ,:[]e0.').map(str),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
    st.dates(),
    st.times(),
    st.uuids(),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_any_document_renders_as_drf_does(data):
    _both({"data": data})


@pytest.mark.parametrize(
    "data",
    [
        {"amount": Decimal("1250.50"), "due": Decimal("0.001"), "zero": Decimal("0.00")},
        {"big": Decimal("999999999999.999"), "neg": Decimal("-0.010")},
        {"score": 1e-05, "tiny": 4.5e-05, "huge": 1e16, "e": 2.5e20},
        {"note": "line\u2028break\u2029end", "id": uuid.UUID(int=7)},
        {"at": datetime(2026, 12, 2, 13, 0, 5, 123456, tzinfo=UTC), "on": date(999, 1, 2)},
        {"t": time(8, 30, 0, 250000), "span": timedelta(hours=1, microseconds=5)},
        {1: "int key", "s": 2},
        {"count": 2**64},
        {"nan": Decimal("NaN")},
        {"text": "0.00001 and ,1e5 in a string"},
        [],
        "",
    ],
)
def test_edge_values_render_as_drf_does(data):
    _both(data)


def test_a_non_finite_float_is_the_one_difference():
    """Never in this API's data (money is Decimal); DRF refuses it, orjson writes null."""
    with pytest.raises(ValueError):
        theirs.render({"x": math.inf})
    assert ours.render({"x": math.inf}) == b'{"x":null}'


def test_indent_and_none_are_drf_s():
    assert (
        _both({"a": [1, 2]}, "application/json; indent=2") == b'{\n  "a": [\n    1,\n    2\n  ]\n}'
    )
    assert _both({"a": 1}, None, {"indent": 4}).startswith(b"{\n    ")
    assert ours.render(None) == b""


@pytest.mark.django_db
def test_api_responses_are_drf_s_bytes(api, org):
    """A response of the API as served equals DRF's rendering of the same data."""
    from tests.factories import CustomerFactory

    customer = CustomerFactory(organization=org, company_name="Renderer \u2028 Co")
    response = api.get(f"/api/v1/customers/{customer.pk}")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, JSONRenderer)
    assert response.content == theirs.render(response.data)
    missing = api.get(f"/api/v1/customers/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.content == theirs.render(missing.data)
