"""The fused multiply-add matmul family, composed over the native matmul ops (mm, bmm, matmul):
addmm, addmv, baddbmm, addbmm, as ``gradcore.<name>`` functions, Tensor methods and in-place
``<name>_`` methods. Each is ``beta * input + alpha * (product)``; with ``beta == 0`` the input
is not read (NaN and inf in it do not reach the result, as in PyTorch), though its shape is still
checked and it still gets a (zero) gradient. Values and gradients come from the ops they are
built on."""
import numbers

from . import _C
from ._C import Tensor

_F = _C.functions


def _check_matrix(t, op, arg, ndim):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(t).__name__}")
    if t.dim() != ndim:
        what = {1: "a vector", 2: "a matrix", 3: "a 3D tensor"}[ndim]
        raise RuntimeError(f"{op}: {arg} must be {what}, got {t.dim()}-D tensor of shape {tuple(t.shape)}")


def _coefficient(x, value, op, name):
    """beta or alpha as the product's dtype uses it: integer tensors truncate it to an int, as PyTorch's CPU
    kernels do (alpha=1.7 is 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}(): argument '{name}' must be Number, not {type(value).__name__}")
    return value if x.dtype.is_floating_point else int(value)


def _combine(op, input, product, beta, alpha):
    """beta * input + alpha * product, input broadcast to product's shape and never read when beta == 0."""
    beta, alpha = _coefficient(product, beta, op, "beta"), _coefficient(product, alpha, op, "alpha")
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.dtype != product.dtype:
        raise RuntimeError(f"{op}: self and the matrices must have the same dtype, but got {input.dtype} and "
                           f"{product.dtype}. Hint: convert one, e.g. input.to({product.dtype})")
    try:
        expanded = input.expand(product.shape)
    except RuntimeError as e:
        raise RuntimeError(f"{op}: input of shape {tuple(input.shape)} does not broadcast to the product's shape "
                           f"{tuple(product.shape)} ({e})") from None
    out = product if alpha == 1 else product * alpha
    if beta == 0:
        if input.requires_grad and _F.is_grad_enabled():
            # Adds zeros that route a zero gradient to input without reading its values.
            never = _F.zeros((), dtype=_C.dtype.bool, device=input.device)
            out = out + _F.where(never, expanded, 0)
        return out
    return out + (expanded if beta == 1 else expanded * beta)


def _autocast_layer(fn):
    """fn as one op under autocast, as PyTorch dispatches it: its tensors cast by its own policy (addmm,
    baddbmm, addbmm: lower precision; addmv on the CPU: none), its insides (mm, matmul, ...) run with
    autocast off."""
    def wrapped(input, a, b, *, beta=1, alpha=1, out=None):
        name = fn.__name__
        input, a, b = (_C._autocast(name, t) if isinstance(t, Tensor) else t for t in (input, a, b))
        saved = _C._autocast_suspend()
        try:
            return fn(input, a, b, beta=beta, alpha=alpha, out=out)
        finally:
            _C._autocast_resume(saved)

    wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
    return wrapped


def _finish(res, out):
    if out is None:
        return res
    out.copy_(res)
    return out


@_autocast_layer
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """addmm(input, mat1, mat2, *, beta=1, alpha=1): ``beta * input + alpha * (mat1 @ mat2)``, mat1 (n, m),
    mat2 (m, p), input broadcastable to (n, p)."""
    _check_matrix(mat1, "addmm", "mat1", 2)
    _check_matrix(mat2, "addmm", "mat2", 2)
    return _finish(_combine("addmm", input, _F.mm(mat1, mat2), beta, alpha), out)


@_autocast_layer
def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """addmv(input, mat, vec, *, beta=1, alpha=1): ``beta * input + alpha * (mat @ vec)``, mat (n, m), vec (m,)."""
    _check_matrix(mat, "addmv", "mat", 2)
    _check_matrix(vec, "addmv", "vec", 1)
    return _finish(_combine("addmv", input, _F.matmul(mat, vec), beta, alpha), out)


@_autocast_layer
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """baddbmm(input, batch1, batch2, *, beta=1, alpha=1): ``beta * input + alpha * bmm(batch1, batch2)``,
    batch1 (b, n, m), batch2 (b, m, p), input broadcastable to (b, n, p)."""
    _check_matrix(batch1, "baddbmm", "batch1", 3)
    _check_matrix(batch2, "baddbmm", "batch2", 3)
    return _finish(_combine("baddbmm", input, _F.bmm(batch1, batch2), beta, alpha), out)


def _batch_sum_product(batch1, batch2):
    """sum_b batch1[b] @ batch2[b] as one GEMM: (n, b*m) @ (b*m, p)."""
    b, n, m = batch1.shape
    b2, m2, p = batch2.shape
    if b != b2 or m != m2:
        raise RuntimeError(f"addbmm: batch1 and batch2 shapes cannot be multiplied ({b}x{n}x{m} and {b2}x{m2}x{p}): "
                           "they need the same batch size and batch1's last dim equal to batch2's middle dim")
    return _F.mm(batch1.permute(1, 0, 2).reshape(n, b * m), batch2.reshape(b * m, p))


@_autocast_layer
def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """addbmm(input, batch1, batch2, *, beta=1, alpha=1): ``beta * input + alpha * sum_b batch1[b] @ batch2[b]``,
    input broadcastable to (n, p)."""
    _check_matrix(batch1, "addbmm", "batch1", 3)
    _check_matrix(batch2, "addbmm", "batch2", 3)
    return _finish(_combine("addbmm", input, _batch_sum_product(batch1, batch2), beta, alpha), out)


def _inplace(fn):
    name = fn.__name__ + "_"

    def method_(self, a, b, *, beta=1, alpha=1):
        res = fn(self, a, b, beta=beta, alpha=alpha)
        if tuple(res.shape) != tuple(self.shape):
            raise RuntimeError(f"{name}: the result's shape {tuple(res.shape)} differs from self's shape "
                               f"{tuple(self.shape)}; an in-place op cannot broadcast self. Hint: use {fn.__name__}()")
        return self.copy_(res)

    method_.__name__ = name
    method_.__doc__ = f"In-place {fn.__name__}: self = beta * self + alpha * (product)."
    return method_


for _fn in (addmm, addmv, baddbmm, addbmm):
    setattr(Tensor, _fn.__name__, (lambda f: lambda self, a, b, *, beta=1, alpha=1: f(self, a, b, beta=beta,
                                                                                      alpha=alpha))(_fn))
    setattr(Tensor, _fn.__name__ + "_", _inplace(_fn))

__all__ = ["addmm", "addmv", "baddbmm", "addbmm"]
