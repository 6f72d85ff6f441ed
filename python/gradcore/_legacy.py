"""PyTorch's legacy constructors: ``Tensor(data)`` / ``Tensor(*sizes)``, the typed classes
``FloatTensor``, ``DoubleTensor``, ``LongTensor``, ``BoolTensor`` (constructors that also answer
``isinstance`` by dtype) and ``autograd.Variable`` (now an alias that returns a tensor)."""
import builtins
import operator

from . import _C
from ._C import Tensor


def _is_sizes(args):
    """``(2, 3)`` or ``(Size,)``: sizes, not data (PyTorch's rule: ints given as separate arguments)."""
    from ._tensor import Size
    if len(args) == 1 and isinstance(args[0], Size):
        return True
    return len(args) >= 1 and all(isinstance(a, builtins.int) and not isinstance(a, builtins.bool) for a in args)


def _legacy_new(args, dtype, who):
    from ._tensor import tensor
    if not args:
        return _C.functions.zeros(0, dtype=dtype)
    if _is_sizes(args):
        sizes = tuple(args[0]) if len(args) == 1 and not isinstance(args[0], builtins.int) else args
        # PyTorch leaves the memory uninitialised; zeros are one valid such content.
        return _C.functions.zeros(*sizes, dtype=dtype) if sizes else _C.functions.zeros((), dtype=dtype)
    if len(args) == 1:
        data = args[0]
        if isinstance(data, Tensor):
            if data.dtype != dtype:
                raise TypeError(f"{who}: expected a tensor of dtype {dtype} (got {data.dtype}). "
                                f"Hint: convert it first, e.g. t.to({dtype})")
            return data.detach()  # shares storage, as PyTorch's alias
        if isinstance(data, str):
            raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
        return tensor(data, dtype=dtype)
    for i, a in enumerate(args):
        try:
            operator.index(a)
        except TypeError:
            raise TypeError(f"new(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                            f"\"type must be tuple of ints,but got {type(a).__name__}\"") from None
    raise TypeError(f"{who}: invalid arguments")


class _TensorTypeMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args, device=None):
        t = _legacy_new(args, cls.dtype, "gradcore." + cls.__name__)
        if device is not None:
            t = t.to(device)
        return t

    def __repr__(cls):
        return f"<class 'gradcore.{cls.__name__}'>"


def _tensor_type(name, dt):
    return _TensorTypeMeta(name, (), {"dtype": dt, "__doc__": f"Legacy constructor of {dt} tensors: "
                                      f"{name}(data) or {name}(*sizes) (zero-filled)."})


FloatTensor = _tensor_type("FloatTensor", _C.dtype.float32)
DoubleTensor = _tensor_type("DoubleTensor", _C.dtype.float64)
LongTensor = _tensor_type("LongTensor", _C.dtype.int64)
BoolTensor = _tensor_type("BoolTensor", _C.dtype.bool)
ByteTensor = _tensor_type("ByteTensor", _C.dtype.uint8)
CharTensor = _tensor_type("CharTensor", _C.dtype.int8)
ShortTensor = _tensor_type("ShortTensor", _C.dtype.int16)
IntTensor = _tensor_type("IntTensor", _C.dtype.int32)


# ---- Tensor(...) itself: Tensor(tensor[, requires_grad]) keeps the native meaning, other arguments
# are the legacy forms (data as the default dtype, or sizes) ----

_native_init = Tensor.__init__


def _tensor_init(self, *args, **kwargs):
    if (args and isinstance(args[0], Tensor)) or "data" in kwargs:
        return _native_init(self, *args, **kwargs)
    if kwargs:
        raise TypeError(f"Tensor(): got an unexpected keyword argument '{next(iter(kwargs))}'")
    _native_init(self, _legacy_new(args, _C.functions.get_default_dtype(), "Tensor()"))


if not getattr(Tensor.__init__, "_gradcore_legacy", False):
    _tensor_init._gradcore_legacy = True
    Tensor.__init__ = _tensor_init


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class _ImperativeEngine:
    """``Variable._execution_engine``: PyTorch's handle on the autograd engine."""

    @staticmethod
    def queue_callback(callback):
        """Runs ``callback()`` when the backward pass now running ends (RuntimeError outside one)."""
        _C._queue_callback(callback)


class Variable(metaclass=_VariableMeta):
    """Deprecated: ``Variable(t, requires_grad=False)`` returns a tensor sharing ``t``'s storage, a new
    leaf that requires grad as told (every tensor is a Variable)."""

    _execution_engine = _ImperativeEngine()

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if data is None:
            data = _C.functions.zeros(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        t = data.detach()
        if requires_grad:
            t.requires_grad_(True)
        return t
