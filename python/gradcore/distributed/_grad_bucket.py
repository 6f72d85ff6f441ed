"""GradBucket: what a DistributedDataParallel communication hook receives (PyTorch's
``torch.distributed.GradBucket``)."""


class GradBucket:
    """One bucket of gradients that DDP reduces together: its flat ``buffer()`` (the gradients of
    ``parameters()``, concatenated), ``gradients()`` (per-parameter views of that buffer),
    ``index()`` (0 is the first bucket reduced: the last parameters) and ``is_last()``. A hook
    that communicates in another form may ``set_buffer`` (as the compression wrappers do): the
    Future it returns must hold a tensor of the buffer's size, which DDP writes into the gradients.
    """

    def __init__(self, index, is_last, buffer, gradients, parameters):
        self._index = index
        self._is_last = is_last
        self._buffer = buffer
        self._gradients = gradients
        self._parameters = parameters

    def index(self):
        return self._index

    def buffer(self):
        return self._buffer

    def gradients(self):
        return list(self._gradients)

    def is_last(self):
        return self._is_last

    def set_buffer(self, tensor):
        self._buffer = tensor

    def parameters(self):
        return list(self._parameters)

    def __repr__(self):
        return f"GradBucket(index={self._index}, numel={self._buffer.numel()}, dtype={self._buffer.dtype})"
