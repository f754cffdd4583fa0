"""Named numpy arrays laid out in one shared-memory block."""

from __future__ import annotations

import numpy as np


def make_layout(shapes: dict[str, tuple[tuple[int, ...], str]]) -> dict:
    """{'name': (shape, dtype)} -> layout with 64-byte aligned offsets and the total size."""
    offset, fields = 0, {}
    for name, (shape, dtype) in shapes.items():
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        fields[name] = (offset, tuple(shape), dtype)
        offset += (nbytes + 63) // 64 * 64
    return {"fields": fields, "size": max(offset, 64)}


def views(buffer, layout: dict) -> dict[str, np.ndarray]:
    return {name: np.ndarray(shape, dtype=dtype, buffer=buffer, offset=offset)
            for name, (offset, shape, dtype) in layout["fields"].items()}
