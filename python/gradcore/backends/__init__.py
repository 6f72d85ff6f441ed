"""gradcore.backends: which optional backends exist (``backends.mps``)."""
from . import mps

__all__ = ["mps"]
