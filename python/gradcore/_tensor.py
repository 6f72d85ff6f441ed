"""Python-side pieces of the Tensor: construction from Python data, Size, conversions and the
dunder methods that are clearer written in Python than bound one by one."""
import builtins

import numpy as np

from . import _C
from ._C import Tensor


class Size(tuple):
    """The shape of a tensor: a tuple of ints, printed as PyTorch prints it."""

    def __repr__(self):
        return "gradcore.Size([" + ", ".join(str(s) for s in self) + "])"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


_C._set_size_type(Size)


def _check_factory_device(device):
    if device is not None and not isinstance(device, _C.device):
        device = _C.device(device)
    return device


def tensor(data, dtype=None, device=None, requires_grad=False):
    """Copies ``data`` (a number, nested lists/tuples, a NumPy array or a tensor) into a new tensor.

    Floats become the default dtype (float32) unless ``dtype`` says otherwise; a NumPy array keeps
    its dtype. Ragged nested lists raise ValueError."""
    if isinstance(data, Tensor):
        t = data.detach().clone()
        if dtype is not None:
            t = t._to_dtype(dtype, False)
    else:
        from_python = not isinstance(data, np.ndarray)
        if from_python and isinstance(data, (list, tuple)):
            data = _unwrap_tensors(data)
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ValueError(f"tensor: could not build a tensor from the nested data: {e}. "
                             "Hint: every nested list must have the same length at each level.") from None
        if from_python and arr.dtype == np.uint64 and dtype in (_C.dtype.float32, _C.dtype.float64):
            arr = arr.astype(np.float64)  # a Python int past int64 is fine as a float
        # A Python int past int64 (NumPy makes it uint64, object, or, mixed with small ints, float64).
        if from_python and (arr.dtype == np.uint64 or (arr.dtype.kind == "f" and arr.size and dtype is None and
                                                          (np.abs(arr) >= 2.0 ** 63).any())):
            if _has_int_beyond_int64(data):
                raise ValueError("Overflow when unpacking long long: tensor() holds Python ints in int64's range "
                                 "[-2**63, 2**63 - 1]")
        if arr.dtype == object or (from_python and arr.dtype == np.uint64):
            if from_python and _has_int_beyond_int64(data):
                raise ValueError("Overflow when unpacking long long: tensor() holds Python ints in int64's range "
                                 "[-2**63, 2**63 - 1]")
            raise TypeError(f"tensor: could not infer a dtype for an object of type {type(data).__name__}; "
                            "expected numbers, nested lists of numbers, or a NumPy array")
        if from_python and dtype == _C.dtype.int64 and arr.dtype.kind == "f" and arr.size and not (
                np.isfinite(arr).all() and (np.abs(arr) < 2.0 ** 63).all()):
            raise RuntimeError("tensor: value cannot be converted to type int64 without overflow (NaN, infinity or "
                               "beyond int64's range)")
        t = _C._tensor_from_array(arr, dtype, from_python)
        if device is None:  # data that is not a tensor goes to the default device (set_default_device)
            device = _C._get_default_device()
            if device == t.device:
                device = None
    if device is not None:
        t = t._to_device(_check_factory_device(device), False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _has_int_beyond_int64(data):
    if isinstance(data, (list, tuple)):
        return any(_has_int_beyond_int64(x) for x in data)
    return isinstance(data, int) and not (-2 ** 63 <= data < 2 ** 63)


def _unwrap_tensors(data):
    out = []
    for x in data:
        if isinstance(x, Tensor):
            out.append(x.detach().cpu().numpy() if x.dim() else x.item())
        elif isinstance(x, (list, tuple)):
            out.append(_unwrap_tensors(x))
        else:
            out.append(x)
    return out


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a tensor or a NumPy array when no conversion is needed."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data if device is None else data.to(device)
    if isinstance(data, np.ndarray) and dtype is None and device is None:
        try:
            return _C.functions.from_numpy(data)
        except (TypeError, ValueError):
            pass
    return tensor(data, dtype=dtype, device=device)


# ---- methods written in Python ----

def _item(self):
    if self.numel() != 1:
        raise RuntimeError(f"item: a Tensor with {self.numel()} elements cannot be converted to a Python number "
                           f"(shape {list(self.shape)}). Hint: reduce it first, e.g. t.sum().item()")
    return _host_array(self).reshape(()).item()


def _host_array(self):
    """A NumPy array of the values, for item() and tolist(): bfloat16 (which NumPy lacks) goes
    through float32, exactly (every bfloat16 is a float32)."""
    t = self.detach().cpu()
    if t.dtype == _C.dtype.bfloat16:
        t = t.float()
    return t.numpy()


def _tolist(self):
    return _host_array(self).tolist()


def _array(self, dtype=None, copy=None):
    a = self.numpy()
    return a if dtype is None else a.astype(dtype, copy=False)


_PY_TYPES = {builtins.float: _C.dtype.float32, builtins.int: _C.dtype.int64, builtins.bool: _C.dtype.bool}


def parse_to_args(args, kwargs, who="to()"):
    """Reads ``to``'s arguments as PyTorch does: ``(device)``, ``(dtype)``, ``(device, dtype)``,
    ``(other_tensor)``, keywords device=/dtype=/copy=/non_blocking=. Returns (device, dtype, copy);
    Tensor.to and Module.to both use it."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"{who} got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, _C.dtype):
            dtype = a
        elif isinstance(a, (str, _C.device)):
            device = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, builtins.bool):
            continue  # non_blocking given positionally
        elif a in _PY_TYPES:
            dtype = a
        else:
            raise TypeError(f"{who} received an invalid argument of type {type(a).__name__}; "
                            "expected a device, a dtype or a tensor")
    return _check_factory_device(device), _PY_TYPES.get(dtype, dtype), copy


def _to(self, *args, **kwargs):
    """to(dtype), to(device), to(device, dtype), to(other_tensor); copy= and non_blocking= accepted."""
    device, dtype, copy = parse_to_args(args, kwargs)
    t = self
    if device is not None:
        t = t._to_device(device, copy)
        copy = copy and t is self
    if dtype is not None:
        t = t._to_dtype(dtype, copy)
    elif copy and t is self:
        t = t.clone()
    return t


def zero_grads(tensors, set_to_none=True):
    """Resets ``.grad`` of each tensor: to None, or to zeros in place (detached from any graph).
    Module.zero_grad and Optimizer.zero_grad both use it."""
    for p in tensors:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            g = p.grad
            if g.grad_fn is not None:
                g.detach_()
            else:
                g.requires_grad_(False)
            g.zero_()


def _type(self, dtype=None):
    if dtype is None:
        return {"float32": "gradcore.FloatTensor", "float64": "gradcore.DoubleTensor",
                "bfloat16": "gradcore.BFloat16Tensor", "float16": "gradcore.HalfTensor",
                "int64": "gradcore.LongTensor", "int32": "gradcore.IntTensor", "int16": "gradcore.ShortTensor",
                "int8": "gradcore.CharTensor", "uint8": "gradcore.ByteTensor",
                "bool": "gradcore.BoolTensor"}[str(self.dtype).split(".")[1]]
    return self.to(dtype)


def _iter(self):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self.select(0, i) for i in range(self.shape[0]))


def _bool(self):
    if self.numel() != 1:
        raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous (shape {list(self.shape)}). "
                           "Hint: use .any() or .all()")
    return builtins.bool(self.item())


def _float(self):
    if self.numel() != 1:
        raise TypeError(f"only one element tensors can be converted to Python scalars (shape {list(self.shape)})")
    return builtins.float(self.item())


def _int(self):
    if self.numel() != 1:
        raise TypeError(f"only one element tensors can be converted to Python scalars (shape {list(self.shape)})")
    return builtins.int(self.item())


def _index(self):
    if self.dtype.is_floating_point or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return builtins.int(self.item())


def _make_cast(dt):
    def cast(self, *, memory_format=None):
        return self._to_dtype(dt, False)
    return cast


Tensor.item = _item
Tensor.tolist = _tolist
Tensor.__array__ = _array
Tensor.to = _to
Tensor.type = _type
Tensor.__iter__ = _iter
Tensor.__bool__ = _bool
Tensor.__float__ = _float
Tensor.__int__ = _int
Tensor.__index__ = _index
Tensor.float = _make_cast(_C.dtype.float32)
Tensor.double = _make_cast(_C.dtype.float64)
Tensor.bfloat16 = _make_cast(_C.dtype.bfloat16)
Tensor.half = _make_cast(_C.dtype.float16)
Tensor.long = _make_cast(_C.dtype.int64)
Tensor.int = _make_cast(_C.dtype.int32)
Tensor.short = _make_cast(_C.dtype.int16)
Tensor.char = _make_cast(_C.dtype.int8)
Tensor.byte = _make_cast(_C.dtype.uint8)
Tensor.bool = _make_cast(_C.dtype.bool)
def _type_as(self, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as(): argument 'other' must be Tensor, not {type(other).__name__}")
    return self._to_dtype(other.dtype, False)


Tensor.type_as = _type_as
Tensor.cpu = lambda self: self._to_device(_C.device("cpu"), False)
Tensor.cuda = lambda self, device=None, non_blocking=False: self._to_device(
    _C.device("cuda" if device is None else (f"cuda:{device}" if isinstance(device, builtins.int) else device)), False)
Tensor.is_cuda = property(lambda self: self.device.type == "cuda")
Tensor.__array_priority__ = 1000  # ndarray <op> tensor defers to the tensor


# ---- copying and pickling: data travels as a NumPy array, never as code ----

def _rebuild_tensor(array, requires_grad, cls=Tensor):
    t = _C._tensor_from_array(array, None, False)
    if cls is not Tensor:
        return cls(t, requires_grad)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _reduce_ex(self, protocol):
    if not self.is_leaf:
        raise RuntimeError("pickle: only leaf tensors (created by the user, not by an op that records "
                           "gradients) can be pickled. Hint: pickle t.detach() instead")
    cls = type(self)
    return (_rebuild_tensor, (self.detach().cpu().numpy().copy(), self.requires_grad, cls))


def _deepcopy(self, memo):
    if not self.is_leaf:
        raise RuntimeError("deepcopy: only tensors created explicitly by the user (graph leaves) support the "
                           "deepcopy protocol. Hint: deepcopy t.detach() instead")
    if id(self) in memo:
        return memo[id(self)]
    data = self.detach().clone()
    cls = type(self)
    new = cls(data, self.requires_grad) if cls is not Tensor else data.requires_grad_(self.requires_grad)
    if self.grad is not None:
        new.grad = self.grad.clone()
    if cls is not Tensor and hasattr(self, "__dict__"):
        import copy
        for k, v in self.__dict__.items():
            setattr(new, k, copy.deepcopy(v, memo))
    memo[id(self)] = new
    return new


Tensor.__reduce_ex__ = _reduce_ex
Tensor.__deepcopy__ = _deepcopy

# Printing lives in _tensor_str.py (PyTorch's algorithm, character for character).
from . import _tensor_str  # noqa: E402

Tensor.__repr__ = _tensor_str._str
Tensor.__str__ = _tensor_str._str
Tensor.__format__ = _tensor_str._format
