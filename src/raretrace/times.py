"""The one reading of times and dates, for every entry point (event files, CLI options, API bodies,
imported rows, consortium files, certificates).

The rule (docs/cli.md, "Times and dates"):

- An **instant** is an RFC 3339 ``date-time`` (section 5.6): ``YYYY-MM-DDTHH:MM:SS[.frac]`` followed by
  ``Z`` or ``+hh:mm`` / ``-hh:mm``. RFC 3339 makes the offset part of the grammar (``time-offset`` is not
  optional), so a time without one is refused with an error that says so — it is never guessed to be UTC
  or the machine's local time: two registries in different time zones must read the same text as the same
  instant. ``T`` or ``t`` or (as the RFC's note permits) a space separates date and time.
- A **day** is an RFC 3339 ``full-date``, ``YYYY-MM-DD``, with no time and no offset.

Instants are stored and compared as normalized UTC text (``format_time``), which sorts correctly.
Why one module: six parsers used to disagree (the CLI's ``verify --at`` took a naive time as UTC while
event files refused it), so the same text meant different things at different doors.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from raretrace.errors import ValidationError

#: RFC 3339 section 5.6 ``date-time``, with the offset optional only so that its absence gets its own error.
_INSTANT_RE = re.compile(
    r"^(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d+))?(?P<offset>[Zz]|[+-]\d\d:\d\d)?$", re.ASCII
)
#: Already normalized UTC ("Z", at most six fraction digits): read without time-zone arithmetic.
_UTC_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$", re.ASCII)
_DAY_RE = re.compile(r"^\d{4}-\d\d-\d\d$", re.ASCII)


def _naive(value: str, field: str) -> ValidationError:
    return ValidationError(
        f"{value!r} has no UTC offset (add Z or +hh:mm): RFC 3339 requires one, and a time without it "
        "is not guessed",
        field=field,
    )


def parse_instant(value: object, field: str) -> datetime:
    """An RFC 3339 date-time with its offset, as an aware ``datetime`` in UTC; errors name ``field``."""
    if isinstance(value, datetime):  # TOML and pydantic hand over datetimes: the same rule applies
        if value.tzinfo is None:
            raise _naive(value.isoformat(), field)
        return value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValidationError("must be an RFC 3339 timestamp string", field=field)
    shape = _INSTANT_RE.match(value)
    if shape is None:
        raise ValidationError(f"{value!r} is not an RFC 3339 timestamp", field=field)
    if shape["offset"] is None:
        raise _naive(value, field)
    fraction = (shape[3] or "")[:6].ljust(6, "0")  # datetime keeps microseconds; RFC 3339 allows more digits
    offset = "+00:00" if shape["offset"] in ("Z", "z") else shape["offset"]
    try:
        moment = datetime.fromisoformat(f"{shape[1]}T{shape[2]}.{fraction}{offset}")
    except ValueError as e:  # 2026-02-30, 25:00:00, +24:00
        raise ValidationError(f"{value!r} is not an RFC 3339 timestamp: {e}", field=field) from e
    return moment.astimezone(UTC)


def parse_time(value: object, field: str) -> str:
    """An RFC 3339 date-time with its offset, as normalized UTC text (``format_time``) that sorts."""
    if isinstance(value, str):
        utc = _UTC_RE.match(value)
        if utc:  # the common case (already UTC): check the date and pad the fraction, no arithmetic
            try:
                datetime.fromisoformat(utc.group(1))
            except ValueError as e:
                raise ValidationError(f"{value!r} is not an RFC 3339 timestamp: {e}", field=field) from e
            return f"{utc.group(1)}.{(utc.group(2) or '').ljust(6, '0')}Z"
    return format_time(parse_instant(value, field))


def parse_date(value: object, field: str) -> date:
    """An RFC 3339 full-date (YYYY-MM-DD); a TOML date (or date-time: its day) is taken as it is."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DAY_RE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)", field=field)


def stored_instant(text: str) -> datetime:
    """The instant of a time this program wrote itself (``format_time`` output): no checks to repeat."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(moment: datetime) -> str:
    """Normalized UTC text, microseconds always shown, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> str:
    return format_time(datetime.now(UTC))
