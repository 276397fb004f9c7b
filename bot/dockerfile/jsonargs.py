"""JSON (exec) form arguments, read the way BuildKit's `parseJSON` reads them (Go `encoding/json`)."""

from __future__ import annotations

import json

# Go's encoding/json refuses (as invalid) values nested deeper than this.
GO_MAX_DEPTH = 10000

# Go's unicode.IsSpace: what BuildKit's parser trims and splits on.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


class NotStringArrayError(ValueError):
    """A JSON array with a non-string element: BuildKit rejects the instruction."""


def _reject_constant(name: str) -> object:
    # Python accepts NaN and Infinity; Go's encoding/json does not, so the text is not JSON.
    raise ValueError(name)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # made once: one per call was costly


def json_string_list(text: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, or None when `text` is not a JSON array (shell form).

    Raises NotStringArrayError for a JSON array holding anything but strings, as BuildKit does
    ("when using JSON array syntax, arrays must be comprised of strings only").
    """
    text = text.lstrip(GO_SPACE)
    if not text.startswith("["):
        return None
    try:
        value = _DECODER.decode(text)
    except ValueError:
        return None
    except RecursionError:
        # Python's decoder gives up at about a thousand levels, Go's at GO_MAX_DEPTH. In between,
        # Go reads an array holding another array (when the rest is valid JSON): not strings only.
        if _nesting(text) > GO_MAX_DEPTH:
            return None
        raise NotStringArrayError(
            "when using JSON array syntax, arrays must be comprised of strings only"
        ) from None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise NotStringArrayError("when using JSON array syntax, arrays must be comprised of strings only")
    return tuple(value)


def _nesting(text: str) -> int:
    """The deepest nesting of `[`/`{` outside JSON strings (iteratively: no recursion limit)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest
