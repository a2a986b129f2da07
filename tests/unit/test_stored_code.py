"""handler.stored_code: the methods `dataclasses` generates and the forward references `typing` makes, compiled
once and stored, give the same classes and annotations when a later process takes the stored code instead of
compiling the same text; a text not stored is compiled as before; a file from another Python, an unreadable
file or none leaves both modules as they are.

Each side runs in a fresh interpreter: a class is generated once per process.
"""

from __future__ import annotations

import dataclasses
import json
import marshal
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from handler import stored_code

REPO = Path(__file__).resolve().parents[2]

CLASSES = """
import dataclasses
from dataclasses import dataclass, field

@dataclass(frozen=True)
class Point:
    x: int
    y: int = 2
    tags: tuple[str, ...] = ()

@dataclass(order=True)
class Box:
    items: list[int] = field(default_factory=lambda: [1, 2])
    name: str = "box"
    hidden: int = field(default=0, repr=False, compare=False)

@dataclass(slots=True, kw_only=True)
class Opt:
    level: int
    note: str | None = None

def behaviour():
    p, q = Point(1), Point(1, 2, ("a",))
    b, c = Box(), Box([3], "c", 9)
    o = Opt(level=3)
    try:
        p.x = 5
        frozen = "mutable"
    except dataclasses.FrozenInstanceError as exc:
        frozen = type(exc).__name__
    try:
        Opt(1)
        positional = "accepted"
    except TypeError as exc:
        positional = str(exc)
    return [repr(p), repr(q), p == Point(1, 2), hash(p) == hash(Point(1)), p == q, repr(b), repr(c), b < c,
            b == Box(hidden=4), repr(o), frozen, positional, Box().items is not Box().items]

import typing
REF = typing.ForwardRef("list[dict[str, int]] | None")

def code_of():
    return {cls.__name__ + "." + name: getattr(cls, name).__code__.co_code.hex()
            for cls in (Point, Box, Opt) for name in ("__init__", "__repr__", "__eq__") if name in vars(cls)}
"""

SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {folder!r})
from handler import stored_code
mode, path = sys.argv[1], Path(sys.argv[2])
if mode == "record":
    counts = stored_code.write(path, "probe_classes")
    import probe_classes
    print("OUT" + json.dumps(counts))
else:
    load, used = stored_code.load, []
    stored_code.load = lambda path: used.append(load(path)) or used[-1]
    with stored_code.installed(path) as known:
        import probe_classes
    import dataclasses
    stored = used[0]
    outer = [c for code in stored.get("exec", {{}}).values() for c in code.co_consts if hasattr(c, "co_consts")]
    consts = {{id(c) for code in outer for c in code.co_consts}}  # the methods' code
    # __repr__ is wrapped by dataclasses (recursion guard): its own code is not generated
    inner = {{id(getattr(cls, name).__code__) in consts for cls in (probe_classes.Point, probe_classes.Box)
             for name in ("__init__", "__eq__", "__setattr__") if name in vars(cls)}}
    import typing
    ref = probe_classes.REF
    refs = {{"stored": stored.get("eval", {{}}).get(ref.__forward_arg__) is ref.__forward_code__,
            "value": repr(typing._eval_type(ref, {{}}, {{}}))}}
    left = ["exec" in vars(dataclasses), "compile" in vars(typing)]
    print("OUT" + json.dumps({{"known": known, "from_store": sorted(inner), "left": left, "refs": refs,
                              "behaviour": probe_classes.behaviour(), "code": probe_classes.code_of()}}))
"""


def _run(tmp_path: Path, mode: str, store: Path) -> dict[str, Any]:
    (tmp_path / "probe_classes.py").write_text(CLASSES)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(folder=str(tmp_path)), mode, str(store)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.split("OUT", 1)[1])
    return result


def test_stored_code_gives_the_same_classes(tmp_path: Path) -> None:
    store = tmp_path / "code.marshal"
    recorded = _run(tmp_path, "record", store)
    assert recorded["exec"] >= 8  # three classes: __init__, __repr__, __eq__, ordering, frozen setters, ...
    assert recorded["eval"] >= 1  # the forward reference
    served = _run(tmp_path, "use", store)
    plain = _run(tmp_path, "use", tmp_path / "absent.marshal")
    assert served["known"] == recorded["exec"] + recorded["eval"] and plain["known"] == 0
    assert served["from_store"] == [True] and plain["from_store"] == [False]  # the methods' code came from the file
    assert served["refs"] == {**plain["refs"], "stored": True} and plain["refs"]["stored"] is False
    assert served["left"] == plain["left"] == [False, False]  # both modules as they were after the block
    assert served["behaviour"] == plain["behaviour"]
    assert served["behaviour"][10] == "FrozenInstanceError"
    assert served["code"] == plain["code"]


def test_a_file_from_another_python_or_unreadable_is_ignored(tmp_path: Path) -> None:
    stored = {"exec": {"x = 1\n": compile("x = 1\n", "<string>", "exec")}}
    other = tmp_path / "other.marshal"
    other.write_bytes(marshal.dumps((("2.7.18", b"\x03\xf3\r\n"), stored)))
    broken = tmp_path / "broken.marshal"
    broken.write_bytes(b"not marshal data")
    current = tmp_path / "current.marshal"
    current.write_bytes(marshal.dumps((stored_code.STAMP, stored)))
    assert stored_code.load(other) == stored_code.load(broken) == stored_code.load(tmp_path / "none") == {}
    assert list(stored_code.load(current)["exec"]) == ["x = 1\n"]
    with stored_code.installed(other) as known:
        assert known == 0 and "exec" not in vars(dataclasses) and "compile" not in vars(typing)


def test_a_text_not_stored_is_compiled_as_before(tmp_path: Path) -> None:
    store = tmp_path / "one.marshal"
    store.write_bytes(marshal.dumps((stored_code.STAMP, {"exec": {"y = 2\n": compile("y = 2\n", "<string>", "exec")}})))
    with stored_code.installed(store) as known:
        assert known == 1 and "exec" in vars(dataclasses) and "compile" in vars(typing)

        @dataclasses.dataclass
        class Fresh:  # a text the store does not hold
            a: int
            b: str = "b"

        ref = typing.ForwardRef("dict[str, int]")
        with pytest.raises(SyntaxError):
            typing.ForwardRef("not python (")

    assert "exec" not in vars(dataclasses) and "compile" not in vars(typing)
    assert repr(Fresh(1)) == "test_a_text_not_stored_is_compiled_as_before.<locals>.Fresh(a=1, b='b')"
    assert Fresh(1) == Fresh(1, "b")

    @dataclasses.dataclass
    class Plain:
        a: int
        b: str = "b"

    # compiled without this module's `from __future__ import annotations`, as dataclasses compiles it (with it,
    # the annotations would be the names dataclasses gives the types, as strings)
    assert Fresh.__init__.__annotations__ == Plain.__init__.__annotations__ == {"a": "int", "b": "str", "return": None}
    assert typing._eval_type(ref, {}, {}) == dict[str, int]  # type: ignore[attr-defined]


def test_hooks_do_not_stack(tmp_path: Path) -> None:
    with stored_code.recording({}), pytest.raises(RuntimeError), stored_code.recording({}):
        pass
    with stored_code.recording({}), stored_code.installed(tmp_path / "any") as known:
        assert known == 0  # already served: left as it is
