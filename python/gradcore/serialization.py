"""``gradcore.save`` / ``gradcore.load``: checkpoints as safetensors files that never execute code.

The file is standard safetensors, written and parsed by the ``safetensors`` package
(``safetensors.serialize_file``, or ``serialize`` for a file object, and ``safetensors.deserialize``,
which handle every dtype, BF16 and F16 included)::

    8 bytes    N, the header's length, unsigned little-endian
    N bytes    JSON: {"<tensor name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
                      "__metadata__": {"format": "gradcore", "gradcore.version": "1",
                                       "gradcore.structure": "<JSON of the saved object>"}}
    data       every tensor's bytes, little-endian, C order

gradcore adds what lies around the format: the structure of the saved object in the metadata, the
atomic write of a path, and errors that name the file and the problem.

The structure is the saved object with each tensor replaced by a reference to its name. Plain JSON
values stand for themselves (None, bools, ints, finite floats, strings, lists); everything else is
a one-key object: ``{"dict": [[key, value], ...]}`` (keys of any of these types, order kept),
``{"odict": ...}`` (an OrderedDict), ``{"tuple": [...]}``, ``{"float": "nan" | "inf" | "-inf"}``,
``{"tensor": name}`` (plus ``"device"`` when it was not on the CPU), ``{"ndarray": name}``,
``{"dtype": "float32"}``, ``{"device": "cuda:0"}``. Loading only parses JSON and copies bytes:
there is no pickle anywhere, so a checkpoint cannot run code.

The ``safetensors`` parser checks every size and offset in the header against the file before it
copies anything, so a truncated or corrupt file raises ``CheckpointError`` (a ``RuntimeError``)
naming the file and the problem. ``safetensors`` is imported by ``save`` and ``load`` only, not by
``import gradcore``.
"""
import collections
import json
import math
import os
import re
import secrets
import struct

import numpy as np

from . import _C
from ._C import Tensor

_FORMAT_VERSION = "1"
_MAX_HEADER = 100_000_000  # the safetensors package's own limit

# safetensors dtype name <-> NumPy dtype (little-endian)
_ST_TO_NP = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "I16": "<i2", "U16": "<u2", "I32": "<i4", "U32": "<u4",
             "I64": "<i8", "U64": "<u8", "F16": "<f2", "BF16": "<u2", "F32": "<f4", "F64": "<f8"}
_NP_TO_ST = {(np.dtype(v).kind, np.dtype(v).itemsize): k for k, v in _ST_TO_NP.items() if k != "BF16"}
# the names safetensors.serialize takes for them
_ST_SERIALIZE_NAME = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "I32": "int32",
                      "U32": "uint32", "I64": "int64", "U64": "uint64", "F16": "float16", "BF16": "bfloat16",
                      "F32": "float32", "F64": "float64"}
_GC_DTYPES = {"float32": _C.dtype.float32, "float64": _C.dtype.float64, "int64": _C.dtype.int64,
              "bool": _C.dtype.bool, "bfloat16": _C.dtype.bfloat16, "float16": _C.dtype.float16,
              "int32": _C.dtype.int32, "int16": _C.dtype.int16, "int8": _C.dtype.int8, "uint8": _C.dtype.uint8}
# NumPy has no bfloat16: its bits travel as uint16 tagged with this dtype's metadata.
_BF16_BITS = np.dtype("<u2", metadata={"safetensors": "BF16"})


def _safetensors(who):
    """The ``safetensors`` package, imported on first use so that ``import gradcore`` does not need it."""
    try:
        import safetensors
    except ImportError as e:
        raise ImportError(f"gradcore.{who} needs the safetensors package, which reads and writes the checkpoint "
                          "format. Hint: pip install safetensors") from e
    return safetensors


class _Refs:
    """The tensors and arrays met while encoding, deduplicated: the same tensor (or two views of the
    same memory with the same shape, strides and dtype) is stored once and loads as one object."""

    def __init__(self):
        self.arrays = {}  # name -> contiguous little-endian ndarray, in file order
        self._by_key = {}

    def add(self, key, path, make_array):
        name = self._by_key.get(key)
        if name is None:
            base = ".".join(str(p) for p in path) or "_"
            name, n = base, 1
            while name in self.arrays or name == "__metadata__":
                name, n = f"{base}#{n}", n + 1
            self.arrays[name] = make_array()
            self._by_key[key] = name
        return name


