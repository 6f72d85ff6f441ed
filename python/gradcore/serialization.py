"""``gradcore.save`` / ``gradcore.load``: checkpoints as safetensors files that never execute code.

File layout (the safetensors format, readable by the ``safetensors`` package)::

    8 bytes    N, the header's length, unsigned little-endian
    N bytes    JSON: {"<tensor name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
                      "__metadata__": {"format": "gradcore", "gradcore.version": "1",
                                       "gradcore.structure": "<JSON of the saved object>"}}
               padded with spaces to a multiple of 8 bytes
    data       every tensor's bytes, little-endian, C order, back to back

The structure is the saved object with each tensor replaced by a reference to its name. Plain JSON
values stand for themselves (None, bools, ints, finite floats, strings, lists); everything else is
a one-key object: ``{"dict": [[key, value], ...]}`` (keys of any of these types, order kept),
``{"odict": ...}`` (an OrderedDict), ``{"tuple": [...]}``, ``{"float": "nan" | "inf" | "-inf"}``,
``{"tensor": name}`` (plus ``"device"`` when it was not on the CPU), ``{"ndarray": name}``,
``{"dtype": "float32"}``, ``{"device": "cuda:0"}``. Loading only parses JSON and copies bytes:
there is no pickle anywhere, so a checkpoint cannot run code.

Every size in the header is checked against the file before anything is allocated, so a truncated
or corrupt file raises ``RuntimeError`` naming the file and the problem.
"""
import collections
import io
import json
import math
import os
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
_GC_DTYPES = {"float32": _C.dtype.float32, "float64": _C.dtype.float64, "int64": _C.dtype.int64,
              "bool": _C.dtype.bool, "bfloat16": _C.dtype.bfloat16, "float16": _C.dtype.float16}
# NumPy has no bfloat16: its bits travel as uint16 tagged with this dtype's metadata.
_BF16_BITS = np.dtype("<u2", metadata={"safetensors": "BF16"})


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
        bits = (a.float().contiguous().numpy().view(np.uint32) >> 16).astype("<u2")
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


def _header_bytes(arrays, structure_json):
    header, offset = {}, 0
    for name, a in arrays.items():
        st = (a.dtype.metadata or {}).get("safetensors") or _NP_TO_ST[(a.dtype.kind, a.dtype.itemsize)]
        header[name] = {"dtype": st, "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    header["__metadata__"] = {"format": "gradcore", "gradcore.version": _FORMAT_VERSION,
                              "gradcore.structure": structure_json}
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return h + b" " * (-len(h) % 8)  # the data starts 8-byte aligned, as safetensors writes it


def _write_file(fh, header, arrays):
    fh.write(struct.pack("<Q", len(header)))
    fh.write(header)
    for a in arrays.values():
        if a.nbytes:
            fh.write(a.reshape(-1).view(np.uint8))


