"""Tensor functions written in Python over the native differentiable ops (narrow, index_select,
masked_fill, cat, ...): tril/triu, split/chunk/tensor_split, flip, roll, repeat_interleave, diag, bincount, unflatten.
Each is a ``gradcore.<name>`` function and, where PyTorch has one, a Tensor method; values and
gradients come from the ops they are built on."""
import operator

from . import _C
from ._C import Tensor

_F = _C.functions


def _wrap_dim(dim, ndim, op):
    try:
        dim = operator.index(dim)
    except TypeError:
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}") from None
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _check_tensor(x, op, arg="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position 1) must be Tensor, not {type(x).__name__}")


# ---- tril / triu ----

def _tri_mask(input, diagonal, lower):
    rows, cols = input.shape[-2], input.shape[-1]
    d = _F.arange(cols, device=input.device).unsqueeze(0) - _F.arange(rows, device=input.device).unsqueeze(-1)
    return d.le(diagonal) if lower else d.ge(diagonal)


def _tri(op, lower):
    def fn(input, diagonal=0, *, out=None):
        _check_tensor(input, op)
        if input.dim() < 2:
            raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions")
        res = input.masked_fill(_F.logical_not(_tri_mask(input, diagonal, lower)), 0)
        if out is not None:
            out.copy_(res)
            return out
        return res

    def fn_(self, diagonal=0):
        if self.dim() < 2:
            raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions")
        return self.masked_fill_(_F.logical_not(_tri_mask(self, diagonal, lower)), 0)

    fn.__name__, fn_.__name__ = op, op + "_"
    fn.__doc__ = (f"{op}(input, diagonal=0): the {'lower' if lower else 'upper'} triangle of the last two "
                  "dimensions (batched), the rest set to 0; ``diagonal`` shifts the kept diagonal.")
    return fn, fn_


tril, tril_ = _tri("tril", True)
triu, triu_ = _tri("triu", False)


# ---- split / chunk / tensor_split (views) ----

def split(tensor, split_size_or_sections, dim=0):
    """Splits into views: pieces of ``split_size`` (the last one smaller) or of the listed sizes."""
    _check_tensor(tensor, "split", "tensor")
    if tensor.dim() == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    dim = _wrap_dim(dim, tensor.dim(), "split")
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, Tensor) and split_size_or_sections.dim() == 0:
        split_size_or_sections = int(split_size_or_sections.item())
    by_sizes = isinstance(split_size_or_sections, (list, tuple, Tensor))
    if by_sizes:
        sizes = [int(s) for s in split_size_or_sections]
        for s in sizes:
            if s < 0:
                raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, "
                                   f"but got split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                               f"at dimension {dim}), but got split_sizes={sizes}")
    else:
        size = operator.index(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
        if size == 0 and n != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        if n == 0:
            sizes = [0]
        else:
            sizes = [size] * (n // size) + ([n % size] if n % size else [])
    return tuple(tensor._split_with_sizes(sizes, dim, by_sizes))


def chunk(input, chunks, dim=0):
    """Splits into ``chunks`` views of size ceil(n / chunks) (fewer when the division leaves none)."""
    _check_tensor(input, "chunk")
    if input.dim() == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    chunks = operator.index(chunks)
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    dim = _wrap_dim(dim, input.dim(), "chunk")
    n = input.shape[dim]
    size = (n + chunks - 1) // chunks
    if size == 0 and n == 0:
        return split(input, [0] * chunks, dim)
    return split(input, size, dim)


def tensor_split(input, indices_or_sections, dim=0):
    """Splits into views by a number of sections (the first ``n % sections`` one longer) or at indices."""
    _check_tensor(input, "tensor_split")
    if input.dim() == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    dim = _wrap_dim(dim, input.dim(), "tensor_split")
    n = input.shape[dim]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dtype != _C.dtype.int64:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have type long, "
                               f"but it's {ios.dtype}")
        if ios.dim() > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {ios.dim()} dims")
        ios = int(ios.item()) if ios.dim() == 0 else [int(i) for i in ios.tolist()]
    if isinstance(ios, (list, tuple)):
        bounds = []
        for i in ios:
            i = operator.index(i)
            bounds.append(min(max(i + n if i < 0 else i, 0), n))
        # PyTorch slices [prev, idx) with both clamped; a start past the end gives an empty piece.
        out, prev = [], 0
        for b in bounds + [n]:
            s, e = prev, b
            out.append(input.narrow(dim, min(s, n), max(e - s, 0)))
            prev = b
        return tuple(out)
    sections = operator.index(ios)
    if sections <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
    base, extra = divmod(n, sections)
    out, start = [], 0
    for size in [base + 1] * extra + [base] * (sections - extra):  # slices, as PyTorch's (SliceBackward0)
        out.append(input.narrow(dim, start, size))
        start += size
    return tuple(out)


def _dims_arg(dims, ndim, op):
    if isinstance(dims, (list, tuple)):
        dims = [_wrap_dim(d, ndim, op) for d in dims]
    else:
        dims = [_wrap_dim(dims, ndim, op)]
    return dims


# ---- flip / roll ----

def flip(input, dims):
    """Reverses the order of the elements along each of ``dims`` (a copy, as PyTorch's)."""
    _check_tensor(input, "flip")
    dims = _dims_arg(dims, input.dim(), "flip")
    seen = set()
    for d in dims:
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
    out = input
    for d in dims:
        if input.dim() == 0:
            break
        n = input.shape[d]
        out = out.index_select(d, _F.arange(n - 1, -1, -1, device=input.device))
    return out.clone() if out is input else out


def fliplr(input):
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, [1])


