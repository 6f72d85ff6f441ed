"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` and the cells ``RNNCell``, ``LSTMCell``, ``GRUCell``,
with PyTorch's arguments, parameter names, gate order and initialisation, so that state dicts load
both ways. Each layer and direction is one native op (``_C._nn.rnn_layer``): the input projections
of all steps in one GEMM, per step one GEMM and one fused gate kernel, and one backward node that
runs backpropagation through time in C++. Python only loops over layers and directions."""
import math
import numbers
import warnings

from ... import _C
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

_fns = _C.functions
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _run_layers(mode, input, hx, cx, weights, num_layers, num_directions, dropout, training):
    """The stacked layers over ``input`` (seq_len, batch, features): each layer's directions run
    on the previous layer's output (concatenated over directions, with dropout in training
    between layers). ``weights[k]`` is (w_ih, w_hh, b_ih, b_hh, w_hr) of layer k // D, direction
    k % D (biases and w_hr None when absent).
    Returns (output, h_n, c_n), h_n and c_n stacked as (num_layers * D, batch, hidden)."""
    h_n, c_n = [], []
    x = input
    for layer in range(num_layers):
        outs = []
        for d in range(num_directions):
            k = layer * num_directions + d
            w_ih, w_hh, b_ih, b_hh, w_hr = weights[k]
            out, h, c = _C._nn.rnn_layer(mode, x, hx[k], None if cx is None else cx[k], w_ih, w_hh, b_ih, b_hh,
                                         d == 1, w_hr)
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
        x = outs[0] if num_directions == 1 else _fns.cat(outs, 2)
        if dropout > 0 and training and layer < num_layers - 1:
            x = F.dropout(x, dropout, True)
    return x, _fns.stack(h_n, 0), None if cx is None else _fns.stack(c_n, 0)


class RNNBase(Module):
    """The stacked, optionally bidirectional recurrent layer behind ``RNN``, ``LSTM`` and ``GRU``.

    Layer l, direction d (suffix ``_reverse``) owns ``weight_ih_l{l}`` (G * hidden_size,
    input features), ``weight_hh_l{l}`` (G * hidden_size, hidden_size) and, with ``bias``,
    ``bias_ih_l{l}`` and ``bias_hh_l{l}`` (G * hidden_size), G gates stacked in PyTorch's order;
    all start from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). An LSTM with ``proj_size`` > 0
    adds ``weight_hr_l{l}`` (proj_size, hidden_size): h_t = W_hr (o_t * tanh(c_t)), so h, the
    output and weight_hh's columns are proj_size wide.
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        for name, v, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                              ("input_size", input_size, int), ("hidden_size", hidden_size, int)):
            if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
                raise TypeError(f"{name} should be of type {kind.__name__}, got: {type(v).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size > 0 and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        factory = {"device": device, "dtype": dtype}
        self._flat_weights_names = []
        self._all_weights = []
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                names = []
                for kind, shape in shapes:
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(_fns.empty(shape, **factory)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self):
        """Kept for PyTorch compatibility: the weights are always used where they are (a no-op)."""

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _layer_weights(self):
        """(w_ih, w_hh, b_ih, b_hh, w_hr) per layer and direction, None where absent."""
        params = self._parameters
        kinds = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        out = []
        for names in self._all_weights:
            by_kind = {n.split("_l")[0]: params[n] for n in names}
            out.append(tuple(by_kind.get(k) for k in kinds))
        return out

    def _prepare(self, input, hx, cx):
        """Checks the input and states as PyTorch does; returns the input as (seq, batch, feature),
        the states as (num_layers * D, batch, hidden) (zeros when not given; the cell state None
        but for LSTM) and whether the input was batched."""
        name = "LSTM" if self.mode == "LSTM" else "RNN"
        if not isinstance(input, _C.Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            tail = "instead" if self.mode == "LSTM" else "tensor instead"
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D {tail}")
        is_batched = input.dim() == 3
        states = [s for s in (hx, cx) if s is not None]
        want = 3 if is_batched else 2
        if any(s.dim() != want for s in states):
            kind = "batched 3-D" if is_batched else "unbatched 2-D"
            if self.mode == "LSTM":
                dims = ", ".join(f"{s.dim()}-D" for s in states)
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got ({dims}) tensors")
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {hx.dim()}-D tensor")
        if not is_batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
            hx = None if hx is None else hx.unsqueeze(1)
            cx = None if cx is None else cx.unsqueeze(1)
        weight = self._parameters["weight_ih_l0"]
        if input.dtype != weight.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                             f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})")
        if input.size(-1) != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.size(-1)}")
        if self.batch_first:
            input = input.transpose(0, 1)
        lead = (self.num_layers * (2 if self.bidirectional else 1), input.shape[1])
        states = []
        for i, s in enumerate((hx, cx) if self.mode == "LSTM" else (hx,)):
            expected = lead + (self.proj_size if i == 0 and self.proj_size > 0 else self.hidden_size,)
            if s is None:
                states.append(_fns.zeros(expected, dtype=input.dtype, device=input.device))
                continue
            if tuple(s.shape) != expected:
                what = "hidden size" if self.mode != "LSTM" else f"hidden[{i}] size"
                raise RuntimeError(f"Expected {what} {expected}, got {list(s.shape)}")
            states.append(s)
        return input, states[0], states[1] if len(states) > 1 else None, is_batched

    def _run(self, input, hx, cx):
        x, h0, c0, is_batched = self._prepare(input, hx, cx)
        out, h_n, c_n = _run_layers(self.mode, x, h0, c0, self._layer_weights(),
                                    self.num_layers, 2 if self.bidirectional else 1, self.dropout, self.training)
        if self.batch_first:
            out = out.transpose(0, 1)
        if not is_batched:
            out = out.squeeze(0 if self.batch_first else 1)
            h_n = h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        return out, h_n, c_n

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _no_projection(proj_size):
    """RNN and GRU take ``proj_size`` only to refuse it (in the place PyTorch's take it)."""
    if proj_size is not None:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (``nonlinearity='relu'``:
    relu). ``forward(input, hx=None)`` returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=None, device=None, dtype=None):
        _no_projection(proj_size)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        out, h_n, _ = self._run(input, hx, None)
        return out, h_n


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o):
    i, f, o = sigmoid(x W_i*^T + b_i* + h W_h*^T + b_h*), g = tanh(...), c' = f c + i g,
    h' = o tanh(c') (times W_hr^T with ``proj_size`` > 0). ``forward(input, hx=None)`` with
    hx = (h_0, c_0) returns (output, (h_n, c_n))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        h0, c0 = (None, None) if hx is None else hx
        out, h_n, c_n = self._run(input, h0, c0)
        return out, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n): r, z = sigmoid(x W_i*^T + b_i* + h W_h*^T + b_h*),
    n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)), h' = (1 - z) n + z h.
    ``forward(input, hx=None)`` returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=None, device=None, dtype=None):
        _no_projection(proj_size)
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx=None):
        out, h_n, _ = self._run(input, hx, None)
        return out, h_n


