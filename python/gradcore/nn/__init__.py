"""``gradcore.nn``: modules, layers, losses, ``functional``, ``init`` and ``utils``, with PyTorch's
names and semantics (``import gradcore.nn as nn``)."""
from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .parameter import Parameter

__all__ = ["Parameter", "functional", "init", "utils"] + _modules_all
