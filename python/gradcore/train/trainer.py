"""``gradcore.Trainer``: the train loop of PyTorch Lightning, for a plain ``nn.Module``.

A model defines ``training_step(batch, batch_idx)`` returning the loss (or a dict with ``"loss"``),
optionally ``validation_step(batch, batch_idx)`` returning a loss or a dict of metrics, and
``configure_optimizers()`` returning an optimizer, or ``(optimizers, schedulers)``. Inside a step
it may call ``self.log(name, value)``; logged values are averaged over the epoch.

Loggers (``Trainer(logger=...)``, see ``gradcore.train.loggers``) get what Lightning's get: a value logged
in ``training_step`` is logged per step (``on_step=True``: its value at every ``log_every_n_steps``-th
optimizer step) and/or per epoch (``on_epoch=True``: its epoch mean; with both, the keys get ``_step`` and
``_epoch`` suffixes); validation metrics (``self.log`` in ``validation_step`` and the dict it returns) are
logged as epoch means. Each epoch row also holds ``train_loss`` and ``val_loss`` (the means of the returned
losses) unless a metric of that name was logged, and every row holds ``epoch``; rows are logged at step
``global_step - 1``, as Lightning does. A model with an ``hparams`` dict (or Namespace) has it logged with
``log_hyperparams`` when ``fit`` starts.

One epoch of ``fit`` is::

    model.train()
    for batch_idx, batch in enumerate(train_dataloader):
        loss = model.training_step(batch, batch_idx)
        (loss / accumulate_grad_batches).backward()
        if the accumulation window is complete:
            clip gradients (gradient_clip_val), optimizer.step(), optimizer.zero_grad()
            step the schedulers whose interval is "step"
    with model.eval() and no_grad(): run validation_step over val_dataloaders
    step the schedulers whose interval is "epoch" (ReduceLROnPlateau gets the monitored metric)

``precision="bf16-mixed"`` runs training_step and validation_step under bfloat16 autocast (the
parameters stay float32); ``"16-mixed"`` uses float16 autocast and a GradScaler (the gradients are
unscaled before clipping, and a step with inf/NaN gradients is skipped).

``strategy="ddp"`` trains data-parallel over the ranks of an MPI job (see ``gradcore.train.strategy``):
DistributedDataParallel, DistributedSampler, metrics averaged across ranks, and logging, progress and
checkpoints on rank 0 only.
"""
import contextlib
import os
import sys
import time
from argparse import Namespace
from collections.abc import Mapping

from .. import _C
from ..amp import GradScaler, autocast
from ..autograd.grad_mode import no_grad
from .callbacks import Callback
from .loggers import CSVLogger, Logger
from .strategy import DDPStrategy, _launched_world_size


def _to_float(v):
    if isinstance(v, _C.Tensor):
        if v.numel() != 1:
            raise ValueError(f"log: a logged tensor must have one element, got shape {list(v.shape)}")
        return float(v.detach().item())
    return float(v)


def _accelerator_device(accelerator):
    from .. import cuda
    if accelerator not in ("auto", "cpu", "gpu", "cuda"):
        raise ValueError(f"Trainer: accelerator must be 'auto', 'cpu', 'gpu' or 'cuda', got {accelerator!r}")
    if accelerator == "cpu" or (accelerator == "auto" and not cuda.is_available()):
        return _C.device("cpu")
    if not cuda.is_available():
        raise RuntimeError(f"Trainer: accelerator={accelerator!r} needs a CUDA GPU, but gradcore.cuda.is_available() "
                           "is False. Hint: use accelerator='auto' to fall back to the CPU.")
    return _C.device("cuda")


