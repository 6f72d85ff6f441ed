"""``Flatten`` and ``Dropout``: the two shape/regularisation layers of an MLP."""
from .. import functional as F
from .module import Module


class Flatten(Module):
    """Flattens dims ``start_dim`` .. ``end_dim`` into one (by default all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """During training zeroes each element with probability ``p`` and scales the rest by
    1 / (1 - p); the identity in eval mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """During training zeroes whole channels of (N, C, H, W) input with probability ``p`` and scales
    the rest by 1 / (1 - p); the identity in eval mode."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)
