"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights."""
from .. import _C
from .._C import Tensor


class Parameter(Tensor):
    """A Tensor that, assigned as an attribute of a :class:`Module`, is added to its parameters.

    ``Parameter(data)`` shares ``data``'s storage and is a fresh leaf with ``requires_grad=True``
    (unless told otherwise); ``Parameter()`` holds an empty tensor. Ops on a Parameter return plain
    Tensors, so only the leaf itself is a Parameter.

    Args:
        data (Tensor): parameter tensor (any shape, 0-dim included).
        requires_grad (bool): whether the parameter requires gradient. Default: ``True``.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = _C.functions.empty(0)
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor as data, got {type(data).__name__}. "
                            "Hint: wrap it first, e.g. nn.Parameter(gradcore.tensor(data))")
        super().__init__(data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__  # Tensor defines its own __str__; print(p) shows the header too, as PyTorch's
