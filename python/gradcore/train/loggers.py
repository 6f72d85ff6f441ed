"""Experiment loggers for ``gradcore.Trainer``, as ``lightning.pytorch.loggers``.

``Trainer(logger=True)`` (the default) writes a ``CSVLogger`` to ``<default_root_dir>/lightning_logs/version_N``;
``logger=False`` (or ``None``) logs nothing; a ``Logger`` or a list of them replaces the default. Each run
gets the next free ``version_N`` directory under ``save_dir/name``.

``TensorBoardLogger`` needs the optional ``tensorboard`` package (``pip install tensorboard``).
"""
import csv
import json
import math
import numbers
import os
import re
from argparse import Namespace

__all__ = ["Logger", "CSVLogger", "TensorBoardLogger"]


def _value(v):
    """A logged value as a Python number: one-element tensors and numpy scalars are unwrapped."""
    from .. import _C
    if isinstance(v, _C.Tensor):
        if v.numel() != 1:
            raise ValueError(f"log_metrics: a logged tensor must have one element, got shape {list(v.shape)}")
        return v.detach().item()
    if hasattr(v, "item") and getattr(v, "size", 1) == 1 and not isinstance(v, (str, bytes)):
        return v.item()
    return v


def _params(params):
    """Hyperparameters as a plain dict (from a dict, a Namespace or anything with ``items()``)."""
    if params is None:
        return {}
    if isinstance(params, Namespace):
        return dict(vars(params))
    return dict(params)


def _add_prefix(metrics, prefix, sep):
    return {f"{prefix}{sep}{k}": v for k, v in metrics.items()} if prefix else dict(metrics)


def _next_version(root_dir):
    """One more than the largest N of the ``version_N`` directories in ``root_dir``, or 0."""
    versions = []
    if os.path.isdir(root_dir):
        for d in os.listdir(root_dir):
            m = re.fullmatch(r"version_(\d+)", d)
            if m and os.path.isdir(os.path.join(root_dir, d)):
                versions.append(int(m.group(1)))
    return max(versions) + 1 if versions else 0


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")


def _yaml_scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        v = float(v)
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        return repr(v)
    return json.dumps(str(v))  # a double-quoted YAML scalar


def _yaml_key(k):
    k = str(k)
    return k if _PLAIN.fullmatch(k) and k.lower() not in ("null", "true", "false", "yes", "no", "on", "off") \
        else json.dumps(k)