def _tensor_array(t):
    a = t.detach()
    if a.device.type != "cpu":
        a = a.cpu()
    if a.dtype == _C.dtype.bfloat16:  # the high half of each value's float32 bits, exactly
        bits = np.asarray(a.float().contiguous().numpy().view(np.uint32) >> 16).astype("<u2")  # 0-d stays an array
        return bits.view(_BF16_BITS)
    return _le_array(a.contiguous().numpy())


def _c_order(a):
    return a if a.flags.c_contiguous else a.copy(order="C")  # np.ascontiguousarray would make 0-d arrays 1-d


def _le_array(a):
    a = _c_order(a)
    if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and np.little_endian is False):
        a = a.astype(a.dtype.newbyteorder("<"))
    return a


def _path_str(path):
    return "obj" + "".join(f"[{p!r}]" for p in path)


def _encode(x, path, refs, active):
    """The JSON form of ``x`` (see the module docstring)."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return float(x) if math.isfinite(x) else {"float": "nan" if x != x else ("inf" if x > 0 else "-inf")}
    if isinstance(x, Tensor):
        key = ("t", x.data_ptr(), tuple(x.shape), tuple(x.stride()), str(x.dtype), str(x.device))
        out = {"tensor": refs.add(key if x.numel() else ("t", id(x)), path, lambda: _tensor_array(x))}
        if x.device.type != "cpu":
            out["device"] = str(x.device)
        return out
    if isinstance(x, np.ndarray):
        if (x.dtype.kind, x.dtype.itemsize) not in _NP_TO_ST:
            raise TypeError(f"gradcore.save: cannot save a NumPy array of dtype {x.dtype} at {_path_str(path)}; "
                            "supported: bool, int8/16/32/64, uint8/16/32/64, float16/32/64")
        return {"ndarray": refs.add(("a", id(x)), path, lambda: _le_array(x))}
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return _encode(x.item(), path, refs, active)
    if isinstance(x, _C.dtype):
        return {"dtype": str(x).split(".")[-1]}
    if isinstance(x, _C.device):
        return {"device": str(x)}
    if isinstance(x, (dict, list, tuple)):
        if id(x) in active:
            raise ValueError(f"gradcore.save: {_path_str(path)} contains itself; cyclic structures cannot be saved")
        active.add(id(x))
        try:
            if isinstance(x, dict):
                items = [[_encode_key(k, path), _encode(v, path + [k], refs, active)] for k, v in x.items()]
                return {"odict" if isinstance(x, collections.OrderedDict) else "dict": items}
            items = [_encode(v, path + [i], refs, active) for i, v in enumerate(x)]
            return items if isinstance(x, list) else {"tuple": items}
        finally:
            active.discard(id(x))
    raise TypeError(f"gradcore.save: cannot save an object of type {type(x).__name__} at {_path_str(path)}. "
                    "Supported: tensors, NumPy arrays, dicts, lists, tuples, str, int, float, bool, None, "
                    "dtypes and devices. Hint: save its state (e.g. module.state_dict()) instead of the object")


def _encode_key(k, path):
    if k is None or isinstance(k, (bool, str, int, float)):
        return _encode(k, path, None, set())
    if isinstance(k, tuple):
        return {"tuple": [_encode_key(v, path) for v in k]}
    raise TypeError(f"gradcore.save: cannot save a dict key of type {type(k).__name__} in {_path_str(path)}; "
                    "keys must be str, int, float, bool, None or tuples of those")


def _tensor_specs(st, arrays):
    """What ``safetensors.serialize``/``serialize_file`` take for each array."""
    specs = {}
    for name, a in arrays.items():
        dtype = (a.dtype.metadata or {}).get("safetensors") or _NP_TO_ST[(a.dtype.kind, a.dtype.itemsize)]
        dtype = _ST_SERIALIZE_NAME[dtype]
        if hasattr(st, "TensorSpec"):  # newer safetensors reads the bytes in place; ``arrays`` keeps them alive
            specs[name] = st.TensorSpec(dtype=dtype, shape=list(a.shape), data_ptr=a.ctypes.data, data_len=a.nbytes)
        else:
            specs[name] = {"dtype": dtype, "shape": list(a.shape), "data": a.tobytes()}
    return specs


def _serializer_error(e):
    return RuntimeError(f"gradcore.save: safetensors could not serialize the checkpoint ({e})")


def _write_file(st, specs, metadata, path):
    """Writes the file at ``path`` with ``safetensors.serialize_file``, which streams the tensors'
    bytes (``serialize`` would hold the whole file in memory, twice)."""
    try:
        st.serialize_file(specs, path, metadata=metadata)
    except st.SafetensorError as e:
        raise _serializer_error(e) from None


def _check_header_length(n):
    if n > _MAX_HEADER:
        raise ValueError(f"gradcore.save: the non-tensor part of the object takes {n} bytes of JSON, more than a "
                         f"safetensors header may hold ({_MAX_HEADER}). Hint: store long lists of numbers as tensors")


def save(obj, f):
    """Saves ``obj`` (a state dict, or any nesting of dicts, lists and tuples of tensors, NumPy arrays,
    numbers, strings, bools and None) to ``f``, a path or a writable binary file.

    A path is written atomically: the file is written under a temporary name in the same folder,
    flushed and fsync'ed, then renamed over ``f`` (and the folder fsync'ed), so a crash at any point
    leaves either the old file or the new one, never a mix. Tensors are saved detached and
    contiguous (``requires_grad`` is not kept, as in a PyTorch state dict); a tensor that occurs twice
    is stored once and loads as one shared tensor. The file is standard safetensors, written by the
    ``safetensors`` package (``pip install safetensors``), in every dtype (bfloat16 and float16 too).
    """
    refs = _Refs()
    structure = json.dumps(_encode(obj, [], refs, set()), separators=(",", ":"), allow_nan=False)
    if not isinstance(f, (str, bytes, os.PathLike)) and not hasattr(f, "write"):
        raise TypeError(f"gradcore.save: expected a path or a binary file object, got {type(f).__name__}")
    st = _safetensors("save")
    specs = _tensor_specs(st, refs.arrays)  # refs.arrays stays alive until the file is written
    metadata = {"format": "gradcore", "gradcore.version": _FORMAT_VERSION, "gradcore.structure": structure}
    if not isinstance(f, (str, bytes, os.PathLike)):
        try:
            data = st.serialize(specs, metadata=metadata)
        except st.SafetensorError as e:
            raise _serializer_error(e) from None
        _check_header_length(struct.unpack_from("<Q", data)[0])
        f.write(data)
        return
    path = os.fspath(f)
    path = path.decode() if isinstance(path, bytes) else path
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise RuntimeError(f"gradcore.save: parent directory {folder} does not exist. Hint: os.makedirs it first")
    tmp = None
    for _ in range(100):
        candidate = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        tmp = candidate
        break
    if tmp is None:
        raise RuntimeError(f"gradcore.save: could not create a temporary file in {folder}")
    try:
        # an overwrite keeps the old file's permissions; a new file gets what the umask gives
        mode = os.stat(path).st_mode if os.path.isfile(path) else os.fstat(fd).st_mode
        os.close(fd)
        _write_file(st, specs, metadata, tmp)  # safetensors writes the file by its name (some releases replace it)
        os.chmod(tmp, mode & 0o7777)
        with open(tmp, "rb+") as fh:
            _check_header_length(struct.unpack("<Q", fh.read(8))[0])
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _fsync_dir(folder):
    """Makes the rename itself durable. The new file is already complete and in place, so a folder
    that cannot be fsync'ed (Windows, some network file systems) is not an error."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- loading ----

