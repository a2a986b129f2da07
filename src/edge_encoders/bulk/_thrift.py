"""Just enough of Thrift's compact protocol to write Parquet metadata (structs, lists, ints, strings, bools).

Why hand-written: the Parquet footer and page headers are the only Thrift a writer needs, and a few dozen
lines here keep pyarrow (about 150 MB installed) out of the Lambda image.
"""

from __future__ import annotations

from dataclasses import dataclass

# compact protocol type ids
BOOL_TRUE = 1
BOOL_FALSE = 2
BYTE = 3
I32 = 5
I64 = 6
BINARY = 8
LIST = 9
STRUCT = 12


@dataclass(frozen=True)
class Field:
    """One struct field: its Thrift id, compact type and value (a Struct, a list, an int, str/bytes or bool)."""

    fid: int
    ftype: int
    value: object
    elem_type: int = 0  # for LIST fields: the element type


Struct = list[Field]


def varint(n: int) -> bytes:
    """Unsigned LEB128."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(n: int) -> bytes:
    return varint((n << 1) ^ (n >> 63))


def _value(ftype: int, value: object, elem_type: int = 0) -> bytes:
    if ftype in (I32, I64):
        assert isinstance(value, int)
        return zigzag(value)
    if ftype == BYTE:
        assert isinstance(value, int)
        return bytes([value & 0xFF])
    if ftype == BINARY:
        if isinstance(value, str):
            data = value.encode("utf-8")
        else:
            assert isinstance(value, (bytes, bytearray))
            data = bytes(value)
        return varint(len(data)) + data
    if ftype == STRUCT:
        assert isinstance(value, list)
        return encode_struct(value)
    if ftype == LIST:
        assert isinstance(value, list)
        size = len(value)
        head = bytes([(size << 4) | elem_type]) if size < 15 else bytes([0xF0 | elem_type]) + varint(size)
        return head + b"".join(_value(elem_type, item) for item in value)
    raise ValueError(f"unsupported thrift type {ftype}")


def encode_struct(fields: Struct) -> bytes:
    """A struct: field headers with id deltas, values, then the stop byte. Fields must be in id order."""
    out = bytearray()
    last = 0
    for field in fields:
        ftype = field.ftype
        if ftype in (BOOL_TRUE, BOOL_FALSE):  # booleans live in the field header
            ftype = BOOL_TRUE if field.value else BOOL_FALSE
        delta = field.fid - last
        if 0 < delta <= 15:
            out.append((delta << 4) | ftype)
        else:
            out.append(ftype)
            out += zigzag(field.fid)
        if ftype not in (BOOL_TRUE, BOOL_FALSE):
            out += _value(ftype, field.value, field.elem_type)
        last = field.fid
    out.append(0)
    return bytes(out)
