"""Defensive readers for Enphase JSON.

Every surprise in a response's shape (a wrong type, an impossible timestamp, a bad date string)
becomes `EnphaseMalformedResponseError` naming the path of the bad field, never a bare
TypeError/KeyError. Missing keys and JSON null both read as None: the API omits and nulls fields
freely. Blank strings read as None too, because Enphase sends "" where it means "unknown".
"""

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

from .errors import EnphaseMalformedResponseError

# Everything a converter may raise on a value of the wrong kind.
_CONVERSION_ERRORS = (TypeError, ValueError, OverflowError, OSError)


def zone_or_utc(name: str | None) -> tzinfo:
    """Resolve an Enphase timezone name (legacy "US/Eastern" included), falling back to UTC."""
    if name is None:
        return UTC
    try:
        return ZoneInfo(name)
    except KeyError, ValueError, OSError:
        return UTC


def _integer(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError
    result = float(value)
    if not math.isfinite(result):
        raise ValueError
    return result


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = _text(value).strip().lower()
    if word == "true":
        return True
    if word == "false":
        return False
    raise ValueError


def _epoch(value: object) -> datetime:
    return datetime.fromtimestamp(_number(value), UTC)


def _percent(value: object) -> float:
    if isinstance(value, str):
        return _number(float(value.strip().removesuffix("%")))
    return _number(value)


def _identifier(value: object) -> str:
    if isinstance(value, str):
        return value
    return str(_integer(value))


class JsonObject:
    """A JSON object read field by field, with its path for error messages."""

    __slots__ = ("_data", "path")

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise EnphaseMalformedResponseError(
                f"{path}: expected an object, got {type(data).__name__}"
            )
        self._data: dict[object, object] = data
        self.path = path

    def _read[T](self, key: str, convert: Callable[[object], T], expected: str) -> T | None:
        value = self._data.get(key)
        if value is None:
            return None
        try:
            return convert(value)
        except _CONVERSION_ERRORS as err:
            raise EnphaseMalformedResponseError(
                f"{self.path}.{key}: expected {expected}, got {type(value).__name__}"
            ) from err

    def _require[T](self, key: str, value: T | None) -> T:
        if value is None:
            raise EnphaseMalformedResponseError(f"{self.path}.{key}: missing")
        return value

    def has(self, key: str) -> bool:
        """Tell whether the key is present and not null."""
        return self._data.get(key) is not None

    def req_int(self, key: str) -> int:
        """Read a required integer."""
        return self._require(key, self.opt_int(key))

    def opt_int(self, key: str) -> int | None:
        """Read an optional integer (an integral float such as 40.0 counts)."""
        return self._read(key, _integer, "an integer")

    def opt_float(self, key: str) -> float | None:
        """Read an optional finite number as float."""
        return self._read(key, _number, "a number")

    def req_str(self, key: str) -> str:
        """Read a required string (blank allowed: it is still present)."""
        return self._require(key, self._read(key, _text, "a string"))

    def opt_str(self, key: str) -> str | None:
        """Read an optional string; blank reads as None."""
        return self._read(key, _text, "a string") or None

    def opt_id(self, key: str) -> str | None:
        """Read an identifier that Enphase sends as an integer or a string (blank → None)."""
        return self._read(key, _identifier, "an integer or string") or None

    def opt_bool(self, key: str) -> bool | None:
        """Read a boolean that may arrive as the string "true"/"false"."""
        return self._read(key, _flag, "a boolean")

    def opt_time(self, key: str) -> datetime | None:
        """Read an epoch-seconds timestamp as an aware UTC datetime."""
        return self._read(key, _epoch, "an epoch timestamp")

    def req_time(self, key: str) -> datetime:
        """Read a required epoch-seconds timestamp."""
        return self._require(key, self.opt_time(key))

    def opt_date(self, key: str, zone: tzinfo = UTC) -> date | None:
        """Read a date sent as "YYYY-MM-DD" or as epoch seconds (then taken in `zone`)."""

        def convert(value: object) -> date:
            if isinstance(value, str):
                return date.fromisoformat(value)
            return datetime.fromtimestamp(_number(value), zone).date()

        return self._read(key, convert, "a date")

    def opt_percent(self, key: str) -> float | None:
        """Read a percentage sent as a number or as a string like "97%"."""
        return self._read(key, _percent, "a percentage")

    def nested[T](self, key: str, parse: Callable[[object, str], T]) -> T | None:
        """Parse an optional nested object with the model's `from_dict`."""
        value = self._data.get(key)
        return None if value is None else parse(value, f"{self.path}.{key}")

    def array(self, key: str) -> list[object]:
        """Read a list; missing or null reads as empty (Enphase omits empty lists)."""
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise EnphaseMalformedResponseError(
                f"{self.path}.{key}: expected a list, got {type(value).__name__}"
            )
        return value

    def each[T](self, key: str, parse: Callable[[object, str], T]) -> tuple[T, ...]:
        """Parse every element of a list with the model's `from_dict`."""
        return tuple(
            parse(item, f"{self.path}.{key}[{index}]") for index, item in enumerate(self.array(key))
        )

    def strings(self, key: str) -> tuple[str, ...]:
        """Read a list of strings."""
        return self._list_of(key, _text, "a list of strings")

    def numbers(self, key: str) -> tuple[float, ...]:
        """Read a list of finite numbers (nulls are not allowed: they would hide gaps)."""
        return self._list_of(key, _number, "a list of numbers")

    def _list_of[T](self, key: str, convert: Callable[[object], T], expected: str) -> tuple[T, ...]:
        values = self.array(key)
        try:
            return tuple(convert(item) for item in values)
        except _CONVERSION_ERRORS as err:
            raise EnphaseMalformedResponseError(f"{self.path}.{key}: expected {expected}") from err

    def names(self) -> tuple[str, ...]:
        """List the object's keys (JSON keys are always strings)."""
        return tuple(str(key) for key in self._data)