def load(f, map_location=None, *, weights_only=True):
    """Loads an object saved by ``gradcore.save`` from ``f`` (a path or a readable binary file).

    Tensors come back on the device they were saved from, unless ``map_location`` says otherwise:
    a device or its string (every tensor goes there), a dict mapping saved locations to new ones
    (``{'cuda:0': 'cpu'}``), or a callable ``fn(tensor, saved_location)`` returning the tensor to use
    (None keeps the default). A safetensors file without gradcore's structure (e.g. one written by
    ``safetensors.torch.save_file``) loads as a dict of its tensors; float16 and bfloat16 keep their
    dtypes, narrow integer tensors become int64. The file is parsed by the ``safetensors`` package.

    ``weights_only`` is accepted for PyTorch compatibility: loading never unpickles, whatever its
    value, so a pickle file (e.g. from ``torch.save``) is refused with a RuntimeError.
    """
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fspath(f)
        name = path.decode() if isinstance(path, bytes) else path

        def read():
            with open(name, "rb") as fh:
                return fh.read()
    else:
        if not hasattr(f, "read"):
            raise TypeError(f"gradcore.load: expected a path or a binary file object, got {type(f).__name__}")
        name, read = str(getattr(f, "name", "<file object>")), f.read
    return _load(_safetensors("load"), read, name, map_location)


