"""The native base64 decoder (b64 input data) against Python's base64 module."""

import base64
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuronperf_native import _engine


@given(st.binary(max_size=300), st.lists(st.sampled_from(" \n\t\r"), max_size=5), st.data())
def test_decodes_what_python_encodes_with_whitespace_anywhere(raw, spaces, data):
    text = base64.b64encode(raw).decode()
    for space in spaces:
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + space + text[at:]
    assert _engine.b64decode(text) == raw


@given(st.text(alphabet=string.ascii_letters + string.digits + "+/=!- \n", max_size=40))
def test_never_more_lenient_than_python(text):
    """Whatever we decode, Python's validating decoder decodes to the same bytes. We are
    stricter in one way: '=' after a complete group of 4 ("AAAA=") is an error."""
    compact = "".join(text.split())
    try:
        expected = base64.b64decode(compact, validate=True)
    except ValueError:
        expected = None
    try:
        got = _engine.b64decode(text)
    except ValueError:
        got = None
    if got is not None:
        assert got == expected
    elif expected is not None:
        assert "=" in compact


def test_padding_after_a_complete_group_is_an_error():
    with pytest.raises(ValueError, match="misplaced padding '=' at position 4"):
        _engine.b64decode("AAAA=")
