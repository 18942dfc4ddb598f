"""Arbitrary JSON, and damaged copies of real documents, for the parsers' property tests."""

import copy
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        ["", "true", "97%", "2024-02-29", "2026-01-15", "US/Eastern", "-1", "nan%", "12"]
    )
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


def mutate(value: Any, data: st.DataObject) -> Any:
    """Damage a document anywhere: values replaced by arbitrary JSON or null, keys dropped."""
    roll = data.draw(st.integers(0, 11))
    if roll == 0:
        return data.draw(JSON)
    if roll == 1:
        return None
    if isinstance(value, dict):
        return {
            key: mutate(item, data)
            for key, item in value.items()
            if data.draw(st.integers(0, 11)) != 0
        }
    if isinstance(value, list):
        return [mutate(item, data) for item in value]
    return value


def damaged(document: Any) -> Iterator[tuple[str, Any]]:
    """Every copy of `document` with one value made null, or one key dropped, and where."""
    for path in _paths(document, ()):
        yield f"null at {path}", _changed(document, path, drop=False)
        if path and isinstance(path[-1], str):
            yield f"no {path}", _changed(document, path, drop=True)


def _paths(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _changed(document: Any, path: tuple[str | int, ...], *, drop: bool) -> Any:
    if not path:
        return None
    result = copy.deepcopy(document)
    parent = result
    for step in path[:-1]:
        parent = parent[step]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = None
    return result