class CheckpointError(RuntimeError):
    """A file that is not a valid gradcore/safetensors checkpoint."""


def _load(st, read, name, map_location):
    def fail(problem):
        return CheckpointError(f"gradcore.load: {name}: {problem}")

    data = read()  # the whole file: safetensors.deserialize parses bytes; freed once the tensors are copied out
    if type(data) is not bytes:
        data = bytes(data)
    size = len(data)
    if size < 8:
        raise fail(f"the file is {size} bytes long, too short for a safetensors header (empty or truncated)")
    n = struct.unpack_from("<Q", data)[0]
    if n > size - 8 or data[8:9] != b"{":  # not safetensors at all: say what it is instead
        raise fail(_not_a_checkpoint(data[:16], n, size))
    try:
        entries = st.deserialize(data)
    except BaseException as e:  # SafetensorError, or a panic in its Rust code (a BaseException)
        if not (isinstance(e, st.SafetensorError) or type(e).__name__ == "PanicException"):
            raise  # KeyboardInterrupt, MemoryError and the like
        raise fail(_explain_safetensors_error(e, size - 8 - n)) from None
    # safetensors has validated the header (JSON, __metadata__ of strings); it does not return the
    # metadata, so it is read here, with the tensors' order in the header.
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
        order = {k: i for i, k in enumerate(header)}
    except (ValueError, TypeError, RecursionError) as e:  # not expected once safetensors accepted it
        raise fail(f"the header is not valid JSON ({e})") from None
    meta = header.get("__metadata__")
    del data, header
    arrays = {}
    for tname, info in sorted(entries, key=lambda e: order.get(e[0], len(order))):
        st_dtype, shape, raw = info["dtype"], tuple(info["shape"]), info["data"]
        if st_dtype not in _ST_TO_NP:
            raise fail(f"tensor '{tname}': unsupported dtype {st_dtype!r} (readable: {', '.join(_ST_TO_NP)})")
        if len(raw) != math.prod(shape) * np.dtype(_ST_TO_NP[st_dtype]).itemsize:  # safetensors checks it too
            raise fail(f"tensor '{tname}': shape {list(shape)} of {st_dtype} does not match its {len(raw)} bytes")
        if not isinstance(raw, bytearray):  # the tensor will share this memory, which must be writable
            raw = bytearray(raw)
        arrays[tname] = (st_dtype, np.frombuffer(raw, dtype=np.uint8), shape)
    del entries
    structure = meta.get("gradcore.structure") if isinstance(meta, dict) else None
    if structure is None:
        return {tname: _make_tensor(arrays, tname, "cpu", map_location, fail) for tname in arrays}
    version = meta.get("gradcore.version", _FORMAT_VERSION)
    if version != _FORMAT_VERSION:
        raise fail(f"written in gradcore checkpoint format {version!r}; this gradcore reads format "
                   f"{_FORMAT_VERSION!r}. Hint: upgrade gradcore")
    try:
        return _decode(json.loads(structure), _Decoder(arrays, map_location, fail))
    except CheckpointError:
        raise
    except RecursionError:
        raise fail("the structure is nested too deeply") from None
    except (ValueError, TypeError, KeyError) as e:
        raise fail(f"the structure in the metadata is corrupt ({e})") from None


