"""Code the INIT's imports compile from text, compiled once at the image's build and stored, instead of at every
cold start: the methods `dataclasses` generates and the forward references `typing` makes.

Why: `@dataclass` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__` (and `__setattr__` /
`__delattr__` when frozen) as source text and runs it with `exec`: the INIT's imports define about a hundred
dataclasses (pydantic, FastAPI, annotated_types, anyio, ours), some 390 texts, about 30 ms of CPU in the
image. `typing.ForwardRef` compiles each string annotation it is given (pydantic_core's schema types, our
models' fields under `from __future__ import annotations`): about 900 small compilations, several ms more. The
texts are the same at every cold start.

How: the image's build runs the INIT's imports once (`python -m handler.stored_code`) and keeps each text those
two modules compile with its code object, exactly as they would compile it (no `__future__` flags: neither
module has any), marshalled in one file. At a cold start `installed()` has them take the stored code for a text
it holds (anything else is compiled as before): the same code object, so the same functions, defaults,
closures, names and annotations. Only their own calls are served (a name in the module's namespace ahead of the
builtin), only while the imports run, and only from a file written by this interpreter (its version and
bytecode magic number are in the file); otherwise both modules are left as they are.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib.util
import marshal
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

FILE = Path(__file__).with_name("stored_code.marshal")  # written by the image's build (Dockerfile.lambda)
FILENAME = "<string>"  # the name both modules give their texts
STAMP = (sys.version, importlib.util.MAGIC_NUMBER)
Codes = dict[str, CodeType]


def _compiled(source: str, mode: str) -> CodeType:
    """What `exec(source)` in dataclasses or `compile(source, "<string>", "eval")` in typing makes of a text:
    neither module has a `__future__` import, so none is inherited (this one's would be, without dont_inherit)."""
    return compile(source, FILENAME, mode, dont_inherit=True)


def _exec_from(codes: Codes, record: bool) -> Callable[..., None]:
    """An `exec` for dataclasses: a text's stored code (or, recording, its code compiled and kept)."""

    def exec_stored(source: Any, globals: Any = None, locals: Any = None, /) -> None:
        if isinstance(source, str):
            code = codes.get(source) or _compiled(source, "exec")
            if record:
                codes[source] = code
            source = code
        builtins.exec(source, globals, locals)

    return exec_stored


def _compile_from(codes: Codes, record: bool) -> Callable[..., Any]:
    """A `compile` for typing: a forward reference's stored code (or, recording, compiled and kept)."""

    def compile_stored(source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or mode != "eval" or filename != FILENAME or not isinstance(source, str):
            return builtins.compile(source, filename, mode, *args, **kwargs)  # not the call typing makes
        code = codes.get(source) or _compiled(source, "eval")
        if record:
            codes[source] = code
        return code

    return compile_stored


# (module, the builtin it calls, the mode of its texts, the replacement's maker)
HOOKS: tuple[tuple[ModuleType, str, str, Callable[[Codes, bool], Callable[..., Any]]], ...] = (
    (dataclasses, "exec", "exec", _exec_from),
    (typing, "compile", "eval", _compile_from),
)


def load(path: Path = FILE) -> dict[str, Codes]:
    """The stored code per mode ("exec", "eval"), or nothing if the file is absent, unreadable or was written by
    another Python."""
    try:
        stored = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(stored, tuple) or len(stored) != 2 or tuple(stored[0]) != STAMP:
        return {}
    if not isinstance(stored[1], dict):
        return {}
    return {mode: codes for mode, codes in stored[1].items() if isinstance(codes, dict)}


@contextmanager
def _hooked(stored: dict[str, Codes], record: bool) -> Iterator[None]:
    taken = [module.__name__ for module, name, _, _ in HOOKS if name in vars(module)]
    if taken:
        raise RuntimeError(f"already replaced in {', '.join(taken)}")
    for module, name, mode, make in HOOKS:
        setattr(module, name, make(stored.setdefault(mode, {}), record))
    try:
        yield
    finally:
        for module, name, _, _ in HOOKS:
            delattr(module, name)


@contextmanager
def installed(path: Path = FILE) -> Iterator[int]:
    """While the block runs, dataclasses and typing take the stored code for a text the file holds; yields how
    many texts it holds. Without a usable file, or with either module already served, nothing changes."""
    stored = {} if any(name in vars(module) for module, name, _, _ in HOOKS) else load(path)
    count = sum(len(codes) for codes in stored.values())
    if not count:
        yield 0
        return
    with _hooked(stored, record=False):
        yield count


@contextmanager
def recording(stored: dict[str, Codes]) -> Iterator[None]:
    """While the block runs, each text dataclasses and typing compile is kept in `stored` (per mode)."""
    with _hooked(stored, record=True):
        yield


def write(path: Path, module: str = "handler.lambda_main") -> dict[str, int]:
    """Import `module` (the INIT's imports) recording what the two modules compile; store it in `path`."""
    stored: dict[str, Codes] = {}
    with recording(stored):
        __import__(module)
    path.write_bytes(marshal.dumps((STAMP, stored)))
    return {mode: len(codes) for mode, codes in stored.items()}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else FILE
    counts = write(path)
    print(f"{path}: {counts['exec']} dataclass method texts, {counts['eval']} forward references")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