def flipud(input):
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, [0])


def _roll1(x, shift, d):
    n = x.shape[d]
    if n == 0:
        return x
    s = shift % n
    if s == 0:
        return x
    return _F.cat([x.narrow(d, n - s, s), x.narrow(d, 0, n - s)], d)


def roll(input, shifts, dims=None):
    """Rolls the elements along ``dims`` by ``shifts`` (wrapping round); no dims: over the flattened tensor."""
    _check_tensor(input, "roll")
    shifts = list(shifts) if isinstance(shifts, (list, tuple)) else [shifts]
    shifts = [operator.index(s) for s in shifts]
    if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        flat = input.reshape(-1)
        return _roll1(flat, shifts[0], 0).reshape(input.shape).clone() if flat.numel() else input.clone()
    dims = list(dims) if isinstance(dims, (list, tuple)) else [dims]
    if len(shifts) == 0:
        raise RuntimeError("`shifts` required")
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    dims = [_wrap_dim(d, input.dim(), "roll") for d in dims]
    out = input
    for s, d in zip(shifts, dims):
        out = _roll1(out, s, d)
    return out.clone() if out is input else out


# ---- repeat_interleave / diag ----

def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeats each element ``repeats`` times (an int, or a tensor of one count per element) along ``dim``
    (the flattened input when None). ``repeat_interleave(repeats)`` gives the indices 0.. repeated."""
    import numpy as np
    if repeats is None:  # torch.repeat_interleave(repeats_tensor)
        if not isinstance(input, Tensor) or input.dim() > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if input.dtype != _C.dtype.int64:
            raise RuntimeError("repeats has to be Long tensor")
        counts = input.tolist() if input.dim() else [input.item()]
        if any(c < 0 for c in counts):
            raise RuntimeError("repeats can not be negative")
        idx = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        if output_size is not None and output_size != len(idx):
            raise RuntimeError("allocated size does not match required size")
        return _F.from_numpy(idx).to(input.device)
    _check_tensor(input, "repeat_interleave")
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    else:
        dim = _wrap_dim(dim, input.dim(), "repeat_interleave")
        if input.dim() == 0:
            input = input.reshape(1)
    n = input.shape[dim]
    if isinstance(repeats, Tensor):
        if repeats.dim() > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if repeats.dtype != _C.dtype.int64:
            raise RuntimeError("repeats has to be Long tensor")
        counts = repeats.tolist() if repeats.dim() else [repeats.item()]
        if len(counts) == 1:
            counts = counts * n
        elif len(counts) != n:
            raise RuntimeError("repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{len(counts)} and input.size({dim}) = {n}")
    else:
        r = operator.index(repeats)
        counts = [r] * n
    if any(c < 0 for c in counts):
        raise RuntimeError("repeats can not be negative")
    idx = np.repeat(np.arange(n, dtype=np.int64), counts)
    if output_size is not None and output_size != len(idx):
        raise RuntimeError("allocated size does not match required size")
    return input.index_select(dim, _F.from_numpy(idx).to(input.device))


def diag(input, diagonal=0, *, out=None):
    """1-D input: a square matrix with ``input`` on the ``diagonal``-th diagonal; 2-D: that diagonal as a vector."""
    _check_tensor(input, "diag")
    k = operator.index(diagonal)
    if input.dim() == 1:
        n = input.shape[0]
        size = n + abs(k)
        pad = _F.zeros(abs(k), dtype=input.dtype, device=input.device)
        vp = _F.cat([input, pad])
        ar = _F.arange(size, device=input.device)
        mask = (ar.unsqueeze(0) - ar.unsqueeze(1)).eq(k)
        full = (vp.unsqueeze(1) if k >= 0 else vp.unsqueeze(0)).expand(size, size)
        res = full.masked_fill(_F.logical_not(mask), 0)
    elif input.dim() == 2:
        rows, cols = input.shape
        if k >= 0:
            length = max(min(rows, cols - k), 0)
            start = k
        else:
            length = max(min(rows + k, cols), 0)
            start = -k * cols
        idx = _F.arange(length, device=input.device) * (cols + 1) + start
        res = input.reshape(-1).index_select(0, idx)
    else:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D")
    if out is not None:
        out.copy_(res)
        return out
    return res


# ---- bincount ----

def bincount(input, weights=None, minlength=0):
    """Counts each value of a 1-D tensor of non-negative integers: ``out[v]`` is the number of
    times v occurs (or the sum of the ``weights`` where it occurs), for v in
    ``0 .. max(input.max() + 1, minlength) - 1``. Unweighted counts are int64; weights of float32
    give float32, any other weights float64 (PyTorch's result types)."""
    _check_tensor(input, "bincount")
    if input.is_floating_point() or input.dtype == _C.dtype.bool:
        raise NotImplementedError(f"bincount: not implemented for {input.dtype} input; it counts integers. "
                                  "Hint: convert with .long() first.")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    if input.dim() != 1 or (input.numel() and input.min().item() < 0):
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs (got shape "
                           f"{tuple(input.shape)}{', with negative values' if input.dim() == 1 else ''})")
    if weights is not None and (weights.dim() != 1 or weights.shape[0] != input.shape[0]):
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input "
                           f"(input {tuple(input.shape)}, weights {tuple(weights.shape)})")
    size = max(minlength, input.max().item() + 1 if input.numel() else 0)
    if weights is None:
        counts = _F.zeros(size, dtype=_C.dtype.int64, device=input.device)
        return counts.scatter_add_(0, input.long(), _F.ones(input.shape[0], dtype=_C.dtype.int64, device=input.device))
    dtype = _C.dtype.float32 if weights.dtype == _C.dtype.float32 else _C.dtype.float64
    out = _F.zeros(size, dtype=dtype, device=input.device)
    return out.scatter_add(0, input.long(), weights.to(dtype))


