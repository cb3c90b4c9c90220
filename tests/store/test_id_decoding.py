"""36-character id strings decode exactly as ``uuid.UUID`` does, whichever fast path is taken."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest

from orcatui.store.normalize import uuid_strings_to_bytes


def reference(values: list[str]) -> list[bytes]:
    out = []
    for v in values:
        try:
            out.append(uuid.UUID(v).bytes)
        except ValueError:
            out.append(v.encode("utf-8", "replace"))
    return out


# Each is 36 bytes of UTF-8 (so the bulk path is tried) but not plain hyphenated hex.
ODD_36 = [
    " 2345678-1234-1234-1234-1234567890ab",  # whitespace: bytes.fromhex would skip it
    "12345678-1234-1234-1234-1234567890 b",
    "1_345678-1234-1234-1234-1234567890ab",  # int(..., 16) accepts underscores
    "12345678-1234-1234-1234-1234567890-b",  # a fifth hyphen
    "12345678+1234-1234-1234-1234567890ab",  # a hyphen missing
    "12345678-1234-1234-1234-1234567890é",  # non-ASCII (36 bytes, 35 characters)
    "ABCDEF01-ABCD-ABCD-ABCD-ABCDEF012345",  # upper case is valid
]


@pytest.mark.parametrize("odd", ODD_36)
@pytest.mark.parametrize("where", [0, 500, 999])
def test_one_odd_value_among_many_valid_ones(odd, where):
    values = [str(uuid.uuid4()) for _ in range(1000)]
    values[where] = odd
    assert all(len(v.encode()) == 36 for v in values)
    assert uuid_strings_to_bytes(pa.array(values)).to_pylist() == reference(values)


def test_many_blocks_and_a_slice():
    values = [str(uuid.uuid4()) for _ in range(70_000)]  # more than one block of the bulk path
    arr = pa.array(values)
    assert uuid_strings_to_bytes(arr).to_pylist() == reference(values)
    assert uuid_strings_to_bytes(arr.slice(3, 66_000)).to_pylist() == reference(values[3:66_003])
    values[69_000] = values[69_000].replace("-", "+", 1)  # odd only in the second block
    assert uuid_strings_to_bytes(pa.array(values)).to_pylist() == reference(values)
