"""Protobuf wire format for the tests, without the protobuf package: enough to read a message (and
a FileDescriptorSet, which is one) by field number. Used by test_view.py and test_record.py."""


def fields(buf: bytes) -> dict[int, list]:
    """Protobuf wire format -> {field number: [values]} (varints as int, length-delimited as bytes,
    fixed32/64 as raw bytes)."""
    out: dict[int, list] = {}
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = varint(buf, pos)
        elif wire == 2:
            n, pos = varint(buf, pos)
            val, pos = bytes(buf[pos : pos + n]), pos + n
        elif wire == 5:
            val, pos = bytes(buf[pos : pos + 4]), pos + 4
        elif wire == 1:
            val, pos = bytes(buf[pos : pos + 8]), pos + 8
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(num, []).append(val)
    return out


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it."""
    shift = val = 0
    while True:
        b = buf[pos]
        pos += 1
        val |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return val, pos