def save(obj, f):
    """Saves ``obj`` (a state dict, or any nesting of dicts, lists and tuples of tensors, NumPy arrays,
    numbers, strings, bools and None) to ``f``, a path or a writable binary file.

    A path is written atomically: the file is written under a temporary name in the same folder,
    flushed and fsync'ed, then renamed over ``f`` (and the folder fsync'ed), so a crash at any point
    leaves either the old file or the new one, never a mix. Tensors are saved detached and
    contiguous (``requires_grad`` is not kept, as in a PyTorch state dict); a tensor that occurs twice
    is stored once and loads as one shared tensor.
    """
    refs = _Refs()
    structure = json.dumps(_encode(obj, [], refs, set()), separators=(",", ":"), allow_nan=False)
    header = _header_bytes(refs.arrays, structure)
    if len(header) > _MAX_HEADER:
        raise ValueError(f"gradcore.save: the non-tensor part of the object takes {len(header)} bytes of JSON, more "
                         f"than a safetensors header may hold ({_MAX_HEADER}). Hint: store long lists of numbers "
                         "as tensors")
    if not isinstance(f, (str, bytes, os.PathLike)):
        if not hasattr(f, "write"):
            raise TypeError(f"gradcore.save: expected a path or a binary file object, got {type(f).__name__}")
        _write_file(f, header, refs.arrays)
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
        with os.fdopen(fd, "wb") as fh:
            if os.path.isfile(path):
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)  # an overwrite keeps the old file's permissions
            _write_file(fh, header, refs.arrays)
            fh.flush()
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
    dtypes, narrow integer tensors become int64.

    ``weights_only`` is accepted for PyTorch compatibility: loading never unpickles, whatever its
    value, so a pickle file (e.g. from ``torch.save``) is refused with a RuntimeError.
    """
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fspath(f)
        path = path.decode() if isinstance(path, bytes) else path
        with open(path, "rb") as fh:
            return _load_from(fh, path, map_location)
    if not hasattr(f, "read"):
        raise TypeError(f"gradcore.load: expected a path or a binary file object, got {type(f).__name__}")
    name = str(getattr(f, "name", "<file object>"))
    if not (hasattr(f, "seekable") and f.seekable()):
        f = io.BytesIO(f.read())
    return _load_from(f, name, map_location)


class CheckpointError(RuntimeError):
    """A file that is not a valid gradcore/safetensors checkpoint."""


def _load_from(fh, name, map_location):
    def fail(problem):
        return CheckpointError(f"gradcore.load: {name}: {problem}")

    start = fh.tell()
    size = fh.seek(0, io.SEEK_END) - start
    fh.seek(start)
    if size < 8:
        raise fail(f"the file is {size} bytes long, too short for a safetensors header (empty or truncated)")
    head = _read_exact(fh, min(size, 16), fail, "the file's first bytes")
    n = struct.unpack("<Q", head[:8])[0]
    if n > size - 8 or head[8:9] != b"{":
        raise fail(_not_a_checkpoint(head, n, size))
    if n > _MAX_HEADER:
        raise fail(f"the header claims {n} bytes, more than the {_MAX_HEADER} a safetensors header may have")
    fh.seek(start + 8)
    entries, meta = _parse_header(_read_exact(fh, n, fail, "the header"), size - 8 - n, fail)
    arrays = {}
    for tname, (st_dtype, shape, begin, end) in entries:  # in offset order: one sequential read
        raw = np.empty(end - begin, dtype=np.uint8)
        _read_into(fh, raw, fail, f"tensor '{tname}'")
        arrays[tname] = (st_dtype, raw, shape)
    structure = meta.get("gradcore.structure") if meta else None
    if structure is None:
        return {tname: _make_tensor(arrays, tname, "cpu", map_location, fail) for tname, _ in entries}
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


def _read_exact(fh, n, fail, what):
    data = fh.read(n)
    if len(data) != n:
        raise fail(f"unexpected end of file while reading {what} ({len(data)} of {n} bytes): truncated")
    return data


def _read_into(fh, buf, fail, what):
    view, got = memoryview(buf), 0
    while got < len(view):
        k = fh.readinto(view[got:])
        if not k:
            raise fail(f"unexpected end of file while reading {what} ({got} of {len(view)} bytes): truncated")
        got += k


def _no_duplicate_keys(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        d[k] = v
    return d


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_header(raw, data_size, fail):
    """Validates every entry against the data section before anything is allocated: known dtype,
    non-negative integer shape, offsets that tile ``[0, data_size)`` exactly, each entry's byte count
    equal to ``prod(shape) * itemsize``. Returns ``([(name, (dtype, shape, begin, end))], metadata)``
    in offset order."""
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise fail(f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise fail("the header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise fail("__metadata__ must map strings to strings")
    entries = []
    for tname, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise fail(f"tensor '{tname}': the entry must have exactly dtype, shape and data_offsets")
        st, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if st not in _ST_TO_NP:
            raise fail(f"tensor '{tname}': unsupported dtype {st!r} (readable: {', '.join(_ST_TO_NP)})")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise fail(f"tensor '{tname}': shape {shape!r} is not a list of non-negative ints")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= data_size):
            raise fail(f"tensor '{tname}': data_offsets {offsets!r} are not within the {data_size}-byte data section")
        nbytes = math.prod(shape) * np.dtype(_ST_TO_NP[st]).itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise fail(f"tensor '{tname}': shape {shape} of {st} needs {nbytes} bytes but data_offsets span "
                       f"{offsets[1] - offsets[0]}")
        entries.append((tname, (st, tuple(shape), offsets[0], offsets[1])))
    entries.sort(key=lambda e: (e[1][2], e[1][3]))
    pos = 0
    for tname, (_, _, begin, end) in entries:
        if begin != pos:
            raise fail(f"tensor '{tname}' starts at byte {begin} of the data section, expected {pos} "
                       "(overlapping or missing data)")
        pos = end
    if pos != data_size:
        raise fail(f"the data section is {data_size} bytes but the tensors cover {pos}")
    return entries, meta


def _numpy_value(st, raw, shape, fail, tname, for_tensor):
    """The NumPy array for one entry; for a tensor, converted to a gradcore dtype."""
    if st == "BF16":  # bfloat16 is the high half of a float32
        return (raw.view("<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    a = raw.view(_ST_TO_NP[st]).reshape(shape)
    if st == "BOOL" and raw.size and raw.max() > 1:
        raise fail(f"tensor '{tname}': a bool tensor holds bytes other than 0 and 1 (corrupt data)")
    if a.dtype.byteorder == "<" and not np.little_endian:
        a = a.astype(a.dtype.newbyteorder("="))
    if not for_tensor:
        return a
    if st == "U64" and a.size and a.max() >= 2**63:
        raise fail(f"tensor '{tname}': uint64 values above 2**63 - 1 do not fit gradcore's int64")
    if a.dtype.kind in "iu" and a.dtype.itemsize < 8 or st == "U64":
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
