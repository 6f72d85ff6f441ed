"""``gradcheck``: analytical gradients (the autograd graph) against central finite differences.

For every input ``x_j`` that requires grad and every differentiable output ``y_i``, two Jacobians
of shape ``(x_j.numel(), y_i.numel())`` are built, as in torch.autograd.gradcheck's slow mode:

    numerical[a, b]  = (y_i(x_j + eps e_a)[b] - y_i(x_j - eps e_a)[b]) / (2 eps)
    analytical[:, b] = autograd.grad(y_i, x_j, grad_outputs=e_b)       (one backward per b)

and must satisfy ``|analytical - numerical| <= atol + rtol * |numerical|`` element-wise. The
backward pass is run twice and must give the same values (within ``nondet_tol``).

Central differences have error O(eps^2) from truncation and O(ulp / eps) from rounding, so the
check is meaningful in float64 only; float32 inputs trigger a warning, as in PyTorch.
"""
import warnings

import numpy as np

from .. import _C
from .._C import Tensor
from .._tensor import tensor


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when the analytical and numerical gradients disagree."""


def _as_tuple(x):
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _float_outputs(out):
    return [o for o in _as_tuple(out) if isinstance(o, Tensor) and o.dtype.is_floating_point]


def _check_inputs(inputs):
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True. Hint: create the inputs with requires_grad=True.")
    for i in diff:
        x = inputs[i]
        if x.dtype != _C.dtype.float64:
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point. This check "
                          "will likely fail if all the inputs are not of double precision floating point "
                          f"(got {x.dtype}). Hint: pass x.double() inputs.", UserWarning, stacklevel=3)
        if any(st == 0 and n > 1 for st, n in zip(x.stride(), x.shape)):
            raise RuntimeError(f"gradcheck: the {i}th input (shape {list(x.shape)}) has a dimension with stride 0 "
                               "(it is expanded), so its elements overlap and cannot be perturbed one at a time. "
                               "Hint: call .contiguous() on the input before passing it to gradcheck.")
    return diff


def _numerical_jacobians(func, inputs, index, eps, out_sizes):
    """One float64 array (input numel, output numel) per floating output of func, by central
    differences on input `index`, perturbed in place through a NumPy view of its storage."""
    x = inputs[index]
    view = x.detach().numpy()
    cols = [np.zeros((x.numel(), n)) for n in out_sizes]
    for row, pos in enumerate(np.ndindex(*view.shape)):
        orig = view[pos].copy()
        view[pos] = orig - eps
        minus = [o.detach().numpy().astype(np.float64).reshape(-1) for o in _float_outputs(func(*inputs))]
        view[pos] = orig + eps
        plus = [o.detach().numpy().astype(np.float64).reshape(-1) for o in _float_outputs(func(*inputs))]
        view[pos] = orig
        for jac, p, m in zip(cols, plus, minus):
            jac[row] = (p - m) / (2 * eps)
    return cols


def _analytical_jacobians(output, inputs, diff):
    """One float64 array (input numel, output numel) per input in `diff`: column b is the VJP
    with the b-th unit grad_output, computed with the graph retained."""
    out = [np.zeros((inputs[i].numel(), output.numel())) for i in diff]
    unit = np.zeros(output.numel(), dtype=output.detach().numpy().dtype)
    for b in range(output.numel()):
        unit[:] = 0
        unit[b] = 1
        grad_out = _C._tensor_from_array(unit.reshape(tuple(output.shape)), output.dtype, False)
        grads = _C._run_grad([output], [grad_out], [inputs[i] for i in diff], True, True)
        for jac, g in zip(out, grads):
            if g is not None:
                jac[:, b] = g.detach().numpy().astype(np.float64).reshape(-1)
    return out


def _mismatch_message(out_pos, in_pos, numerical, analytical, atol, rtol):
    err = np.abs(analytical - numerical) - (atol + rtol * np.abs(numerical))
    err = np.where(np.isnan(err), np.inf, err)
    r, c = np.unravel_index(int(np.argmax(err)), err.shape)
    return (f"Jacobian mismatch for output {out_pos} with respect to input {in_pos},\n"
            f"numerical:{tensor(numerical)!r}\nanalytical:{tensor(analytical)!r}\n"
            f"The worst element is [{r}, {c}] (input element {r}, output element {c}): numerical "
            f"{numerical[r, c]:.6g}, analytical {analytical[r, c]:.6g}, allowed difference "
            f"atol + rtol * |numerical| = {atol + rtol * abs(numerical[r, c]):.3g}. Hint: check the backward "
            "formula for this input; if the function is not smooth at this point, move the inputs away from it.")


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0):
    r"""Checks the gradients computed by autograd against finite differences (torch.autograd.gradcheck).

    Args:
        func: a function of ``inputs`` returning a tensor or a tuple of tensors.
        inputs: a tensor or a tuple of inputs (tensors that require grad are checked; other
            values are passed through). Use float64 tensors.
        eps: the finite-difference step.
        atol, rtol: tolerances, ``|analytical - numerical| <= atol + rtol * |numerical|``.
        raise_exception: raise ``GradcheckError`` on a mismatch (else return False).
        nondet_tol: how far two backward passes with the same inputs may differ.

    Gradients always come back in their input's dtype (the engine casts them), so PyTorch's
    ``check_grad_dtypes`` has nothing to check here and is not an argument.

    Returns:
        True when every Jacobian matches.
    """
    try:
        return _gradcheck(func, _as_tuple(inputs), eps, atol, rtol, nondet_tol)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _gradcheck(func, inputs, eps, atol, rtol, nondet_tol):
    diff = _check_inputs(inputs)
    func_out = _as_tuple(func(*inputs))
    # Positions (in func's output tuple) of the floating outputs, which the numerical Jacobians follow.
    positions = [p for p, o in enumerate(func_out) if isinstance(o, Tensor) and o.dtype.is_floating_point]
    sizes = [func_out[p].numel() for p in positions]
    numerical = {j: _numerical_jacobians(func, inputs, j, eps, sizes) for j in diff}
    if not any(func_out[p].requires_grad for p in positions):
        for j in diff:
            if any(np.any(jac != 0) for jac in numerical[j]):
                raise GradcheckError("Numerical gradient for function expected to be zero: no output requires grad, "
                                     f"but the outputs change when input {j} does. Hint: the function detaches its "
                                     "result or computes it under no_grad.")
        return True
    for k, p in enumerate(positions):
        out = func_out[p]
        if not out.requires_grad:
            continue
        first = _analytical_jacobians(out, inputs, diff)
        second = _analytical_jacobians(out, inputs, diff)
        for j, a in zip(diff, first):
            n = numerical[j][k]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                raise GradcheckError(_mismatch_message(p, j, n, a, atol, rtol))
        for j, a1, a2 in zip(diff, first, second):
            if a1.size and np.max(np.abs(a1 - a2)) > nondet_tol:
                raise GradcheckError(
                    f"Backward is not reentrant, i.e., running backward with same input and grad_output multiple "
                    f"times gives different values, although analytical gradient matches numerical gradient (output "
                    f"{p}, input {j}, largest difference {np.max(np.abs(a1 - a2)):.3g}). The tolerance for "
                    f"nondeterminism was {nondet_tol}. Hint: pass nondet_tol=<tol> if the backward is "
                    "nondeterministic by design.")
    return True
