"""Tensor printing: ``repr(t)`` and ``str(t)`` exactly as PyTorch 2.x prints them.

The algorithm is torch/_tensor_str.py's, step for step, so that the output matches character
for character: one ``_Formatter`` looks at all the values that will be shown (the summarised
corners when the tensor has more than ``threshold`` elements) and picks a common width, fixed
or scientific notation, and "integer mode" (``1.`` for integral floats); then nested lists are
laid out with rows wrapped at ``linewidth`` and the suffixes (``dtype=``, ``grad_fn=``...)
appended, wrapping to a new line when they would overflow it.

The values are read through a NumPy view of the tensor, so printing runs no gradcore ops and
builds no graph.
"""
import contextlib
import dataclasses
import math
import sys
from typing import Optional

import numpy as np

from . import _C
from ._C import Tensor


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: Optional[bool] = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    r"""Set options for printing (as ``torch.set_printoptions``).

    Args:
        precision: digits after the decimal point for floating point output (default 4).
        threshold: total number of elements above which the repr is summarised with ``...``
            (default 1000).
        edgeitems: items shown at the beginning and end of each dimension when summarising
            (default 3).
        linewidth: characters per line before wrapping (default 80).
        profile: ``'default'``, ``'short'`` or ``'full'``: sets the options above at once; the
            other arguments override it.
        sci_mode: ``True``/``False`` forces scientific notation on or off; ``None`` (the default,
            and what every call without it resets to, as in PyTorch) lets the formatter decide.
    """
    if profile is not None:
        if profile == "default":
            PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, 1000, 3, 80
        elif profile == "short":
            PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 1000, 2, 80
        elif profile == "full":
            PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, math.inf, 3, 80
        else:
            raise ValueError(f"set_printoptions: unknown profile '{profile}'; expected 'default', 'short' or 'full'")
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    """The current print options as a dict that ``set_printoptions(**d)`` accepts."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager that sets print options and restores the previous ones on exit."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Chooses one width and notation for every value shown, as torch's _Formatter does."""

    def __init__(self, values):
        self.floating_dtype = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if flat.size == 0:
            return
        if not self.floating_dtype:
            # str() of an int is longest at the largest or the most negative value.
            shown = np.unique(flat).tolist() if flat.dtype.kind == "b" else [flat.min().item(), flat.max().item()]
            self.max_width = max([self.max_width] + [len(f"{v}") for v in shown])
            return
        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:
            return
        nonzero_abs = np.abs(vals).astype(np.float64)
        lo, hi = nonzero_abs.min(), nonzero_abs.max()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        if PRINT_OPTS.sci_mode is None:
            with np.errstate(over="ignore"):  # hi / lo may overflow to inf: then it is > 1000
                self.sci_mode = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        # Within one sign, the printed length of a value (fixed or scientific) never decreases
        # as |value| moves away from the threshold where its digit count or exponent width
        # changes; the longest strings are therefore at the extremes of each sign's range.
        pos, neg = vals[vals > 0], vals[vals < 0]
        shown = [x.item() for part in (pos, neg) if part.size for x in (part.min(), part.max())]
        p = PRINT_OPTS.precision
        if self.sci_mode:
            widths = [len(f"{{:.{p}e}}".format(v)) for v in shown]
        elif self.int_mode:
            widths = [len(f"{v:.0f}") + 1 for v in shown]
        else:
            widths = [len(f"{{:.{p}f}}".format(v)) for v in shown]
        self.max_width = max([self.max_width] + widths)

    def width(self):
        return self.max_width

    def format(self, value):
        if self.floating_dtype:
            if self.sci_mode:
                ret = f"{{:{self.max_width}.{PRINT_OPTS.precision}e}}".format(value)
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{{:.{PRINT_OPTS.precision}f}}".format(value)
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _vector_str(values, indent, summarize, formatter):
    element_length = formatter.width() + 2  # ", " between elements
    elements_per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        data = ["..."]
    elif summarize and values.shape[0] > 2 * edge:
        data = ([formatter.format(v) for v in values[:edge].tolist()] + [" ..."]
                + [formatter.format(v) for v in values[-edge:].tolist()])
    else:
        data = [formatter.format(v) for v in values.tolist()]
    lines = [", ".join(data[i:i + elements_per_line]) for i in range(0, len(data), elements_per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(values, indent, summarize, formatter):
    dim = values.ndim
    if dim == 0:
        return formatter.format(values.item())
    if dim == 1:
        return _vector_str(values, indent, summarize, formatter)
    edge = PRINT_OPTS.edgeitems
    n = values.shape[0]
    if summarize and n > 2 * edge:
        rows = list(range(edge)) + [None] + list(range(n - edge, n))
    else:
        rows = range(n)
    slices = ["..." if i is None else _tensor_str_with_formatter(values[i], indent + 1, summarize, formatter)
              for i in rows]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _summarized_data(values):
    """The elements a summarised print shows (torch's get_summarized_data), for the formatter."""
    dim = values.ndim
    edge = PRINT_OPTS.edgeitems
    if dim == 0:
        return values
    if dim == 1:
        if values.shape[0] > 2 * edge:
            # values[-0:] is the whole vector: with edgeitems=0 PyTorch's formatter sees every
            # element, and so does this one.
            return np.concatenate((values[:edge], values[-edge:]))
        return values
    if not edge:
        return np.empty([0] * dim, dtype=values.dtype)
    n = values.shape[0]
    rows = list(range(edge)) + list(range(n - edge, n)) if n > 2 * edge else range(n)
    return np.stack([_summarized_data(values[i]) for i in rows])


def _tensor_str(values, indent):
    if values.size == 0:
        return "[]"
    summarize = values.size > PRINT_OPTS.threshold
    formatter = _Formatter(_summarized_data(values) if summarize else values)
    return _tensor_str_with_formatter(values, indent, summarize, formatter)


def _add_suffixes(tensor_str, suffixes, indent, force_newline):
    tensor_strs = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        suffix_len = len(suffix)
        if force_newline or last_line_len + suffix_len + 2 > PRINT_OPTS.linewidth:
            tensor_strs.append(",\n" + " " * indent + suffix)
            last_line_len = indent + suffix_len
            force_newline = False
        else:
            tensor_strs.append(", " + suffix)
            last_line_len += suffix_len + 2
    tensor_strs.append(")")
    return "".join(tensor_strs)


def _parameter_class():
    nn = sys.modules.get("gradcore.nn")
    return getattr(nn, "Parameter", None)


def _str(self):
    """``Tensor.__repr__``: ``tensor([...], dtype=..., grad_fn=<...>)`` as PyTorch prints it."""
    parameter = _parameter_class()
    is_plain = type(self) is Tensor or (parameter is not None and type(self) is parameter)
    prefix = "tensor(" if is_plain else f"{type(self).__name__}("
    indent = len(prefix)
    suffixes = []
    if self.device.type != "cpu":
        suffixes.append("device='" + str(self.device) + "'")
    default_dtype = _C.functions.get_default_dtype()
    if self.numel() == 0:
        # NumPy's rule: the shape is shown unless it is (0,); with no element to show its
        # type, every dtype but the default one is named.
        if self.dim() != 1:
            suffixes.append("size=" + str(tuple(self.shape)))
        if self.dtype != default_dtype:
            suffixes.append("dtype=" + str(self.dtype))
        tensor_str = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append("size=" + str(tuple(self.shape)))
        if self.dtype not in (default_dtype, _C.dtype.int64, _C.dtype.bool):
            suffixes.append("dtype=" + str(self.dtype))
        shown = self.detach().cpu()
        if shown.dtype == _C.dtype.bfloat16:  # NumPy has no bfloat16; float32 holds every value exactly
            shown = shown.float()
        tensor_str = _tensor_str(shown.numpy(), indent)
    if self.grad_fn is not None:
        suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
    elif self.requires_grad:
        suffixes.append("requires_grad=True")
    string_repr = _add_suffixes(prefix + tensor_str, suffixes, indent, force_newline=False)
    if parameter is not None and isinstance(self, parameter) and not is_plain:
        string_repr = f"Parameter({string_repr})"
    return string_repr


def _format(self, format_spec):
    """``format(t, spec)``: a 0-dim tensor formats as its Python number (``f"{loss:.4f}"``)."""
    if self.dim() == 0 and type(self) is Tensor:
        return self.detach().item().__format__(format_spec)
    return object.__format__(self, format_spec)