def _not_a_checkpoint(head, n, size):
    if head[:4] == b"PK\x03\x04":
        kind = ": it is a zip archive, e.g. written by torch.save, which holds pickled objects"
    elif head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        kind = ": it is a pickle file (e.g. written by torch.save or pickle.dump)"
    elif head[:6] == b"\x93NUMPY":
        kind = ": it is a NumPy .npy file"
    elif n > size - 8:
        kind = f" (the header length field says {n} bytes but only {size - 8} follow: truncated or another format)"
    else:
        kind = " (the header is not a JSON object)"
    return (f"not a gradcore/safetensors checkpoint{kind}. gradcore.load never unpickles, because unpickling "
            "can run arbitrary code. Hint: re-save with gradcore.save, or convert a PyTorch checkpoint with "
            "safetensors.torch.save_file")


# What each safetensors error means: its message in recent releases, its variant name in older ones.
_SAFETENSORS_ERRORS = [
    (r"header too small|\bHeaderTooSmall\b", "too short for a safetensors header (empty or truncated)"),
    (r"header too large|\bHeaderTooLarge\b",
     f"the header is longer than the {_MAX_HEADER} bytes a safetensors header may have"),
    (r"invalid header length|\bInvalidHeaderLength\b",
     "the header length field points past the end of the file (truncated or another format)"),
    (r"invalid header start|\bInvalidHeaderStart\b", "the header does not start with '{'"),
    (r"invalid UTF-8|\bInvalidHeader\b", "the header is not valid UTF-8 text, so not valid JSON"),
    (r"invalid JSON|\bInvalidHeaderDeserialization\b",
     "the header is not valid JSON, or not a valid safetensors header (each tensor needs a known dtype, a shape "
     "of non-negative ints and two data_offsets; __metadata__ must map strings to strings)"),
    (r"invalid offset|\bInvalidOffset\b",
     "a tensor's data_offsets overlap another tensor's or leave a gap (overlapping or missing data)"),
    (r"incomplete metadata|\bMetadataIncompleteBuffer\b",
     "the data section is {data} bytes but the tensors' data_offsets do not cover it exactly "
     "(truncated, or missing or extra data)"),
    (r"invalid shape, data type, or offset|\bTensorInvalidInfo\b",
     "a tensor's shape and dtype need another number of bytes than its data_offsets span"),
    (r"overflow|\bValidationOverflow\b", "a tensor's shape is so large that its byte count overflows"),
]


def _explain_safetensors_error(e, data_size):
    detail = re.sub(r"^Error while deserializing( header)?: ", "", str(e).strip()) or type(e).__name__
    for pattern, problem in _SAFETENSORS_ERRORS:
        if re.search(pattern, detail):
            return f"{problem.format(data=data_size)} [safetensors: {detail}]"
    return f"not a valid safetensors file [safetensors: {detail}]"


