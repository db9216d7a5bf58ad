"""Phone normalisation: the fast path for international numbers must give exactly
what ``phonenumbers`` gives (same E.164, same refusals)."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.crypto.blind_index import _fast_international, normalise_phone

CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _full_path(value: str) -> str | None:
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _ours(value: str) -> str | None:
    try:
        return normalise_phone(value)
    except ValueError:
        return None


@settings(max_examples=3000, deadline=None)
@given(
    code=st.sampled_from(CODES),
    national=st.text(alphabet="0123456789", min_size=1, max_size=18),
    separator=st.sampled_from(["", " ", "-", ".", " (", ") "]),
)
def test_fast_path_agrees_with_phonenumbers(code: int, national: str, separator: str) -> None:
    middle = len(national) // 2
    value = f"+{code}{separator}{national[:middle]}{separator.strip('(')}{national[middle:]}"
    assert _ours(value) == _full_path(value), value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+91 98123 45678", "+919812345678"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+27 82 123 4567", "+27821234567"),
        ("+44 7911 123456", "+447911123456"),
        ("+49 1512 3456789", "+4915123456789"),
    ],
)
def test_common_international_numbers_take_the_fast_path(value: str, expected: str) -> None:
    assert _fast_international(value) == expected
    assert normalise_phone(value) == expected


@pytest.mark.parametrize(
    "value",
    ["+44 (0) 20 7946 0958", "+39 06 6982 1234", "+54 9 11 1234-5678", "+1 1 415 555 2671", "+91 98123 45678 ext 12"],
)
def test_national_prefixes_and_extensions_go_the_full_way(value: str) -> None:
    assert _fast_international(value) is None
    assert _ours(value) == _full_path(value)


def test_an_impossible_number_is_refused() -> None:
    with pytest.raises(ValueError, match="possible"):
        normalise_phone("+91 12")