def _to_device(batch, device):
    """The batch with every tensor in it (through tuples, lists and dicts) moved to ``device``."""
    if isinstance(batch, _C.Tensor):
        return batch if batch.device == device else batch.to(device)
    if isinstance(batch, (list, tuple)):
        moved = [_to_device(b, device) for b in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


class _EpochMeans:
    """Running means of logged values, weighted equally per step."""

    def __init__(self):
        self.sums, self.counts = {}, {}

    def add(self, name, value):
        self.sums[name] = self.sums.get(name, 0.0) + value
        self.counts[name] = self.counts.get(name, 0) + 1

    def means(self):
        return {k: self.sums[k] / self.counts[k] for k in self.sums}


_PRECISIONS = {"32-true": "32-true", "32": "32-true", 32: "32-true", "bf16-mixed": "bf16-mixed",
               "16-mixed": "16-mixed"}


def _precision(value):
    """Lightning's precision flag: "32-true" (32, "32"), "bf16-mixed" or "16-mixed"."""
    if value not in _PRECISIONS:
        raise ValueError(f"Trainer: precision={value!r} is not supported. Supported: '32-true' (or 32), "
                         "'bf16-mixed', '16-mixed'. Hint: 'bf16-mixed' runs the steps under bfloat16 autocast.")
    return _PRECISIONS[value]


class _ProgressBar:
    """tqdm when installed, else a one-line text bar on stderr; shows loss and speed."""

    def __init__(self, total, desc, enabled):
        self.enabled = enabled
        self.total, self.desc, self.n, self.t0, self.postfix = total, desc, 0, time.perf_counter(), {}
        self.bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True, unit="it")
            except ImportError:
                self.bar = None

    def update(self, postfix):
        if not self.enabled:
            return
        self.n += 1
        self.postfix = postfix
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in postfix.items()}, refresh=False)
            self.bar.update(1)
        elif self.n == self.total or self.n % 10 == 0:
            self._print_text()

    def _print_text(self):
        rate = self.n / max(time.perf_counter() - self.t0, 1e-9)
        total = self.total if self.total is not None else "?"
        extra = " ".join(f"{k}={v:.4g}" for k, v in self.postfix.items())
        sys.stderr.write(f"\r{self.desc}: {self.n}/{total} [{rate:.1f}it/s] {extra}")
        sys.stderr.flush()

    def close(self, postfix=None):
        if not self.enabled:
            return
        if postfix:
            self.postfix.update(postfix)
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in self.postfix.items()}, refresh=True)
            self.bar.close()
        else:
            self._print_text()
            sys.stderr.write("\n")


