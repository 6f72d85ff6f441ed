"""``TransformerEncoderLayer``: self-attention and a feed-forward block, each with a residual and a
LayerNorm (post-norm by default, pre-norm with ``norm_first``), and ``TransformerEncoder``, a stack
of copies of one layer with an optional final norm, as PyTorch's."""
import copy

from ... import _C
from .. import functional as F
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .container import ModuleList
from .flatten import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm


def _get_activation_fn(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class TransformerEncoderLayer(Module):
    """As ``torch.nn.TransformerEncoderLayer``: submodules ``self_attn``, ``linear1``, ``dropout``,
    ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2`` (so state dicts match PyTorch's).
    ``activation``: "relu", "gelu" or a callable. Always runs the composed (non-fused) path."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        factory = {"device": device, "dtype": dtype}
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        if activation is F.relu or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif activation is F.gelu or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal=is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal=is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """The (sz, sz) float causal mask: 0 on and below the diagonal, -inf above it (a position may
    attend to itself and to earlier positions only)."""
    dtype = _C.functions.get_default_dtype() if dtype is None else dtype
    return _C.functions.full([sz, sz], float("-inf"), dtype=dtype, device=device or "cpu").triu(1)


def _detect_is_causal_mask(mask, is_causal, size):
    """``is_causal`` when given; else whether ``mask`` is exactly the square causal mask (bool masks
    mark the positions that may not attend, as ``src_mask`` does)."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None or mask.dim() != 2 or mask.shape[0] != size or mask.shape[1] != size:
        return False
    causal = generate_square_subsequent_mask(size, device=mask.device, dtype=mask.dtype if mask.is_floating_point() else None)
    if mask.dtype == _C.dtype.bool:
        return bool((mask == causal.isinf()).all().item())
    return bool((mask == causal).all().item())


class TransformerEncoder(Module):
    """As ``torch.nn.TransformerEncoder``: ``num_layers`` deep copies of ``encoder_layer`` (named
    ``layers.0`` ... so state dicts match PyTorch's) applied in turn, then ``norm`` when given.
    ``is_causal=None`` detects a causal ``mask``. ``enable_nested_tensor`` is accepted and has no
    effect (gradcore has no nested tensors: padded positions are masked instead)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        seq_dim = 1 if getattr(self.layers[0].self_attn, "batch_first", False) and src.dim() == 3 else 0
        is_causal = _detect_is_causal_mask(mask, is_causal, src.shape[seq_dim])
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output
