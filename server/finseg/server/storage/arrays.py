"""numpy arrays and Arrow batches as LMDB values, read without copying."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..errors import FailedPrecondition, Reason


def required(value: memoryview | bytes | None, what: str) -> memoryview | bytes:
    """An LMDB value the store's own records say exists."""
    if value is None:
        raise FailedPrecondition(f"the store is inconsistent: {what} is missing",
                                 reason=Reason.STORE_INCONSISTENT)
    return value


def to_value(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array).tobytes()


def from_value(buffer: memoryview | bytes, dtype: np.dtype | type) -> np.ndarray:
    """A read-only array over an LMDB value.

    Large values sit on LMDB overflow pages, which are page-aligned, so the
    array is a zero-copy view into the memory map that lives as long as the
    read transaction. A small value stored inline in a leaf page may be
    misaligned for its dtype; that one is copied so kernels get aligned data.
    """
    array = np.frombuffer(buffer, dtype=dtype)
    if array.ctypes.data % array.dtype.alignment:
        array = array.copy()
        array.setflags(write=False)
    return array


def batch_to_value(batch: pa.RecordBatch) -> pa.Buffer:
    """The batch as one Arrow IPC stream. LMDB copies from the Arrow buffer
    directly (it takes any buffer), saving a copy into a bytes object."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def batch_from_value(buffer: memoryview | bytes) -> pa.RecordBatch:
    """An Arrow batch over an LMDB value (zero-copy while the txn lives)."""
    reader = pa.ipc.open_stream(pa.py_buffer(buffer))
    return reader.read_next_batch()
