"""Canonical JSON: the RFC 8785 (JCS) serialisation of the JSON the ledger produces.

The ledger only writes objects, arrays, strings, integers, ``true``/``false`` and ``null``, and
for those JCS is simple: members sorted by the UTF-16 code units of their names, no whitespace,
strings with only ``"``, ``\\`` and control characters escaped (``\\b \\t \\n \\f \\r`` short,
others ``\\u00xx``), UTF-8. Floats are refused (``malformed``): JCS would need ECMAScript number
formatting, and nothing the log records is fractional. Integers must be I-JSON safe
(``|n| <= 2**53 - 1``, RFC 7493 §2.2) so that every JSON reader gets the same number.

:func:`parse_canonical` reads bytes back and insists they are exactly the canonical form (no
duplicate names, no floats), so a signed payload has one spelling only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import malformed

MAX_SAFE_INTEGER = 2**53 - 1

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
_ESCAPES["\r"] = "\\r"


def _string(value: str, out: list[str]) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise malformed("a string holds a lone surrogate (not valid Unicode)") from None
    out.append('"')
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _value(value: object, out: list[str], path: str, depth: int) -> None:
    if depth > 32:
        raise malformed(f"{path}: nested too deeply")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise malformed(f"{path}: integer {value} is outside the I-JSON safe range")
        out.append(str(int(value)))
    elif isinstance(value, float):
        raise malformed(f"{path}: floats are not allowed in ledger JSON (got {value!r})")
    elif isinstance(value, str):
        _string(value, out)
    elif isinstance(value, Mapping):
        names = list(value)
        for name in names:
            if not isinstance(name, str):
                raise malformed(f"{path}: member names must be strings, got {name!r}")
        out.append("{")
        for i, name in enumerate(sorted(names, key=_utf16)):
            if i:
                out.append(",")
            _string(name, out)
            out.append(":")
            _value(value[name], out, f"{path}.{name}", depth + 1)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _value(item, out, f"{path}[{i}]", depth + 1)
        out.append("]")
    else:
        raise malformed(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: object) -> bytes:
    """The RFC 8785 bytes of ``value`` (dicts, lists/tuples, str, int, bool, None only)."""
    out: list[str] = []
    _value(value, out, "$", 0)
    return "".join(out).encode("utf-8")


def _no_float(text: str) -> Any:
    raise malformed(f"floats are not allowed in ledger JSON (got {text})")


def _no_constant(text: str) -> Any:
    raise malformed(f"{text} is not JSON")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, item in pairs:
        if name in result:
            raise malformed(f"member {name!r} appears twice")
        result[name] = item
    return result


def parse_canonical(data: bytes) -> Any:
    """Read canonical JSON; ``malformed`` unless ``data`` is exactly ``canonical_json`` of what
    it holds."""
    if not isinstance(data, bytes):
        raise malformed("canonical JSON must be bytes")
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_float=_no_float,
            parse_constant=_no_constant,
            object_pairs_hook=_unique,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise malformed("not UTF-8 JSON") from None
    if canonical_json(value) != data:
        raise malformed("JSON is not in canonical (RFC 8785) form")
    return value
