"""``gradcore.einsum``: Einstein summation composed from views, sums and bmm, the way PyTorch's own
implementation (aten/src/ATen/native/Linear.cpp) does it, so values and gradients come from those ops.

1. Parse: one subscript string per operand (letters, at most one ``...``), the output after ``->``
   or, when absent, the ellipsis dims followed by the labels used once, in sorted order.
2. A label repeated in one operand takes the diagonal (an ``as_strided`` view).
3. Every operand is permuted to one label order (output labels, then contracted ones) with size-1
   dims for labels it lacks, so operands broadcast against each other.
4. Operands are combined left to right. A contracted label is summed at the first step after which
   no later operand uses it: on one side alone by ``sum`` when the other has size 1 there, otherwise
   by one ``bmm`` over (shared kept dims) x (left-only dims) x (summed dims) x (right-only dims).
"""
from . import _C
from ._C import Tensor

_F = _C.functions


def _parse_term(term, pos):
    """The labels of one subscript term; '...' is None. pos: where the term starts in the equation."""
    labels, i = [], 0
    while i < len(term):
        c = term[i]
        if c == ".":
            if term[i:i + 3] != "..." or None in labels:
                raise RuntimeError(f"einsum(): found '.' for operand at position {pos + i} that is not part of any "
                                   "ellipsis, or more than one ellipsis in a subscript")
            labels.append(None)
            i += 3
            continue
        if not c.isascii() or not c.isalpha():
            raise RuntimeError(f"einsum(): invalid subscript given at index {pos + i} in the equation string, "
                               "subscripts must be in [a-zA-Z]")
        labels.append(c)
        i += 1
    return labels


