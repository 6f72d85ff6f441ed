"""Everyday math functions written in Python over the native differentiable ops: isnan/isinf/
isfinite, isclose/allclose, nan_to_num, logsumexp, var_mean/std_mean, outer, tensordot, meshgrid,
numel, and the ``Tensor.new_*`` factories. Each is a ``gradcore.<name>`` function and, where
PyTorch has one, a Tensor method; values and gradients come from the ops they are built on."""
import math
import operator
import warnings

from . import _C
from ._C import Tensor
from ._finfo import finfo

_F = _C.functions


def _check_tensor(x, op, arg="input", pos=1):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position {pos}) must be Tensor, not {type(x).__name__}")


# ---- classification of values ----

def isnan(input):
    """True where ``input`` is NaN (never for integer and bool tensors)."""
    _check_tensor(input, "isnan")
    return input != input


def isinf(input):
    """True where ``input`` is +inf or -inf (never for integer and bool tensors)."""
    _check_tensor(input, "isinf")
    if not input.is_floating_point():
        return _F.zeros_like(input, dtype=_C.dtype.bool)
    return input.abs() == math.inf


def isfinite(input):
    """True where ``input`` is neither NaN nor infinite (always for integer and bool tensors)."""
    _check_tensor(input, "isfinite")
    if not input.is_floating_point():
        return _F.ones_like(input, dtype=_C.dtype.bool)
    return input.abs() < math.inf


def isposinf(input):
    _check_tensor(input, "isposinf")
    return input == math.inf if input.is_floating_point() else _F.zeros_like(input, dtype=_C.dtype.bool)


