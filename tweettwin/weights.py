"""Cheap checks of ``*.safetensors`` files before torch/transformers read them.

A truncated or damaged weights file otherwise fails deep inside the loader with a multi-line
Rust error (or worse, a crash). The format is simple: 8 bytes little-endian header length,
a JSON header naming each tensor's byte range, then the data. Reading the header tells
whether the file is whole, without reading the weights.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from tweettwin.errors import ModelError

_MAX_HEADER = 100 * 1024**2  # the safetensors library's own limit


def check_safetensors(path: str | os.PathLike) -> None:
    """Raise a one-line ``ModelError`` when ``path`` is not a whole safetensors file."""
    path = Path(path)
    todo = "copy or download the model folder again (or retrain it)"
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ModelError(f"{path}: truncated ({size} bytes, not even a header); {todo}")
            (n,) = struct.unpack("<Q", head)
            if n > _MAX_HEADER or 8 + n > size:
                raise ModelError(f"{path}: damaged or truncated header; {todo}")
            header = json.loads(fh.read(n))
    except OSError as ex:
        raise ModelError(f"{path}: cannot be read ({ex.strerror}); {todo}") from None
    except (ValueError, RecursionError):
        raise ModelError(f"{path}: damaged header (not valid JSON); {todo}") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path}: damaged header; {todo}")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and isinstance(offsets[1], int)):
            raise ModelError(f"{path}: damaged header (tensor {name!r}); {todo}")
        end = max(end, offsets[1])
    needed = 8 + n + end
    if size < needed:
        raise ModelError(
            f"{path}: truncated ({size:,} of {needed:,} bytes; an interrupted copy or download?)"
            f"; {todo}"
        )


def check_folder_weights(folder: str | os.PathLike) -> None:
    for path in sorted(Path(folder).glob("*.safetensors")):
        check_safetensors(path)