# ---- unflatten ----

def unflatten(input, dim, sizes):
    """Splits dimension ``dim`` into ``sizes`` (one entry may be -1): a view where the strides allow."""
    _check_tensor(input, "unflatten")
    d = _wrap_dim(dim, input.dim(), "unflatten")
    sizes = list(sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != input.shape[d]) or (
            sizes.count(-1) == 1 and (known == 0 or input.shape[d] % known)):
        raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {dim} "
                           f"({input.shape[d]}) in the input tensor")
    shape = list(input.shape)
    return input.reshape(shape[:d] + sizes + shape[d + 1:])


# ---- Tensor methods ----

def _split_method(self, split_size, dim=0):
    return split(self, split_size, dim)


def _flip_method(self, *dims):
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = dims[0]
    return flip(self, list(dims))


def _roll_method(self, shifts, dims=None):
    return roll(self, shifts, dims)


Tensor.tril = lambda self, diagonal=0: tril(self, diagonal)
Tensor.triu = lambda self, diagonal=0: triu(self, diagonal)
Tensor.tril_ = tril_
Tensor.triu_ = triu_
Tensor.split = _split_method
Tensor.chunk = lambda self, chunks, dim=0: chunk(self, chunks, dim)
Tensor.tensor_split = lambda self, indices_or_sections, dim=0: tensor_split(self, indices_or_sections, dim)
Tensor.flip = _flip_method
Tensor.fliplr = fliplr
Tensor.flipud = flipud
Tensor.roll = _roll_method
Tensor.repeat_interleave = lambda self, repeats=None, dim=None, *, output_size=None: repeat_interleave(
    self, repeats, dim, output_size=output_size)
Tensor.diag = lambda self, diagonal=0: diag(self, diagonal)
Tensor.unflatten = lambda self, dim, sizes: unflatten(self, dim, sizes)
Tensor.bincount = lambda self, weights=None, minlength=0: bincount(self, weights, minlength)

__all__ = ["tril", "triu", "split", "chunk", "tensor_split", "flip", "fliplr", "flipud", "roll",
           "repeat_interleave", "diag", "bincount", "unflatten"]