def _to_yaml(obj, indent=0):
    """A small YAML emitter for hyperparameters: nested dicts and lists of scalars."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        out = []
        for k, v in obj.items():
            v = _value(v)
            if isinstance(v, (dict, list, tuple)) and v:
                out.append(f"{pad}{_yaml_key(k)}:\n{_to_yaml(v, indent + 2)}")
            else:
                out.append(f"{pad}{_yaml_key(k)}: {_yaml_inline(v)}\n")
        return "".join(out)
    out = []
    for v in obj:
        v = _value(v)
        if isinstance(v, (dict, list, tuple)) and v:
            out.append(f"{pad}-\n{_to_yaml(v, indent + 2)}")
        else:
            out.append(f"{pad}- {_yaml_inline(v)}\n")
    return "".join(out)


def _yaml_inline(v):
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, (list, tuple)):
        return "[]"
    return _yaml_scalar(v)


def _save_hparams_yaml(path, hparams):
    with open(path, "w", encoding="utf-8") as f:
        f.write(_to_yaml(hparams))


class Logger:
    """The interface the Trainer calls: ``log_metrics(metrics, step)``, ``log_hyperparams(params)``,
    ``save()`` and ``finalize(status)``."""

    @property
    def name(self):
        return None

    @property
    def version(self):
        return None

    @property
    def save_dir(self):
        return None

    @property
    def log_dir(self):
        return None

    @property
    def experiment(self):
        return None

    def log_metrics(self, metrics, step=None):
        raise NotImplementedError

    def log_hyperparams(self, params, *args, **kwargs):
        raise NotImplementedError

    def save(self):
        pass

    def finalize(self, status):
        self.save()


class _VersionedLogger(Logger):
    """``save_dir/name/version_N``: the version is chosen on first use (the next free N) unless given."""

    def __init__(self, save_dir, name, version):
        self._save_dir = os.fspath(save_dir)
        self._name = name or ""
        self._version = version

    @property
    def name(self):
        return self._name

    @property
    def save_dir(self):
        return self._save_dir

    @property
    def root_dir(self):
        return os.path.join(self._save_dir, self._name)

    @property
    def version(self):
        if self._version is None:
            self._version = _next_version(self.root_dir)
        return self._version

    @property
    def log_dir(self):
        version = self.version if isinstance(self.version, str) else f"version_{self.version}"
        return os.path.join(self.root_dir, version)


class _ExperimentWriter:
    """Writes ``metrics.csv`` (one row per ``log_metrics`` call; the columns are the sorted union of the
    keys, the file rewritten with a wider header when new keys appear) and ``hparams.yaml``."""

    NAME_METRICS_FILE = "metrics.csv"
    NAME_HPARAMS_FILE = "hparams.yaml"

    def __init__(self, log_dir):
        self.log_dir = log_dir
        os.makedirs(log_dir, exist_ok=True)
        self.metrics_file_path = os.path.join(log_dir, self.NAME_METRICS_FILE)
        self.hparams = {}
        self.metrics = []       # rows not yet written
        self.metrics_keys = []  # the columns of the file

    def log_hparams(self, params):
        self.hparams.update(params)

    def log_metrics(self, metrics, step=None):
        row = {k: _value(v) for k, v in metrics.items()}
        row["step"] = len(self.metrics) if step is None else int(step)
        self.metrics.append(row)

    def save(self):
        _save_hparams_yaml(os.path.join(self.log_dir, self.NAME_HPARAMS_FILE), self.hparams)
        if not self.metrics:
            return
        new_keys = set().union(*self.metrics) - set(self.metrics_keys)
        exists = os.path.isfile(self.metrics_file_path)
        self.metrics_keys = sorted(set(self.metrics_keys) | new_keys)
        rows = self.metrics
        if new_keys and exists:  # rewrite the file with the wider header
            with open(self.metrics_file_path, newline="") as f:
                rows = list(csv.DictReader(f)) + rows
            exists = False
        with open(self.metrics_file_path, "a" if exists else "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.metrics_keys)
            if not exists:
                writer.writeheader()
            writer.writerows(rows)
        self.metrics = []


class CSVLogger(_VersionedLogger):
    """Logs metrics to ``save_dir/name/version_N/metrics.csv`` and hyperparameters to ``hparams.yaml``
    beside it, as Lightning's ``CSVLogger``.

    Args:
        save_dir: the root directory.
        name: the experiment's directory under ``save_dir`` ("" or None: none).
        version: an int (``version_<int>``) or a directory name; by default the next free ``version_N``.
        prefix: prepended to every metric key, joined with "-".
        flush_logs_every_n_steps: write the pending rows when ``(step + 1)`` is a multiple of this.
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(self, save_dir, name="lightning_logs", version=None, prefix="", flush_logs_every_n_steps=100):
        super().__init__(save_dir, name, version)
        self._prefix = prefix
        self._flush_logs_every_n_steps = flush_logs_every_n_steps
        self._experiment = None

    @property
    def experiment(self):
        """The writer of ``metrics.csv`` and ``hparams.yaml`` (creates ``log_dir``)."""
        if self._experiment is None:
            self._experiment = _ExperimentWriter(self.log_dir)
        return self._experiment

    def log_hyperparams(self, params, *args, **kwargs):
        self.experiment.log_hparams(_params(params))

    def log_metrics(self, metrics, step=None):
        self.experiment.log_metrics(_add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR), step)
        if step is not None and (step + 1) % self._flush_logs_every_n_steps == 0:
            self.save()

    def save(self):
        self.experiment.save()


