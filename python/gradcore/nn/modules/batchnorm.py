"""``BatchNorm1d``, ``BatchNorm2d`` and ``BatchNorm3d``: per-channel normalisation with learnable
scale/shift and running statistics; the three differ only in the input rank they accept."""
from ... import _C
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


class _BatchNorm(Module):
    """Batch normalisation per channel C (dim 1) of an (N, C, *) input:

        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias

    with E and Var over the batch and every position. In train mode E and Var are the batch's (Var
    biased) and, with ``track_running_stats``, the buffers move as
    running = (1 - momentum) * running + momentum * batch_stat (the unbiased variance for
    ``running_var``); ``momentum=None`` makes them cumulative averages. In eval mode the running
    statistics are used. Buffers: ``running_mean``, ``running_var``, ``num_batches_tracked``.
    ``bias=False`` (keyword-only, as in PyTorch 2.13) keeps the scale but drops the shift.
    Subclasses name the input ranks they accept (``_ranks``) and a hint for a wrong one.
    """
    _ranks = ()
    _rank_hint = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        factory = {"device": device, "dtype": dtype}
        if affine:
            self.weight = Parameter(_C.functions.empty(num_features, **factory))
            if bias:
                self.bias = Parameter(_C.functions.empty(num_features, **factory))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _C.functions.zeros(num_features, **factory))
            self.register_buffer("running_var", _C.functions.ones(num_features, **factory))
            self.register_buffer("num_batches_tracked", _C.functions.zeros((), dtype=_C.dtype.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        if input.dim() not in self._ranks:
            ranks = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{self._get_name()}: expected {ranks} input (got {input.dim()}D input), of shape "
                             f"{list(input.shape)}. Hint: {self._rank_hint}")

    def _check_input(self, input):
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise RuntimeError(f"{self!r} got an input of shape {list(input.shape)}: expected {self.num_features} "
                               f"channels in dim 1, got {input.shape[1]}. Hint: num_features must equal input.shape[1]")

    def forward(self, input):
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        # Batch statistics in training, and in eval when there are no running statistics.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C (see ``_BatchNorm``)."""
    _ranks = (2, 3)
    _rank_hint = "BatchNorm1d takes [N, C] or [N, C, L]; BatchNorm2d takes [N, C, H, W]"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C over N, H and W (see ``_BatchNorm``)."""
    _ranks = (4,)
    _rank_hint = "BatchNorm2d takes [N, C, H, W]; give one image a batch dim with x.unsqueeze(0)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) input, per channel C over N, D, H and W (see ``_BatchNorm``)."""
    _ranks = (5,)
    _rank_hint = "BatchNorm3d takes [N, C, D, H, W]; give one volume a batch dim with x.unsqueeze(0)"
