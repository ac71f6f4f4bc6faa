"""Read a PyTorch checkpoint of the legacy format (``torch.save`` before 1.6) into NumPy arrays, without torch.

The legacy file is five pickles and raw bytes: a magic number, the protocol version, system info, the state
dict (tensors as ``torch._utils._rebuild_tensor_v2`` calls over storages named by persistent ids), the list of
storage keys in the order they follow, then each storage as an int64 element count and its little-endian bytes.
Only plain tensors and ``OrderedDict`` are rebuilt; any other class in the file is refused (no code runs).
"""

from __future__ import annotations

import collections
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                  "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                  "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class CheckpointError(ValueError):
    """The file is not a legacy PyTorch checkpoint of plain tensors."""


class _TensorRef:
    """A tensor that still points at its storage: (storage key, offset, shape, strides)."""

    def __init__(self, storage: tuple[str, str], offset: int, shape: tuple[int, ...], strides: tuple[int, ...]):
        self.storage, self.offset, self.shape, self.strides = storage, offset, tuple(shape), tuple(strides)


def _rebuild_tensor(storage, offset, shape, strides, *_ignored) -> _TensorRef:
    return _TensorRef(storage, offset, shape, strides)


class _StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" and name in STORAGE_DTYPES:
            return name
        raise CheckpointError(f"unexpected object in the checkpoint: {module}.{name}")

    def persistent_load(self, pid: Any) -> tuple[str, str]:
        # ('storage', storage type, key, location, size[, view metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        return pid[1], pid[2]


def _read_storages(handle: BinaryIO, keys: list[str], types: dict[str, str]) -> dict[str, np.ndarray]:
    storages = {}
    for key in keys:
        count = int(np.frombuffer(handle.read(8), "<i8")[0])
        dtype = np.dtype(STORAGE_DTYPES[types[key]]).newbyteorder("<")
        data = handle.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise CheckpointError(f"storage {key} is truncated")
        storages[key] = np.frombuffer(data, dtype)
    return storages


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a legacy PyTorch checkpoint by name, as NumPy arrays (copies, in PyTorch's layout)."""
    with Path(path).open("rb") as handle:
        try:
            magic = pickle.load(handle)
        except Exception as error:
            raise CheckpointError(f"{path} is not a PyTorch checkpoint ({error})") from None
        if magic != LEGACY_MAGIC:
            raise CheckpointError(f"{path} is not a legacy PyTorch checkpoint (a zip one needs torch)")
        pickle.load(handle)  # protocol version
        pickle.load(handle)  # system info
        state = _StateDictUnpickler(handle).load()
        keys = pickle.load(handle)
        refs = {name: ref for name, ref in state.items() if isinstance(ref, _TensorRef)}
        types = {ref.storage[1]: ref.storage[0] for ref in refs.values()}
        storages = _read_storages(handle, keys, types)
    tensors = {}
    for name, ref in refs.items():
        flat = storages[ref.storage[1]]
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(flat[ref.offset:], ref.shape,
                                               tuple(s * itemsize for s in ref.strides))
        tensors[name] = np.array(view)
    return tensors