def _flatten(params, sep="/", parent=""):
    out = {}
    for k, v in params.items():
        key = f"{parent}{sep}{k}" if parent else str(k)
        if isinstance(v, Namespace):
            v = vars(v)
        if isinstance(v, dict) and v:
            out.update(_flatten(v, sep, key))
        else:
            out[key] = v
    return out


def _hparam_value(v):
    """A value the hparams plugin takes (a number, a string, a bool); others become strings."""
    v = _value(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


class TensorBoardLogger(_VersionedLogger):
    """Logs to TensorBoard event files in ``save_dir/name/version_N[/sub_dir]`` through
    ``gradcore.utils.tensorboard.SummaryWriter`` (``.experiment``), as Lightning's ``TensorBoardLogger``.

    Args:
        save_dir, name, version: as ``CSVLogger``.
        default_hp_metric: with ``log_hyperparams``, also record ``hp_metric = -1`` so that the
            HPARAMS tab shows the run.
        prefix: prepended to every metric key, joined with "-".
        sub_dir: a directory under the version directory.
        **kwargs: passed to ``SummaryWriter`` (``max_queue``, ``flush_secs``, ``filename_suffix``, ...).
    """

    LOGGER_JOIN_CHAR = "-"
    NAME_HPARAMS_FILE = "hparams.yaml"

    def __init__(self, save_dir, name="lightning_logs", version=None, log_graph=False, default_hp_metric=True,
                 prefix="", sub_dir=None, **kwargs):
        from ..utils.tensorboard import SummaryWriter  # ImportError naming `pip install tensorboard`
        super().__init__(save_dir, name, version)
        self._writer_cls = SummaryWriter
        self._default_hp_metric = default_hp_metric
        self._prefix = prefix
        self._sub_dir = None if sub_dir is None else os.fspath(sub_dir)
        self._kwargs = kwargs
        self._experiment = None
        self.hparams = {}

    @property
    def log_dir(self):
        log_dir = super().log_dir
        return os.path.join(log_dir, self._sub_dir) if self._sub_dir else log_dir

    @property
    def sub_dir(self):
        return self._sub_dir

    @property
    def experiment(self):
        """The ``SummaryWriter`` of ``log_dir``."""
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = self._writer_cls(log_dir=self.log_dir, **self._kwargs)
        return self._experiment

    def log_metrics(self, metrics, step=None):
        for k, v in _add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR).items():
            if isinstance(v, dict):
                self.experiment.add_scalars(k, v, step)
            else:
                self.experiment.add_scalar(k, _value(v), step)

    def log_hyperparams(self, params, metrics=None):
        """Stores ``params`` (written to ``hparams.yaml`` by ``save``) and records them, with ``metrics``,
        for the HPARAMS tab (in ``log_dir`` itself, not a sub-run as ``SummaryWriter.add_hparams`` does)."""
        from ..utils.tensorboard.writer import _hparams_summaries
        params = _params(params)
        self.hparams.update(params)
        flat = {k: _hparam_value(v) for k, v in _flatten(params).items()}
        if metrics is None:
            metrics = {"hp_metric": -1} if self._default_hp_metric else None
        elif not isinstance(metrics, dict):
            metrics = {"hp_metric": metrics}
        if metrics:
            self.log_metrics(metrics, 0)
            writer = self.experiment._get_file_writer()
            for summary in _hparams_summaries(flat, metrics):
                writer.add_summary(summary)

    def save(self):
        if self._experiment is not None:
            self._experiment.flush()
        if os.path.isdir(self.log_dir):
            _save_hparams_yaml(os.path.join(self.log_dir, self.NAME_HPARAMS_FILE), self.hparams)

    def finalize(self, status):
        if self._experiment is not None:
            self._experiment.flush()
            self._experiment.close()
        self.save()
