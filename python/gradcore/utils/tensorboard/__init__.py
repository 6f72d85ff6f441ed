"""``gradcore.utils.tensorboard``: ``SummaryWriter``, as ``torch.utils.tensorboard``.

Writes real TensorBoard event files through the ``tensorboard`` package (its ``EventFileWriter`` and
protos), an optional dependency: ``pip install tensorboard`` or ``pip install gradcore[tensorboard]``.
Values may be gradcore tensors, numpy arrays or Python numbers.
"""
try:
    import tensorboard as _tensorboard
except ImportError as e:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "gradcore.utils.tensorboard needs the `tensorboard` package, which is not installed. "
        "Install it with `pip install tensorboard` (or `pip install gradcore[tensorboard]`).") from e

from .writer import SummaryWriter  # noqa: E402

del _tensorboard

__all__ = ["SummaryWriter"]
