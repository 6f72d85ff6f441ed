"""``gradcore.callbacks``: the Trainer's callbacks (defined in gradcore.train.callbacks)."""
from .train.callbacks import Callback, EarlyStopping, ModelCheckpoint, LearningRateMonitor  # noqa: F401
