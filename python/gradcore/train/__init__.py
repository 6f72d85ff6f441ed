"""A Lightning-style train loop: ``Trainer`` and its callbacks."""
from .trainer import Trainer  # noqa: F401
from . import callbacks  # noqa: F401
