"""Reading back the JSON we stored ourselves: strictly, with one error for anything else.

Home Assistant's `Store` returns whatever JSON a file holds. A hand edit, a disk fault or a file
from an incompatible version can put any JSON where our `to_dict` output should be, so every
`from_dict` of stored data reads it through these helpers and raises only `StoredDataError` for
what `to_dict` could not have written. The Home Assistant layer then starts that store afresh
with one warning, instead of failing setup or, worse, failing later on a value of the wrong kind.

Messages name the field and the kind of value found, never the value. Times and dates must lie
between 1970 and 2200, so arithmetic on a restored one cannot overflow later. Pure: stdlib only,
used by every layer.
"""

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Final

type Reader[T] = Callable[[object, str], T]

FIRST_DAY: Final = date(1970, 1, 1)
LAST_DAY: Final = date(2200, 1, 1)
_LAST_EPOCH: Final = datetime(2200, 1, 1, tzinfo=UTC).timestamp()


class StoredDataError(ValueError):
    """Stored data that cannot be read back (corrupted, hand-edited, or of another version)."""


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _wrong(path: str, expected: str, value: object) -> StoredDataError:
    return StoredDataError(f"{path}: expected {expected}, found {_kind(value)}")


def integer(value: object, path: str) -> int:
    """Read an integer (a boolean is not one)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _wrong(path, "an integer", value)


def non_negative(value: object, path: str) -> int:
    """Read an integer that is zero or more."""
    result = integer(value, path)
    if result < 0:
        raise StoredDataError(f"{path}: expected zero or more, found a negative integer")
    return result


def number(value: object, path: str) -> float:
    """Read a finite number as a float."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
        if math.isfinite(result):
            return result
    raise _wrong(path, "a finite number", value)


def text(value: object, path: str) -> str:
    """Read a string."""
    if isinstance(value, str):
        return value
    raise _wrong(path, "a string", value)


def flag(value: object, path: str) -> bool:
    """Read a boolean."""
    if isinstance(value, bool):
        return value
    raise _wrong(path, "a boolean", value)


def epoch(value: object, path: str) -> int:
    """Read whole epoch seconds of an instant between 1970 and 2200."""
    result = integer(value, path)
    if not 0 <= result < _LAST_EPOCH:
        raise StoredDataError(f"{path}: epoch seconds out of range")
    return result


def epoch_time(value: object, path: str) -> datetime:
    """Read an instant saved as epoch seconds (int or float) as an aware UTC datetime."""
    seconds = number(value, path)
    if not 0 <= seconds < _LAST_EPOCH:
        raise StoredDataError(f"{path}: epoch seconds out of range")
    return datetime.fromtimestamp(seconds, UTC)


def iso_date(value: object, path: str) -> date:
    """Read a date saved as "YYYY-MM-DD"."""
    try:
        result = date.fromisoformat(text(value, path))
    except ValueError:
        raise StoredDataError(f"{path}: expected an ISO date") from None
    if not FIRST_DAY <= result < LAST_DAY:
        raise StoredDataError(f"{path}: date out of range")
    return result


def key_integer(value: object, path: str) -> int:
    """Read an integer saved as an object key (JSON keys are strings)."""
    word = text(value, path)
    if not word.isascii() or not word.lstrip("-").isdigit() or len(word) > 20:
        raise StoredDataError(f"{path}: expected an integer key")
    return int(word)


def member[E: Enum](kind: type[E]) -> Reader[E]:
    """Return a reader of one value of the enum `kind`."""

    def read(value: object, path: str) -> E:
        for candidate in kind:
            if isinstance(value, str) and candidate.value == value:
                return candidate
        raise StoredDataError(f"{path}: not a known {kind.__name__}")

    return read


def optional[T](read: Reader[T]) -> Reader[T | None]:
    """Return a reader that also takes null (as None)."""

    def read_optional(value: object, path: str) -> T | None:
        return None if value is None else read(value, path)

    return read_optional


def array(value: object, path: str, size: int | None = None) -> list[object]:
    """Read a JSON array (of exactly `size` items, if given)."""
    if not isinstance(value, list):
        raise _wrong(path, "an array", value)
    if size is not None and len(value) != size:
        raise StoredDataError(f"{path}: expected {size} items, found {len(value)}")
    return value


def each[T](read: Reader[T]) -> Reader[list[T]]:
    """Return a reader of an array whose every item `read` reads."""

    def read_all(value: object, path: str) -> list[T]:
        return [read(item, f"{path}[{index}]") for index, item in enumerate(array(value, path))]

    return read_all


def entries[K, V](read_key: Reader[K], read_value: Reader[V]) -> Reader[dict[K, V]]:
    """Return a reader of an object, its keys read by `read_key` and values by `read_value`."""

    def read_all(value: object, path: str) -> dict[K, V]:
        obj = Record(value, path)
        return {
            read_key(name, f"{path}.{name}"): read_value(item, f"{path}.{name}")
            for name, item in obj.items()
        }

    return read_all


class Record:
    """One stored JSON object, read field by field; a field `to_dict` writes must be there."""

    __slots__ = ("_data", "path")

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _wrong(path, "an object", value)
        self._data: Mapping[object, object] = value
        self.path = path

    def __contains__(self, key: str) -> bool:
        """Whether the field is there (null or not)."""
        return key in self._data

    def items(self) -> list[tuple[str, object]]:
        """Every key and value (JSON keys are strings)."""
        return [(str(name), item) for name, item in self._data.items()]

    def get[T](self, key: str, read: Reader[T]) -> T:
        """Read a field that must be present."""
        if key not in self._data:
            raise StoredDataError(f"{self.path}.{key}: missing")
        return read(self._data[key], f"{self.path}.{key}")

    def opt[T](self, key: str, read: Reader[T], *, may_be_absent: bool = False) -> T | None:
        """Read a field that may be null (or, with `may_be_absent`, missing: older stores)."""
        if may_be_absent and key not in self._data:
            return None
        return self.get(key, optional(read))
