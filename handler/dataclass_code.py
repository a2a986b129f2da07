"""The methods `dataclasses` generates while the INIT imports, compiled once at the image's build instead of at
every cold start.

Why: `@dataclass` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__` (and `__setattr__` /
`__delattr__` when frozen) as source text and compiles it with `exec`. The INIT's imports define about a
hundred dataclasses (pydantic, FastAPI, annotated_types, anyio, ours): some 430 compilations, about 30 ms of
CPU in the image, a tenth of the imports, for the same text at every cold start.

How: the image's build runs the INIT's imports once (`python -m handler.dataclass_code <file>`) and keeps each
text `dataclasses` passed to `exec` with its code object, as `compile` makes it, marshalled in one file. At a
cold start `installed(file)` has `dataclasses` look its text up there and run the stored code (a miss is
compiled as before): the same functions, defaults, closures and names, since the code object is what `exec`
would have compiled from that text. Only the `dataclasses` module's own `exec` calls are served (a name in its
namespace ahead of the builtin), only while the imports run, and only from a file written by this interpreter
(its version and bytecode magic number are in the file); anything else leaves `dataclasses` as it is.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib.util
import marshal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType
from typing import Any

FILE = Path(__file__).with_name("dataclass_code.marshal")  # written by the image's build (Dockerfile.lambda)
FILENAME = "<string>"  # what exec names a text it compiles
STAMP = (sys.version, importlib.util.MAGIC_NUMBER)


def _compiled(source: str) -> CodeType:
    """The code object `exec(source, ...)` runs when called from `dataclasses` (no `__future__` flags there)."""
    return compile(source, FILENAME, "exec", dont_inherit=True)


def load(path: Path = FILE) -> dict[str, CodeType]:
    """The stored texts and their code, or nothing if the file is absent, unreadable or from another Python."""
    try:
        stored = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(stored, tuple) or len(stored) != 2 or tuple(stored[0]) != STAMP:
        return {}
    codes = stored[1]
    return codes if isinstance(codes, dict) else {}


@contextmanager
def installed(path: Path = FILE) -> Iterator[int]:
    """While the block runs, `dataclasses` runs the stored code for a text it knows; yields how many it knows.

    Without a usable file, or with `dataclasses` already served by someone, nothing changes."""
    if "exec" in vars(dataclasses):
        yield 0
        return
    codes = load(path)
    if not codes:
        yield 0
        return

    def exec_stored(source: Any, globals: Any = None, locals: Any = None, /) -> None:
        code = codes.get(source) if isinstance(source, str) else None
        builtins.exec(source if code is None else code, globals, locals)

    dataclasses.exec = exec_stored  # type: ignore[attr-defined]
    try:
        yield len(codes)
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]


@contextmanager
def recording(codes: dict[str, CodeType]) -> Iterator[None]:
    """While the block runs, each text `dataclasses` executes is compiled, kept in `codes` and run."""
    if "exec" in vars(dataclasses):
        raise RuntimeError("dataclasses' exec is already replaced")

    def exec_recorded(source: Any, globals: Any = None, locals: Any = None, /) -> None:
        if isinstance(source, str):
            codes[source] = code = codes.get(source) or _compiled(source)
            builtins.exec(code, globals, locals)
        else:
            builtins.exec(source, globals, locals)

    dataclasses.exec = exec_recorded  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]


def write(path: Path, module: str = "handler.lambda_main") -> int:
    """Import `module` (the INIT's imports) recording what `dataclasses` compiles; store it in `path`."""
    codes: dict[str, CodeType] = {}
    with recording(codes):
        __import__(module)
    path.write_bytes(marshal.dumps((STAMP, codes)))
    return len(codes)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else FILE
    count = write(path)
    print(f"{path}: the code of {count} methods dataclasses generates at INIT")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
