"""Property: whatever LiveOne (or anything at its address) answers, the client makes of it an
acknowledgement or one of its own errors, and never lets the API key through."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.liveone_enphase.liveone import LiveOneClient, LiveOneError
from custom_components.liveone_enphase.liveone.client import _retry_after

from ..json_values import JSON

KEY = "lo-key-7f3a9c2e5b1d"
# Bodies: arbitrary JSON, LiveOne-like objects (echoing the key at times), or any text at all.
BODIES = (
    JSON.map(json.dumps)
    | st.fixed_dictionaries(
        {},
        optional={
            "success": JSON | st.booleans(),
            "error": st.sampled_from(["", "bad key", f"key {KEY} refused"]) | JSON,
            "message": JSON,
            "pointsStored": JSON,
        },
    ).map(json.dumps)
    | st.text(max_size=40)
)


def _client() -> LiveOneClient:
    """A client that only interprets answers (it never sends, so it needs no session)."""
    return LiveOneClient(None, "https://liveone.invalid", "site", KEY)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(
    status=st.integers(min_value=100, max_value=599),
    text=BODIES,
    retry_after=st.none() | st.floats(min_value=0, max_value=1e6),
)
def test_any_answer_is_an_acknowledgement_or_a_liveone_error(
    status: int, text: str, retry_after: float | None
) -> None:
    failure: LiveOneError | None = None
    try:
        answer = _client()._interpret(status, text, retry_after)
    except LiveOneError as err:
        failure = err
    if failure is not None:
        assert KEY not in f"{failure} {failure!r}"
        return
    assert 200 <= status < 300
    assert answer.get("success") is True


@pytest.mark.parametrize("header", [None, "", "12", "1.5", "-3", "inf", "nan", "Wed, 21 Oct"])
def test_retry_after_reads_seconds_or_nothing(header: str | None) -> None:
    seconds = _retry_after(header)
    assert seconds is None or seconds >= 0


@given(header=st.text(max_size=20))
def test_any_retry_after_is_seconds_or_nothing(header: str) -> None:
    seconds = _retry_after(header)
    assert seconds is None or (0 <= seconds < float("inf"))