class Trainer:
    """Runs ``fit`` / ``validate`` for a model that defines ``training_step`` (see the module docstring).

    Args:
        max_epochs: epochs to train (stops earlier at ``max_steps`` or when ``should_stop`` is set).
        max_steps: optimizer steps to train; -1 means no limit.
        callbacks: ``Callback`` objects (EarlyStopping, ModelCheckpoint, LearningRateMonitor, ...).
        accumulate_grad_batches: batches whose gradients are summed before each optimizer step.
        gradient_clip_val: clip the global gradient 2-norm to this value before each step.
        enable_progress_bar: show a progress bar with loss and speed.
        log_every_n_steps: how often step metrics are recorded in ``trainer.step_history``.
        default_root_dir: where callbacks write files by default (``ModelCheckpoint``).
        seed: if given, ``gradcore.manual_seed(seed)`` at the start of ``fit``.
        accelerator: ``"auto"`` (a CUDA GPU when ``gradcore.cuda.is_available()``, else the CPU),
            ``"cpu"``, or ``"gpu"`` / ``"cuda"``. ``fit`` and ``validate`` move the model there before
            ``configure_optimizers`` and every batch (tensors inside tuples, lists and dicts) before
            its step, as Lightning does.
        precision: ``"32-true"``, ``"bf16-mixed"`` or ``"16-mixed"`` (see the module docstring).
        logger: ``True`` (a ``CSVLogger`` in ``<default_root_dir>/lightning_logs/version_N``), ``False`` or
            ``None`` (no logging), a ``Logger`` or a list of them (``CSVLogger``, ``TensorBoardLogger``).
        strategy: ``"auto"`` (``"ddp"`` inside an MPI job of several ranks, else one process) or ``"ddp"``.
        devices: ``"auto"`` or the number of ranks; with ``strategy="ddp"`` outside an MPI job,
            ``devices=N > 1`` runs the script again on N ranks under ``gradcore.distributed.run``.
        doctor: run ``fit`` and ``validate`` under ``gradcore.debug.doctor(accumulate=accumulate_grad_batches)``,
            which warns about training-loop mistakes (off by default; no cost when off).
    """

    def __init__(self, max_epochs=1, max_steps=-1, callbacks=None, accumulate_grad_batches=1,
                 gradient_clip_val=None, enable_progress_bar=True, log_every_n_steps=50,
                 default_root_dir=None, seed=None, accelerator="auto", precision="32-true", logger=True,
                 strategy="auto", devices="auto", doctor=False):
        if max_epochs is None or max_epochs < 0:
            raise ValueError(f"Trainer: max_epochs must be >= 0, got {max_epochs}")
        if not isinstance(accumulate_grad_batches, int) or accumulate_grad_batches < 1:
            raise ValueError(f"Trainer: accumulate_grad_batches must be a positive int, got {accumulate_grad_batches!r}")
        if gradient_clip_val is not None and gradient_clip_val < 0:
            raise ValueError(f"Trainer: gradient_clip_val must be >= 0, got {gradient_clip_val}")
        if log_every_n_steps < 1:
            raise ValueError(f"Trainer: log_every_n_steps must be >= 1, got {log_every_n_steps}")
        if strategy not in ("auto", "ddp"):
            raise ValueError(f"Trainer: strategy must be 'auto' or 'ddp', got {strategy!r}")
        if devices != "auto" and (not isinstance(devices, int) or devices < 1):
            raise ValueError(f"Trainer: devices must be 'auto' or a positive int, got {devices!r}")
        if strategy == "auto" and _launched_world_size() > 1:
            strategy = "ddp"
        self.strategy = DDPStrategy(devices) if strategy == "ddp" else None
        self.world_size = self.strategy.world_size if self.strategy else 1
        self.global_rank = self.strategy.global_rank if self.strategy else 0
        self.local_rank = self.strategy.local_rank if self.strategy else 0
        self.is_global_zero = self.global_rank == 0
        self.device = _accelerator_device(accelerator)
        self.precision = _precision(precision)
        # "bf16-mixed" / "16-mixed": the steps run under autocast; float16 also scales the loss.
        self._autocast_dtype = {"bf16-mixed": _C.dtype.bfloat16, "16-mixed": _C.dtype.float16}.get(self.precision)
        self._scaler = None
        if self.precision == "16-mixed":
            self._scaler = GradScaler(self.device.type)
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Trainer: callbacks must be gradcore.callbacks.Callback instances, got {type(cb).__name__}")
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.callbacks = callbacks
        self.accumulate_grad_batches = accumulate_grad_batches
        self.gradient_clip_val = gradient_clip_val
        self.enable_progress_bar = enable_progress_bar and self.is_global_zero
        self.log_every_n_steps = log_every_n_steps
        self.default_root_dir = os.fspath(default_root_dir) if default_root_dir is not None else os.getcwd()
        self.seed = seed
        self.doctor = bool(doctor)
        self.history = []          # one dict per epoch
        self.step_history = []     # every log_every_n_steps optimizer steps: {"step", "loss", ...}
        self.callback_metrics = {}  # the latest value of every metric, for callbacks
        self.should_stop = False
        self.current_epoch = 0
        self.global_step = 0
        self.optimizers = []
        self.lr_schedulers = []
        self.model = None
        self._logged = None
        self.loggers = self._make_loggers(logger) if self.is_global_zero else []
        self._stage = None
        self._step_values = {}     # on_step values logged in the current training batch
        self._epoch_keys = {}      # name -> the key of its epoch mean in the loggers' epoch rows
        self._user_keys = set()    # every name passed to self.log

    def _make_loggers(self, logger):
        if logger is True:
            return [CSVLogger(self.default_root_dir)]
        if logger is False or logger is None:
            return []
        loggers = list(logger) if isinstance(logger, (list, tuple)) else [logger]
        for lg in loggers:
            if not isinstance(lg, Logger):
                raise TypeError(f"Trainer: logger must be True, False, a gradcore.train.loggers.Logger or a list of "
                                f"them, got {type(lg).__name__}")
        return loggers

    @property
    def logger(self):
        """The first logger, or None."""
        return self.loggers[0] if self.loggers else None

    @property
    def log_dir(self):
        """The first logger's ``log_dir``, else ``default_root_dir``."""
        if self.logger is not None and self.logger.log_dir is not None:
            return self.logger.log_dir
        return self.default_root_dir

    def _log_metrics(self, metrics, step):
        if not metrics:
            return
        row = dict(metrics)
        row.setdefault("epoch", self.current_epoch)
        for lg in self.loggers:
            lg.log_metrics(row, step)

    def _log_hyperparams(self, model):
        hparams = getattr(model, "hparams", None)
        if isinstance(hparams, Namespace):
            hparams = vars(hparams)
        for lg in self.loggers:
            if isinstance(hparams, Mapping) and hparams:
                lg.log_hyperparams(dict(hparams))
            lg.save()

    def _finalize_loggers(self, status):
        for lg in self.loggers:
            lg.finalize(status)

    # ---- setup ----
    def _configure_optimizers(self, model):
        if not hasattr(model, "configure_optimizers"):
            raise AttributeError(f"Trainer.fit: {type(model).__name__} must define configure_optimizers() returning an "
                                 "optimizer, or (optimizers, schedulers)")
        out = model.configure_optimizers()
        optimizers, schedulers = out, []
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], (list, tuple)):
            optimizers, schedulers = out
        elif isinstance(out, dict):
            optimizers = out["optimizer"]
            schedulers = [out["lr_scheduler"]] if "lr_scheduler" in out else []
        if not isinstance(optimizers, (list, tuple)):
            optimizers = [optimizers]
        if not isinstance(schedulers, (list, tuple)):
            schedulers = [schedulers]
        if len(optimizers) != 1:
            raise ValueError(f"Trainer: expected one optimizer from configure_optimizers(), got {len(optimizers)}")
        configs = []
        for s in schedulers:
            cfg = dict(s) if isinstance(s, dict) else {"scheduler": s}
            cfg.setdefault("interval", "epoch")
            cfg.setdefault("frequency", 1)
            cfg.setdefault("monitor", "val_loss")
            if cfg["interval"] not in ("epoch", "step"):
                raise ValueError(f"Trainer: scheduler interval must be 'epoch' or 'step', got {cfg['interval']!r}")
            configs.append(cfg)
        self.optimizers = list(optimizers)
        self.lr_schedulers = configs

    def _attach_log(self, model):
        trainer = self

        def log(name, value, prog_bar=False, logger=True, on_step=None, on_epoch=None, **kwargs):
            """Records a metric: its epoch mean goes into ``trainer.history``, and to the loggers per step
            and/or per epoch (by default per step in training_step, per epoch in validation_step)."""
            if trainer._logged is None:
                raise RuntimeError("log: call self.log only inside training_step or validation_step")
            value = _to_float(value)
            trainer._logged.add(name, value)
            if not logger:
                return
            trainer._user_keys.add(name)
            if trainer._stage == "train":
                on_step = True if on_step is None else on_step
                on_epoch = False if on_epoch is None else on_epoch
                if on_step:
                    trainer._step_values[name + "_step" if on_epoch else name] = value
                if on_epoch:
                    trainer._epoch_keys[name] = name + "_epoch" if on_step else name
            else:
                trainer._epoch_keys[name] = name

        object.__setattr__(model, "log", log)

    def _detach_log(self, model):
        model.__dict__.pop("log", None)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    # ---- loops ----
    def _doctor(self):
        """The training doctor when ``doctor=True``, else a no-op context; under a doctor that is
        already active, the declaration of this Trainer's gradient accumulation."""
        from .. import _debug_slot
        if _debug_slot.active is not None:
            return _debug_slot.active.accumulating(self.accumulate_grad_batches)
        if not self.doctor:
            return contextlib.nullcontext()
        from ..debug import doctor
        return doctor(accumulate=self.accumulate_grad_batches)

    def fit(self, model, train_dataloaders, val_dataloaders=None):
        """Trains ``model`` on ``train_dataloaders``, validating on ``val_dataloaders`` after each epoch."""
        with self._doctor():
            return self._fit(model, train_dataloaders, val_dataloaders)

    def _fit(self, model, train_dataloaders, val_dataloaders):
        from .._C import functions as _fns
        from ..nn.utils import clip_grad_norm_
        if not hasattr(model, "training_step"):
            raise AttributeError(f"Trainer.fit: {type(model).__name__} must define training_step(batch, batch_idx)")
        if self.seed is not None:
            _fns.manual_seed(self.seed)
        self.model = model
        self.should_stop = False
        model.to(self.device)
        self._configure_optimizers(model)
        opt = self.optimizers[0]
        training_step = model.training_step
        if self.strategy:
            training_step = self.strategy.wrap(model)
            train_dataloaders = self.strategy.dataloader(train_dataloaders, self.seed)
            if val_dataloaders is not None:
                val_dataloaders = self.strategy.dataloader(val_dataloaders, self.seed)
        self._attach_log(model)
        self._epoch_keys, self._user_keys = {}, set()
        status = "failed"
        try:
            self._log_hyperparams(model)
            self._call("on_fit_start", model)
            for epoch in range(self.max_epochs):
                if self.should_stop or (0 <= self.max_steps <= self.global_step):
                    break
                self.current_epoch = epoch
                model.train()
                self._call("on_train_epoch_start", model)
                if self.strategy:
                    self.strategy.set_epoch(epoch)
                self._logged = _EpochMeans()
                self._stage = "train"
                total_loss, n_batches = 0.0, 0
                n = len(train_dataloaders) if hasattr(train_dataloaders, "__len__") else None
                bar = _ProgressBar(n, f"Epoch {epoch}", self.enable_progress_bar)
                opt.zero_grad()
                pending = 0
                for batch_idx, batch in enumerate(train_dataloaders):
                    batch = _to_device(batch, self.device)
                    self._step_values = {}
                    with self._autocast():
                        out = training_step(batch, batch_idx)
                    loss = out["loss"] if isinstance(out, dict) else out
                    if not isinstance(loss, _C.Tensor):
                        raise TypeError(f"training_step must return the loss tensor (or a dict with 'loss'), got {type(out).__name__}")
                    scaled = loss / self.accumulate_grad_batches if self.accumulate_grad_batches > 1 else loss
                    (self._scaler.scale(scaled) if self._scaler else scaled).backward()
                    pending += 1
                    loss_value = float(loss.detach().item())
                    total_loss += loss_value
                    n_batches += 1
                    last = n is not None and batch_idx + 1 == n
                    if pending == self.accumulate_grad_batches or last:
                        self._optimizer_step(opt, clip_grad_norm_, model)
                        pending = 0
                    bar.update({"loss": loss_value})
                    self._call("on_train_batch_end", model, out, batch, batch_idx)
                    if 0 <= self.max_steps <= self.global_step:
                        break
                if pending:
                    self._optimizer_step(opt, clip_grad_norm_, model)
                train_means = self._logged.means()
                self._logged = None
                self._stage = None
                record = {"epoch": epoch, "train_loss": total_loss / max(n_batches, 1)}
                record.update(train_means)
                if val_dataloaders is not None and hasattr(model, "validation_step"):
                    record.update(self._run_validation(model, val_dataloaders))
                if self.strategy:
                    record = self.strategy.mean(record)
                self.callback_metrics.update(record)
                bar.close({k: v for k, v in record.items() if k in ("train_loss", "val_loss")})
                self._step_schedulers("epoch")
                record["lr"] = opt.param_groups[0]["lr"]
                self.history.append(record)
                self._log_epoch(record)
                self._call("on_validation_epoch_end", model)
                self._call("on_train_epoch_end", model)
            self._call("on_fit_end", model)
            status = "success"
        finally:
            self._logged = None
            self._stage = None
            self._detach_log(model)
            self._finalize_loggers(status)
        return self

    def _log_epoch(self, record):
        """The loggers' epoch row: the epoch means of what was logged with on_epoch, and the losses."""
        row = {key: record[name] for name, key in self._epoch_keys.items() if name in record}
        for name in ("train_loss", "val_loss"):
            if name in record and name not in self._user_keys:
                row[name] = record[name]
        self._log_metrics(row, max(self.global_step - 1, 0))

    def _autocast(self):
        if self._autocast_dtype is None:
            return contextlib.nullcontext()
        return autocast(self.device.type, dtype=self._autocast_dtype)

    def _optimizer_step(self, opt, clip_grad_norm_, model):
        if self._scaler:
            self._scaler.unscale_(opt)  # clip the true gradients
        if self.gradient_clip_val:
            clip_grad_norm_(model.parameters(), self.gradient_clip_val)
        if self._scaler:
            self._scaler.step(opt)
            self._scaler.update()
        else:
            opt.step()
        opt.zero_grad()
        self.global_step += 1
        self._step_schedulers("step")
        if self.global_step % self.log_every_n_steps == 0:
            entry = {"step": self.global_step, "epoch": self.current_epoch, "lr": opt.param_groups[0]["lr"]}
            entry.update(self._logged.means() if self._logged else {})
            if self.strategy:
                entry = self.strategy.mean(entry)
            self.step_history.append(entry)
            self._log_metrics(self._step_values, self.global_step - 1)

    def _step_schedulers(self, interval):
        for cfg in self.lr_schedulers:
            if cfg["interval"] != interval:
                continue
            count = self.global_step if interval == "step" else self.current_epoch + 1
            if count % cfg["frequency"]:
                continue
            sched = cfg["scheduler"]
            if type(sched).__name__ == "ReduceLROnPlateau":
                name = cfg["monitor"]
                if name not in self.callback_metrics:
                    raise RuntimeError(f"Trainer: ReduceLROnPlateau monitors '{name}', which was not logged. "
                                       f"Available metrics: {sorted(self.callback_metrics)}")
                sched.step(self.callback_metrics[name])
            else:
                sched.step()

    def _run_validation(self, model, dataloaders):
        was_training = model.training
        model.eval()
        prev, prev_stage = self._logged, self._stage
        self._logged = _EpochMeans()
        self._stage = "val"
        losses = []
        try:
            with no_grad():
                for batch_idx, batch in enumerate(dataloaders):
                    batch = _to_device(batch, self.device)
                    with self._autocast():
                        out = model.validation_step(batch, batch_idx)
                    if out is None:
                        continue
                    if isinstance(out, dict):
                        for k, v in out.items():
                            name = "val_loss" if k == "loss" else k
                            self._logged.add(name, _to_float(v))
                            if name != "val_loss":
                                self._epoch_keys[name] = name
                    else:
                        losses.append(_to_float(out))
            metrics = self._logged.means()
            if losses:
                metrics["val_loss"] = sum(losses) / len(losses)
        finally:
            self._logged, self._stage = prev, prev_stage
            model.train(was_training)
        return metrics

    def validate(self, model, dataloaders):
        """Runs ``validation_step`` over ``dataloaders`` under eval() and no_grad(); returns ``[metrics]``."""
        with self._doctor():
            return self._validate(model, dataloaders)

    def _validate(self, model, dataloaders):
        if not hasattr(model, "validation_step"):
            raise AttributeError(f"Trainer.validate: {type(model).__name__} must define validation_step(batch, batch_idx)")
        model.to(self.device)
        self._attach_log(model)
        self._epoch_keys, self._user_keys = {}, set()
        try:
            metrics = self._run_validation(model, dataloaders)
        finally:
            self._detach_log(model)
        self.callback_metrics.update(metrics)
        self._log_epoch(metrics)
        for lg in self.loggers:
            lg.save()
        return [metrics]