class RNNCellBase(Module):
    """One step of a recurrent layer: ``weight_ih`` (G * hidden_size, input_size), ``weight_hh``
    (G * hidden_size, hidden_size), ``bias_ih`` and ``bias_hh`` (G * hidden_size), initialised from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). A call is one native op and one graph node."""

    def __init__(self, mode, input_size, hidden_size, bias, device=None, dtype=None):
        super().__init__()
        self._mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = _GATES[mode] * hidden_size
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(_fns.empty((gate_size, input_size), **factory))
        self.weight_hh = Parameter(_fns.empty((gate_size, hidden_size), **factory))
        if bias:
            self.bias_ih = Parameter(_fns.empty(gate_size, **factory))
            self.bias_hh = Parameter(_fns.empty(gate_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _step(self, name, input, states):
        """The cell over a 1-D or 2-D input; states (1-D or 2-D, or None: zeros). Returns (h', c')
        (c' None but for LSTM), unbatched when the input was."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for i, s in enumerate(states):
            if s is not None and s.dim() not in (1, 2):
                what = "hidden" if len(states) == 1 else f"hx[{i}]"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {s.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        zeros = None
        full = []
        for s in states:
            if s is None:
                if zeros is None:
                    zeros = _fns.zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
                s = zeros
            elif not is_batched:
                s = s.unsqueeze(0)
            full.append(s)
        p = self._parameters
        h, _, c = _C._nn.rnn_layer(self._mode, input, full[0], full[1] if len(full) > 1 else None, p["weight_ih"],
                                   p["weight_hh"], p["bias_ih"], p["bias_hh"])
        if not is_batched:
            h = h.squeeze(0)
            c = None if c is None else c.squeeze(0)
        return h, c

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); ``forward(input, hx=None)``."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, bias,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._step("RNNCell", input, [hx])[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); ``forward(input, hx=None)`` with hx = (h, c) returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return self._step("LSTMCell", input, [None, None] if hx is None else list(hx))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n); ``forward(input, hx=None)`` returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return self._step("GRUCell", input, [hx])[0]
