"""gradcore.utils: data loading (``gradcore.utils.data``)."""
from . import data

__all__ = ["data"]
