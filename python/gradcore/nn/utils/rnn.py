"""``gradcore.nn.utils.rnn``: padding a list of variable-length sequences into one batch."""
from ... import _C
from ..._C import Tensor


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks tensors of shape (L_i, *) into (L_max, B, *) (or (B, L_max, *) with ``batch_first``),
    filling the missing positions with ``padding_value``, after each sequence
    (``padding_side="right"``) or before it (``"left"``). Differentiable in each sequence."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence(): expected a list of Tensors, but item {i} is {type(s).__name__}")
        if s.dim() == 0 or tuple(s.shape[1:]) != tuple(sequences[0].shape[1:]):
            raise RuntimeError(f"pad_sequence(): every sequence must have shape (L, *) with the same trailing dims; "
                               f"sequence 0 has {tuple(sequences[0].shape)}, sequence {i} has {tuple(s.shape)}")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        pad = longest - s.shape[0]
        if pad:
            fill = _C.functions.full([pad] + list(s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = _C.functions.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        rows.append(s)
    return _C.functions.stack(rows, 0 if batch_first else 1)


__all__ = ["pad_sequence"]
