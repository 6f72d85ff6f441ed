"""A Lightning-style train loop: ``Trainer``, its callbacks and its loggers."""
from .trainer import Trainer
from . import callbacks, loggers
from .loggers import CSVLogger, Logger, TensorBoardLogger

__all__ = ["Trainer", "callbacks", "loggers", "CSVLogger", "Logger", "TensorBoardLogger"]
