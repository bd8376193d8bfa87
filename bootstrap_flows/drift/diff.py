"""Leaf-by-leaf differences between two values as Terraform's `show -json` records them.

Pure: no Terraform, no AWS. Values are shown the way the findings table shows them; sensitive
values never leave this module unmasked.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

SENSITIVE = "(sensitive)"
NONE = "(none)"
UNKNOWN = "(known after apply)"


def _empty(value: Any) -> bool:
    # Providers record "not set" as null, "", [] or {} depending on when the value was read.
    return value is None or value == "" or value == [] or value == {}


def _json_text(value: Any) -> Any:
    """A string holding a JSON object or array, parsed (policies, container definitions)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return None


def canonical(value: Any) -> Any:
    """Comparable form: JSON strings parsed, empty values dropped from objects."""
    parsed = _json_text(value)
    if parsed is not None:
        value = parsed
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in sorted(value.items()) if not _empty(v)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def _key(value: Any) -> str:
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"))


def show(value: Any, limit: int = 300) -> str:
    """One line for the findings table: `(none)` for any empty value, JSON for structures."""
    if _empty(value):
        return NONE
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _marked(marker: Any) -> bool:
    return marker is True


def child_marker(marker: Any, key: str | int) -> Any:
    """The sensitivity (or unknown) marker of a child: Terraform mirrors the value's shape."""
    if marker is True:
        return True
    if isinstance(marker, dict) and isinstance(key, str):
        return marker.get(key, False)
    if isinstance(marker, list) and isinstance(key, int) and key < len(marker):
        return marker[key]
    return False


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    step = key if _PLAIN_KEY.match(key) else json.dumps(key)
    if not _PLAIN_KEY.match(key):
        return f"{path}[{step}]"
    return f"{path}.{step}" if path else step


def diff_values(
    before: Any,
    after: Any,
    path: str = "",
    before_sensitive: Any = False,
    after_sensitive: Any = False,
    after_unknown: Any = False,
) -> Iterator[tuple[str, str, str]]:
    """Leaf differences as (path, before shown, after shown); sensitive values masked.

    Lists of different lengths (or with more than one element changed) come out as removed
    `path[-]` and added `path[+]` elements, so a rule added to a set reads as one line.
    """
    if _marked(before_sensitive) or _marked(after_sensitive):
        if _key(before) != _key(after):
            yield path, SENSITIVE, SENSITIVE
        return
    if _marked(after_unknown):
        yield path, show(before), UNKNOWN
        return
    if _empty(before) and _empty(after):
        return
    parsed_before, parsed_after = _json_text(before), _json_text(after)
    if parsed_before is not None and parsed_after is not None:
        # Sensitivity of a JSON string is one marker for the whole string, already checked.
        yield from diff_values(parsed_before, parsed_after, path)
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            yield from diff_values(
                before.get(key),
                after.get(key),
                _child(path, key),
                child_marker(before_sensitive, key),
                child_marker(after_sensitive, key),
                child_marker(after_unknown, key),
            )
        return
    if isinstance(before, list) and isinstance(after, list):
        yield from _diff_lists(
            before, after, path, before_sensitive, after_sensitive, after_unknown
        )
        return
    if _key(before) != _key(after):
        yield path, show(before), show(after)


def _diff_lists(
    before: list[Any],
    after: list[Any],
    path: str,
    before_sensitive: Any,
    after_sensitive: Any,
    after_unknown: Any,
) -> Iterator[tuple[str, str, str]]:
    remaining = [_key(v) for v in after]
    removed: list[int] = []
    for index, value in enumerate(before):
        key = _key(value)
        if key in remaining:
            remaining[remaining.index(key)] = "\0matched"
        else:
            removed.append(index)
    added = [i for i, key in enumerate(remaining) if key != "\0matched"]
    if not removed and not added:
        return  # same elements, other order: a set read back in another order
    if len(before) == len(after) and removed == added and len(removed) == 1:
        # One element changed in place: show the leaf that changed inside it.
        i = removed[0]
        yield from diff_values(
            before[i],
            after[i],
            _child(path, i),
            child_marker(before_sensitive, i),
            child_marker(after_sensitive, i),
            child_marker(after_unknown, i),
        )
        return
    for i in removed:
        shown = SENSITIVE if child_marker(before_sensitive, i) is True else show(before[i])
        yield f"{path}[-]", shown, NONE
    for i in added:
        if child_marker(after_unknown, i) is True:
            yield f"{path}[+]", NONE, UNKNOWN
        else:
            shown = SENSITIVE if child_marker(after_sensitive, i) is True else show(after[i])
            yield f"{path}[+]", NONE, shown