def isneginf(input):
    _check_tensor(input, "isneginf")
    return input == -math.inf if input.is_floating_point() else _F.zeros_like(input, dtype=_C.dtype.bool)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise; infinities are close only to
    themselves, NaN only to NaN and only with ``equal_nan``."""
    _check_tensor(input, "isclose")
    _check_tensor(other, "isclose", "other", 2)
    if input.dtype != other.dtype:
        raise RuntimeError(f"isclose: {input.dtype} did not match {other.dtype} (input and other must have one "
                           "dtype). Hint: convert one of them with .to(other.dtype).")
    if rtol < 0 or atol < 0:
        raise RuntimeError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    equal = input == other
    if not input.is_floating_point():
        if rtol == 0 and atol == 0:
            return equal
        a, b = input.double(), other.double()
        return equal | ((a - b).abs() <= atol + rtol * b.abs())
    close = equal | ((input - other).abs() <= atol + rtol * other.abs())
    close = close & (isfinite(input) & isfinite(other) | equal)
    if equal_nan:
        close = close | (isnan(input) & isnan(other))
    return close


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of ``input`` is close to ``other``'s (see ``isclose``): a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN replaced by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (default: the dtype's
    largest and smallest finite values); the gradient is 0 where a value was replaced."""
    _check_tensor(input, "nan_to_num")
    if not input.is_floating_point():
        return input.clone()
    info = finfo(input.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = _F.where(isnan(input), _F.full_like(input, nan), input)
    out = _F.where(input == math.inf, _F.full_like(input, posinf), out)
    return _F.where(input == -math.inf, _F.full_like(input, neginf), out)


# ---- reductions ----

def _dims(dim, ndim, op):
    if dim is None:
        return list(range(ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    n = max(ndim, 1)
    out = []
    for d in dims:
        d = operator.index(d)
        if not -n <= d < n:
            raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        out.append(d % n)
    return out


def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(input), dim))`` computed stably: the largest value of each slice is taken
    out before exponentiating (a slice of all -inf gives -inf, one holding +inf gives +inf).
    Integer inputs are computed in the default float dtype."""
    _check_tensor(input, "logsumexp")
    if not input.is_floating_point():
        input = input.to(_F.get_default_dtype())
    dims = _dims(dim, input.dim(), "logsumexp")
    if input.numel() == 0:
        return input.exp().sum(dims, keepdim=keepdim).log()
    from .autograd.grad_mode import no_grad  # imported here: gradcore.autograd imports after this module
    with no_grad():
        m = input.amax(dims, keepdim=True)
        m = _F.where(m.abs() == math.inf, _F.zeros_like(m), m)
    out = (input - m).exp().sum(dims, keepdim=True).log() + m
    return out if keepdim else out.squeeze(dims) if dims else out


def _moments(name, input, dim, unbiased, keepdim, correction):
    _check_tensor(input, name)
    if unbiased is not None:
        if correction is not None:
            raise RuntimeError(f"{name}: pass either unbiased or correction, not both")
        correction = 1 if unbiased else 0
    correction = 1 if correction is None else correction
    if dim is None:
        dim = list(range(input.dim()))
    var = input.var(dim, correction=correction, keepdim=keepdim)
    mean = input.mean(dim, keepdim=keepdim)
    return var, mean


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim`` (all dims when None), ``correction`` as in ``var``
    (1: Bessel's correction, the default)."""
    if isinstance(dim, bool):  # var_mean(x, False): the old (input, unbiased) form
        dim, unbiased = None, dim
    return _moments("var_mean", input, dim, unbiased, keepdim, correction)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim`` (all dims when None); see ``var_mean``."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    var, mean = _moments("std_mean", input, dim, unbiased, keepdim, correction)
    return var.sqrt(), mean


def numel(input):
    """The number of elements of ``input``."""
    _check_tensor(input, "numel")
    return input.numel()


# ---- products and grids ----

def outer(input, vec2):
    """The outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    _check_tensor(input, "outer")
    _check_tensor(vec2, "outer", "vec2", 2)
    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: expected 1-D tensors, but got {input.dim()}-D and {vec2.dim()}-D "
                           f"(shapes {tuple(input.shape)} and {tuple(vec2.shape)})")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


def tensordot(a, b, dims=2):
    """Contracts ``dims`` dimensions of ``a`` with ``b``: the last ``dims`` of ``a`` with the first
    ``dims`` of ``b`` when an int, else the pairs ``(dims_a, dims_b)``; one matrix product over
    the flattened contracted dimensions."""
    _check_tensor(a, "tensordot", "a")
    _check_tensor(b, "tensordot", "b", 2)
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.dim(), b.dim()):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.dim() - dims, a.dim())), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
        if len(da) != len(db):
            raise RuntimeError(f"both dimension lists should have same length (got {len(da)} and {len(db)})")
        da, db = _dims(da, a.dim(), "tensordot"), _dims(db, b.dim(), "tensordot")
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[i]} in dim {i} "
                               f"and second has size {b.shape[j]} in dim {j}")
    free_a = [d for d in range(a.dim()) if d not in da]
    free_b = [d for d in range(b.dim()) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    am = a.permute(free_a + da).reshape(-1, k)
    bm = b.permute(db + free_b).reshape(k, -1)
    return (am @ bm).reshape([a.shape[d] for d in free_a] + [b.shape[d] for d in free_b])


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D (or 0-D) tensors: with ``indexing="ij"`` output i varies along
    dimension i; with ``"xy"`` the first two dimensions swap (Cartesian, as NumPy's default).
    The outputs are expanded views of the inputs."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        _check_tensor(t, "meshgrid", "tensors")
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t.dim()}-D")
    ts = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.shape[0] for t in ts]
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = shape[i]
        grids.append(t.view(view).expand(shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


# ---- Tensor.new_* ----

def _size_arg(size):
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        return list(size[0])
    return list(size)


def _new_factory(fn):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        out = fn(_size_arg(size), dtype=self.dtype if dtype is None else dtype,
                 device=self.device if device is None else device, **kw)
        return out.requires_grad_(requires_grad) if requires_grad else out
    return method


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    out = _F.full(list(size), fill_value, dtype=self.dtype if dtype is None else dtype,
                  device=self.device if device is None else device)
    return out.requires_grad_(requires_grad) if requires_grad else out


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    from ._tensor import tensor
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                      "rather than tensor.new_tensor(sourceTensor).", UserWarning, stacklevel=2)
        out = data.detach().clone().to(dtype=self.dtype if dtype is None else dtype,
                                       device=self.device if device is None else device)
        return out.requires_grad_(requires_grad) if requires_grad else out
    return tensor(data, dtype=self.dtype if dtype is None else dtype, device=self.device if device is None else device,
                  requires_grad=requires_grad)


Tensor.isnan = isnan
Tensor.isinf = isinf
Tensor.isfinite = isfinite
Tensor.isposinf = isposinf
Tensor.isneginf = isneginf
Tensor.isclose = isclose
Tensor.allclose = allclose
Tensor.nan_to_num = nan_to_num
Tensor.logsumexp = logsumexp
Tensor.outer = outer
Tensor.ger = outer
Tensor.new_zeros = _new_factory(_F.zeros)
Tensor.new_ones = _new_factory(_F.ones)
Tensor.new_empty = _new_factory(_F.empty)
Tensor.new_full = _new_full
Tensor.new_tensor = _new_tensor
ger = outer

__all__ = ["isnan", "isinf", "isfinite", "isposinf", "isneginf", "isclose", "allclose", "nan_to_num", "logsumexp",
           "var_mean", "std_mean", "numel", "outer", "ger", "tensordot", "meshgrid"]