def _numpy_value(st, raw, shape, fail, tname, for_tensor):
    """The NumPy array for one entry; for a tensor, converted to a gradcore dtype."""
    if st == "BF16":  # bfloat16 is the high half of a float32
        return (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    a = raw.view(_ST_TO_NP[st]).reshape(shape)
    if not a.flags.aligned:
        a = a.copy()
    if st == "BOOL" and raw.size and raw.max() > 1:
        raise fail(f"tensor '{tname}': a bool tensor holds bytes other than 0 and 1 (corrupt data)")
    if a.dtype.byteorder == "<" and not np.little_endian:
        a = a.astype(a.dtype.newbyteorder("="))
    if not for_tensor:
        return a
    if st == "U64" and a.size and a.max() >= 2**63:
        raise fail(f"tensor '{tname}': uint64 values above 2**63 - 1 do not fit gradcore's int64")
    if st in ("U16", "U32", "U64"):  # unsigned types gradcore lacks: int64 holds them
        return a.astype(np.int64)
    return a


def _make_tensor(arrays, tname, saved_location, map_location, fail):
    st, raw, shape = arrays[tname]
    t = _C.functions.from_numpy(_c_order(_numpy_value(st, raw, shape, fail, tname, True)))
    if st == "BF16":  # read as float32 (exactly), stored as bfloat16 again
        t = t.bfloat16()
    target = saved_location
    if callable(map_location) and not isinstance(map_location, (str, _C.device)):
        moved = map_location(t, saved_location)
        if moved is not None:
            return moved
    elif isinstance(map_location, dict):
        target = map_location.get(saved_location, saved_location)
    elif map_location is not None:
        target = map_location
    target = target if isinstance(target, _C.device) else _C.device(str(target))
    if target.type == "cpu":
        return t
    try:
        return t.to(target)
    except (RuntimeError, AssertionError) as e:  # AssertionError: a build without CUDA (as PyTorch)
        raise RuntimeError(f"gradcore.load: {e} Hint: pass map_location='cpu' to load a checkpoint saved "
                           "on a GPU onto the CPU") from None


class _Decoder:
    def __init__(self, arrays, map_location, fail):
        self.arrays, self.map_location, self.fail = arrays, map_location, fail
        self.tensors, self.ndarrays = {}, {}

    def tensor(self, tname, device):
        if tname not in self.arrays:
            raise self.fail(f"the structure refers to tensor '{tname}', which the file does not hold")
        key = (tname, device)
        if key not in self.tensors:  # a tensor saved twice loads as one shared tensor
            self.tensors[key] = _make_tensor(self.arrays, tname, device, self.map_location, self.fail)
        return self.tensors[key]

    def ndarray(self, tname):
        if tname not in self.arrays:
            raise self.fail(f"the structure refers to array '{tname}', which the file does not hold")
        if tname not in self.ndarrays:
            st, raw, shape = self.arrays[tname]
            self.ndarrays[tname] = _numpy_value(st, raw, shape, self.fail, tname, False)
        return self.ndarrays[tname]


_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _decode(node, d):
    if node is None or isinstance(node, (bool, str, int, float)):
        return node
    if isinstance(node, list):
        return [_decode(v, d) for v in node]
    if not isinstance(node, dict) or not node:
        raise d.fail(f"unexpected value {node!r} in the structure")
    tag, value = next(iter(node.items()))
    if tag == "tensor" and isinstance(value, str) and set(node) <= {"tensor", "device"}:
        return d.tensor(value, _decode_device(node.get("device", "cpu"), d))
    if len(node) != 1:
        raise d.fail(f"unexpected object with keys {sorted(node)} in the structure")
    if tag in ("dict", "odict") and isinstance(value, list):
        out = collections.OrderedDict() if tag == "odict" else {}
        for item in value:
            if not (isinstance(item, list) and len(item) == 2):
                raise d.fail("a dict item is not a [key, value] pair")
            out[_decode_key(item[0], d)] = _decode(item[1], d)
        return out
    if tag == "tuple" and isinstance(value, list):
        return tuple(_decode(v, d) for v in value)
    if tag == "float" and value in _NONFINITE:
        return _NONFINITE[value]
    if tag == "ndarray" and isinstance(value, str):
        return d.ndarray(value)
    if tag == "dtype" and value in _GC_DTYPES:
        return _GC_DTYPES[value]
    if tag == "device":
        return _C.device(_decode_device(value, d))
    raise d.fail(f"unexpected {tag!r} entry in the structure")


def _decode_device(value, d):
    try:
        return str(_C.device(value))
    except (RuntimeError, TypeError, ValueError):
        raise d.fail(f"invalid device {value!r} in the structure") from None


def _decode_key(node, d):
    key = _decode(node, d)
    if not _plain_key(key):
        raise d.fail(f"a dict key is a {type(key).__name__} holding something other than str, int, float, bool, "
                     "None or tuples of those")
    return key


def _plain_key(k):
    if isinstance(k, tuple):
        return all(_plain_key(v) for v in k)
    return k is None or isinstance(k, (bool, str, int, float))
