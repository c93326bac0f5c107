"""One spelling per id: ids are normalised to Unicode NFC, and invisible characters are refused.

"café" typed on a Mac (NFD: e + combining accent) and on Windows (NFC: é) must be one item, and an id
carrying a zero-width joiner, a byte-order mark, a right-to-left override or a no-break space looks like
another id while being a different one. So ids are stored in NFC, and format characters (Unicode
category Cf), control characters (Cc) and every space but the plain one (Zs, Zl, Zp) are refused.
"""

from __future__ import annotations

import unicodedata

INVISIBLE_CATEGORIES = {"Cc": "control", "Cf": "invisible format", "Zl": "line separator",
                        "Zp": "paragraph separator", "Zs": "special space"}
PLAIN_SPACE = " "
ID_FIELDS = ("item_id", "user_id", "event_id", "session_id")


def normal_id(value):
    """An id in NFC; a whole number (not a boolean) as its decimal text, as catalog files read integer id
    columns; anything else is returned as it is (validation names it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def invisible_character(value: str) -> str | None:
    """A description of the first invisible or control character in `value` (None when there is none)."""
    for character in value:
        kind = INVISIBLE_CATEGORIES.get(unicodedata.category(character))
        if kind and character != PLAIN_SPACE:
            return f"U+{ord(character):04X} ({unicodedata.name(character, kind + ' character').lower()})"
    return None


def with_normal_ids(bodies):
    """A batch (list of JSON objects) with its id fields in NFC; anything else is returned as it is."""
    if not isinstance(bodies, list):
        return bodies
    return [{**body, **{f: normal_id(body[f]) for f in ID_FIELDS if f in body}} if isinstance(body, dict) else body
            for body in bodies]
