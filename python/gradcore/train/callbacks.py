"""Callbacks for ``gradcore.Trainer``, in the manner of PyTorch Lightning.

Hooks are called as ``hook(trainer, model, ...)``; the Trainer puts every epoch metric
(``train_loss``, ``val_loss``, logged values) into ``trainer.callback_metrics`` before
``on_validation_epoch_end`` runs."""
import math
import os


class Callback:
    """Base class: override the hooks you need."""

    def on_fit_start(self, trainer, model):
        pass

    def on_train_epoch_start(self, trainer, model):
        pass

    def on_train_batch_end(self, trainer, model, outputs, batch, batch_idx):
        pass

    def on_validation_epoch_end(self, trainer, model):
        pass

    def on_train_epoch_end(self, trainer, model):
        pass

    def on_fit_end(self, trainer, model):
        pass


def _monitor_op(mode, name):
    if mode not in ("min", "max"):
        raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
    return (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)


def _metric(trainer, monitor, who):
    if monitor not in trainer.callback_metrics:
        raise RuntimeError(f"{who} conditioned on metric `{monitor}` which is not available. Available metrics are: "
                           f"{sorted(trainer.callback_metrics)}. Hint: return a loss from validation_step (val_loss) "
                           "or self.log() the metric.")
    return float(trainer.callback_metrics[monitor])


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    consecutive epochs."""

    def __init__(self, monitor="val_loss", patience=3, mode="min", min_delta=0.0, verbose=False, check_finite=True):
        self.monitor = monitor
        self.patience = patience
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.verbose = verbose
        self.check_finite = check_finite
        self._better = _monitor_op(mode, "EarlyStopping")
        self.wait_count = 0
        self.stopped_epoch = 0
        self.best_score = math.inf if mode == "min" else -math.inf

    def on_validation_epoch_end(self, trainer, model):
        value = _metric(trainer, self.monitor, "EarlyStopping")
        if self.check_finite and not math.isfinite(value):
            trainer.should_stop = True
            self.stopped_epoch = trainer.current_epoch
            return
        delta = -self.min_delta if self.mode == "min" else self.min_delta
        if self._better(value, self.best_score + delta if math.isfinite(self.best_score) else self.best_score):
            self.best_score = value
            self.wait_count = 0
        else:
            self.wait_count += 1
            if self.wait_count >= self.patience:
                trainer.should_stop = True
                self.stopped_epoch = trainer.current_epoch
                if self.verbose:
                    print(f"EarlyStopping: `{self.monitor}` did not improve for {self.patience} epochs; "
                          f"best {self.best_score:.6g}. Stopping at epoch {trainer.current_epoch}.")


class ModelCheckpoint(Callback):
    """Saves ``model.state_dict()`` with ``gradcore.save`` (atomically) whenever ``monitor`` improves,
    to ``dirpath/best.safetensors``, and after every epoch to ``dirpath/last.safetensors`` when
    ``save_last``. ``dirpath`` defaults to ``<trainer.default_root_dir>/checkpoints``."""

    def __init__(self, dirpath=None, monitor="val_loss", mode="min", save_last=True, filename="best"):
        self.dirpath = os.fspath(dirpath) if dirpath is not None else None
        self.monitor = monitor
        self.mode = mode
        self.save_last = save_last
        self.filename = filename
        self._better = _monitor_op(mode, "ModelCheckpoint")
        self.best_model_score = None
        self.best_model_path = ""
        self.last_model_path = ""

    def on_fit_start(self, trainer, model):
        if self.dirpath is None:
            self.dirpath = os.path.join(trainer.default_root_dir, "checkpoints")
        os.makedirs(self.dirpath, exist_ok=True)

    def on_validation_epoch_end(self, trainer, model):
        if self.monitor is not None and self.monitor in trainer.callback_metrics:
            value = _metric(trainer, self.monitor, "ModelCheckpoint")
            if math.isfinite(value) and (self.best_model_score is None or self._better(value, self.best_model_score)):
                self.best_model_score = value
                self.best_model_path = os.path.join(self.dirpath, f"{self.filename}.safetensors")
                self._save(trainer, model, self.best_model_path)
        elif self.monitor is not None and trainer.current_epoch == 0:
            _metric(trainer, self.monitor, "ModelCheckpoint")  # raises with the available metrics
        if self.save_last:
            self.last_model_path = os.path.join(self.dirpath, "last.safetensors")
            self._save(trainer, model, self.last_model_path)

    @staticmethod
    def _save(trainer, model, path):
        """Writes the state dict; in a data-parallel job every rank tracks the best score and rank 0
        writes the files."""
        from ..serialization import save
        if getattr(trainer, "is_global_zero", True):
            save(model.state_dict(), path)


class LearningRateMonitor(Callback):
    """Records the learning rate of every param group, per epoch (default) or per step, in
    ``self.lrs`` (``{"lr-SGD": [...]}``) and in ``trainer.callback_metrics``."""

    def __init__(self, logging_interval=None):
        if logging_interval not in (None, "step", "epoch"):
            raise ValueError(f"LearningRateMonitor: logging_interval must be None, 'step' or 'epoch', got {logging_interval!r}")
        self.logging_interval = logging_interval
        self.lrs = {}

    def _record(self, trainer):
        for opt in trainer.optimizers:
            name = f"lr-{type(opt).__name__}"
            groups = opt.param_groups
            for i, g in enumerate(groups):
                key = name if len(groups) == 1 else f"{name}/pg{i + 1}"
                self.lrs.setdefault(key, []).append(g["lr"])
                trainer.callback_metrics[key] = g["lr"]

    def on_train_epoch_start(self, trainer, model):
        if self.logging_interval in (None, "epoch"):
            self._record(trainer)

    def on_train_batch_end(self, trainer, model, outputs, batch, batch_idx):
        if self.logging_interval == "step":
            self._record(trainer)