def _sublist_equation(args):
    """einsum(op0, sublist0, op1, sublist1, ..., [out_sublist]) as an equation and operands."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

    def term(sub):
        out = ""
        for s in sub:
            if s is Ellipsis:
                out += "..."
            elif isinstance(s, int) and 0 <= s < 52:
                out += letters[s]
            else:
                raise ValueError(f"einsum(): expected subscript to be within the range [0, 52), but got {s}")
        return out

    operands, terms = list(args[0::2]), [term(s) for s in args[1::2]]
    if len(args) % 2 == 1:  # an output sublist at the end
        operands.pop()
        return ",".join(terms[:len(operands)]) + "->" + term(args[-1]), operands
    return ",".join(terms), operands


def _diagonal(x, labels):
    """x with each label repeated among its dims reduced to one dim (the diagonal), and its labels."""
    if len(set(labels)) == len(labels):
        return x, labels
    x = x.contiguous()  # a differentiable as_strided reads a contiguous layout
    shape, strides = list(x.shape), list(x.stride())
    out_labels, out_shape, out_strides = [], [], []
    for d, lab in enumerate(labels):
        if lab in out_labels:
            k = out_labels.index(lab)
            if out_shape[k] != shape[d]:
                raise RuntimeError(f"einsum(): subscript {lab} is repeated for operand but the sizes don't match, "
                                   f"{out_shape[k]} != {shape[d]}")
            out_strides[k] += strides[d]
        else:
            out_labels.append(lab)
            out_shape.append(shape[d])
            out_strides.append(strides[d])
    return x.as_strided(out_shape, out_strides, x.storage_offset()), out_labels


def _sumproduct_pair(a, b, sum_dims):
    """sum over sum_dims of a * b (same rank, broadcasting); summed dims are kept with size 1."""
    for d in sum_dims:
        if a.shape[d] == 1 and b.shape[d] != 1:
            b = b.sum(d, keepdim=True)
        elif b.shape[d] == 1 and a.shape[d] != 1:
            a = a.sum(d, keepdim=True)
    lro, lo, ro, sm = [], [], [], []
    for d in range(a.dim()):
        sa, sb = a.shape[d], b.shape[d]
        if sa != sb and sa != 1 and sb != 1:
            raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes {tuple(a.shape)} and "
                               f"{tuple(b.shape)} (dim {d}: {sa} vs {sb})")
        if d in sum_dims:
            (sm if sa != 1 else lo).append(d)
        elif sa != 1 and sb != 1:
            lro.append(d)
        elif sb != 1:
            ro.append(d)
        else:
            lo.append(d)

    def prod(dims, t):
        n = 1
        for d in dims:
            n *= t.shape[d]
        return n

    B, LO, S, RO = prod(lro, a), prod(lo, a), prod(sm, a), prod(ro, b)
    a3 = a.permute(lro + lo + sm + ro).reshape(B, LO, S)
    b3 = b.permute(lro + sm + ro + lo).reshape(B, S, RO)
    r = _F.bmm(a3, b3)
    order = lro + lo + ro + sm
    r = r.reshape([a.shape[d] for d in lro + lo] + [b.shape[d] for d in ro] + [1] * len(sm))
    inverse = [0] * len(order)
    for i, d in enumerate(order):
        inverse[d] = i
    return r.permute(inverse)


def einsum(*args):
    """einsum(equation, *operands): sums the product of the operands' elements over the indices the
    equation contracts (``'ij,jk->ik'`` is a matrix product, ``'ii'`` a trace, ``'bij,bjk->bik'`` bmm,
    ``'...ij->...ji'`` a batched transpose). Operands may also come as one list, or in the sublist
    form ``einsum(op0, [0, 1], op1, [1, 2], [0, 2])``."""
    if len(args) == 0:
        raise TypeError("einsum(): must specify the equation string and at least one operand, or at least one "
                        "operand and its subscripts list")
    if isinstance(args[0], str):
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
    else:
        equation, operands = _sublist_equation(args)
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): operand {i} must be Tensor, not {type(t).__name__}")
    # PyTorch's einsum is a composite: where autocast lists it (CUDA) its operands are cast and its insides
    # run below autocast; elsewhere (CPU) its insides (bmm) are cast one by one.
    if not operands or _C._autocast_policy(operands[0].device.type, "einsum") is None:
        return _einsum(equation, operands)
    operands = [_C._autocast("einsum", t) for t in operands]
    saved = _C._autocast_suspend()
    try:
        return _einsum(equation, operands)
    finally:
        _C._autocast_resume(saved)


def _einsum(equation, operands):
    """The equation applied to the operands: steps 1-4 of the module's docstring."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms, pos = [], 0
    for t in lhs.split(","):
        terms.append(_parse_term(t, pos))
        pos += len(t) + 1
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")

    # Expand each ellipsis into labels (0, k) for the k-th broadcast dim, aligned on the right.
    n_ell = 0
    for i, (t, x) in enumerate(zip(terms, operands)):
        named = len(t) - (None in t)
        if (None in t and x.dim() < named) or (None not in t and x.dim() != named):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does not match the "
                               f"number of dimensions ({x.dim()}) for operand {i}"
                               + ("" if None in t else " and no ellipsis was given"))
        n_ell = max(n_ell, x.dim() - named)
    ell_labels = [(0, k) for k in range(n_ell)]
    labelled = []
    for t, x in zip(terms, operands):
        k = x.dim() - (len(t) - (None in t))
        labs = []
        for lab in t:
            labs.extend(ell_labels[n_ell - k:] if lab is None else [lab])
        labelled.append(_diagonal(x, labs))

    counts = {}
    for t in terms:
        for lab in t:
            if lab is not None:
                counts[lab] = counts.get(lab, 0) + 1
    if arrow:
        out_terms = _parse_term(rhs, len(lhs) + 2)
        out_labels = []
        for lab in out_terms:
            if lab is None:
                out_labels.extend(ell_labels)
                continue
            if lab in out_labels:
                raise RuntimeError(f"einsum(): output subscript {lab} appears more than once in the output")
            if lab not in counts:
                raise RuntimeError(f"einsum(): output subscript {lab} does not appear in the equation for any "
                                   "input operand")
            out_labels.append(lab)
    else:
        out_labels = ell_labels + sorted(lab for lab, n in counts.items() if n == 1)
    contracted = []
    for _, labs in labelled:
        for lab in labs:
            if lab not in out_labels and lab not in contracted:
                contracted.append(lab)
    order = out_labels + contracted

    aligned = []
    for x, labs in labelled:
        x = x.permute([labs.index(lab) for lab in order if lab in labs])
        sizes = iter(x.shape)
        aligned.append(x.reshape([next(sizes) if lab in labs else 1 for lab in order]))
    present = [set(labs) for _, labs in labelled]
    n_out = len(out_labels)
    result = aligned[0]
    if len(aligned) == 1:
        if contracted:
            result = result.sum(list(range(n_out, len(order))), keepdim=True)
    for i in range(1, len(aligned)):
        later = set().union(*present[i + 1:]) if i + 1 < len(present) else set()
        sum_dims = [n_out + j for j, lab in enumerate(contracted) if lab not in later]
        result = _sumproduct_pair(result, aligned[i], sum_dims)
    return result.reshape(list(result.shape[:n_out]))

__all__ = ["einsum"]
