"""``Linear`` and ``Identity``."""

from ... import _C
from .. import init
from ..parameter import Parameter
from .module import Module


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are ignored."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features).

    Initialised as PyTorch does: W ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in_features),
    1/sqrt(in_features)), and b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {v!r}")
        self.in_features = in_features
        self.out_features = out_features
        factory = {"device": device, "dtype": dtype}
        self.weight = Parameter(_C.functions.empty((out_features, in_features), **factory))
        if bias:
            self.bias = Parameter(_C.functions.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init._default_weight_and_bias_(self.weight, self.bias)

    def forward(self, input):
        return self._run(_C._linear, input)

    def _forward_relu(self, input):
        """relu(self(input)) as one fused op: nn.Sequential calls it for a Linear followed by a ReLU."""
        return self._run(_C._linear_relu, input)

    def _run(self, op, input):
        params = self._parameters
        try:
            return op(input, params["weight"], params["bias"])
        except (RuntimeError, TypeError) as e:
            if type(e) not in (RuntimeError, TypeError):
                raise
            # The native op names the shapes; add which layer got them.
            got = (f"shape {list(input.shape)} ({input.dtype})" if isinstance(input, _C.Tensor)
                   else f"type {type(input).__name__}")
            raise type(e)(f"{self!r} got an input of {got}; it expects shape (*, {self.in_features}) "
                          f"({self.weight.dtype}). {e}") from None

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
