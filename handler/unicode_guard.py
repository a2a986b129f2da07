"""Find lone surrogates anywhere in a JSON body and name where they are, before any route sees the body.

Why here and not per route: JSON can carry a lone surrogate as a ``\\ud800`` escape in any string, every route
and dialect has its own field names (inputs, texts, documents, input, query, prompt, ...), and tokenizers raise
TypeError on one. The same holds for a surrogate's raw (invalid UTF-8) bytes, which `json.loads` lets through.
A body without either (nearly all of them) costs one bytes search; only a body that
has one is parsed here, to name the field and index in the 400.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# a surrogate encoded as if it were a character (CESU-8 style): invalid UTF-8, yet json.loads(bytes) decodes it
# with 'surrogatepass', so it reaches the routes as a lone surrogate just like the escape does
_RAW = re.compile(rb"\xed[\xa0-\xbf][\x80-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def find_lone_surrogate(body: bytes) -> tuple[str, int] | None:
    """(JSON path such as ``inputs[3]`` or ``documents[0].text``, character index) of the first lone surrogate."""
    if not _ESCAPE.search(body) and not _RAW.search(body):
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON (or absurdly nested): the request's own validation answers
    return _walk(data)


def _walk(data: Any) -> tuple[str, int] | None:
    """Iterative (a deeply nested body must not overflow the stack), in document order."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            found = _SURROGATE.search(value)
            if found is not None:
                return path or "body", found.start()
        elif isinstance(value, dict):
            children = []
            for key, item in value.items():
                key_hit = _SURROGATE.search(key)
                if key_hit is not None:
                    return f"{path}.<key>" if path else "<key>", key_hit.start()
                children.append((f"{path}.{key}" if path else key, item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{i}]", item) for i, item in enumerate(value)]))
    return None


def lone_surrogate_message(path: str, position: int) -> str:
    return (
        f"{path} is not valid Unicode: a lone surrogate at character {position}; send UTF-8 text (an emoji as "
        "the character itself or as a surrogate pair)"
    )
