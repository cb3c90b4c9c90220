"""``--at`` values: ISO-8601 and relative moments, one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orcatui.model.moments import format_moment, parse_moment

NOW = datetime(2026, 11, 28, 15, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T14:03:00Z", NOW - 57 * 60),
        ("2026-11-28T14:03:00+00:00", NOW - 57 * 60),
        ("2026-11-28T15:03:00+01:00", NOW - 57 * 60),
        ("2026-11-28 14:03", NOW - 57 * 60),  # no offset: UTC
        ("2026-11-28T14:59:59.610238+00:00", NOW - 0.389762),
        ("2026-11-28", NOW - 15 * 3600),
        ("-15m", NOW - 900),
        ("-2h30m", NOW - 9000),
        ("-90s", NOW - 90),
        ("-1d12h", NOW - 36 * 3600),
        ("-1.5h", NOW - 5400),
        ("- 10 min", NOW - 600),
        ("now", NOW),
        ("  -5m  ", NOW - 300),
    ],
)
def test_good_moments(text, expected):
    assert parse_moment(text, NOW) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("yesterday", "not an ISO-8601 moment"),
        ("-15", "not a relative moment"),
        ("-15x", "not a relative moment"),
        ("-", "not a relative moment"),
        ("+15m", "not an ISO-8601 moment"),
        ("2026-13-01", "not an ISO-8601 moment"),
        ("1999-12-31T23:59:59Z", "before 2000-01-01"),
        ("2026-11-29T00:00:00Z", "in the future"),
        ("\x1b[31mred\nline\u202e", "not an ISO-8601 moment"),
    ],
)
def test_bad_moments_are_one_line_errors(text, needle):
    with pytest.raises(ValueError) as err:
        parse_moment(text, NOW)
    message = str(err.value)
    assert needle in message
    assert "\n" not in message and "\x1b" not in message and "\u202e" not in message


def test_long_bad_value_is_cut_in_the_message():
    with pytest.raises(ValueError) as err:
        parse_moment("x" * 5000, NOW)
    assert len(str(err.value)) < 200


def test_format_moment_round_trips():
    at = NOW - 0.389762
    assert format_moment(at) == "2026-11-28T14:59:59.610238Z"
    assert parse_moment(format_moment(at), NOW) == pytest.approx(at, abs=1e-6)
