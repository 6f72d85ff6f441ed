"""``SummaryWriter``: the scalar, histogram, text and hparams parts of ``torch.utils.tensorboard``.

The events and summaries are TensorBoard's own protos, written by its ``EventFileWriter`` (a queue
flushed by a background thread every ``flush_secs`` or when ``max_queue`` events are pending).
"""
import numbers
import os
import time

import numpy as np
from google.protobuf import struct_pb2
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.hparams import api_pb2, metadata as hp_metadata
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo, SessionStartInfo
from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData
from tensorboard.summary.writer.event_file_writer import EventFileWriter

__all__ = ["SummaryWriter"]


def _is_tensor(x):
    from ... import _C
    return isinstance(x, _C.Tensor)


def _to_numpy(x):
    """A numpy array from a gradcore tensor, a numpy array or a Python / numpy number."""
    if isinstance(x, np.ndarray):
        return x
    if _is_tensor(x):
        x = x.detach().cpu()
        if x.is_floating_point() and x.element_size() < 4:
            x = x.float()  # numpy has no bfloat16
        return x.numpy()
    if np.isscalar(x) and isinstance(x, (numbers.Number, np.generic)):
        return np.array([x])
    raise NotImplementedError(f"SummaryWriter: got {type(x).__name__}, but a gradcore tensor, a numpy array or a "
                              "number is expected")


def _to_scalar(value):
    arr = _to_numpy(value).squeeze()
    if arr.ndim != 0:
        raise ValueError(f"SummaryWriter: a scalar must have one element, got shape {list(_to_numpy(value).shape)}")
    return float(arr)


def _scalar_summary(tag, value, new_style=False, double_precision=False):
    value = _to_scalar(value)
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=value)])
    tensor = (TensorProto(double_val=[value], dtype="DT_DOUBLE") if double_precision
              else TensorProto(float_val=[value], dtype="DT_FLOAT"))
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=smd)])


def _default_bins():
    """TensorBoard's default histogram bucket edges: +-1e-12 * 1.1**k up to 1e20, and 0."""
    v, pos = 1e-12, []
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return [-b for b in reversed(pos)] + [0] + pos


def _histogram_proto(values, bins, max_bins=None):
    """The HistogramProto of ``values`` (TensorBoard keeps only right bucket edges, so the bucket left of
    the first non-empty one is kept, empty, to carry the left edge)."""
    values = _to_numpy(values).astype(float).reshape(-1)
    if values.size == 0:
        raise ValueError("add_histogram: the input has no element")
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        sub = len(counts) // max_bins
        if len(counts) % sub:
            counts = np.pad(counts, (0, sub - len(counts) % sub))
        counts = counts.reshape(-1, sub).sum(axis=-1)
        limits = np.concatenate([limits[:-1:sub], limits[-1:]])
    nonzero = np.cumsum(counts > 0)
    start, end = np.searchsorted(nonzero, [0, nonzero[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    return HistogramProto(min=values.min(), max=values.max(), num=len(values), sum=values.sum(),
                          sum_squares=values.dot(values), bucket_limit=limits.tolist(), bucket=counts.tolist())


def _text_summary(tag, text):
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="text", content=TextPluginData(version=0).SerializeToString()))
    tensor = TensorProto(dtype="DT_STRING", string_val=[text.encode("utf_8")],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=smd, tensor=tensor)])


def _hparams_summary(tag, **content):
    data = HParamsPluginData(version=hp_metadata.PLUGIN_DATA_VERSION, **content)
    smd = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name=hp_metadata.PLUGIN_NAME, content=data.SerializeToString()))
    return Summary(value=[Summary.Value(tag=tag, metadata=smd)])


def _hparams_summaries(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The three summaries of the hparams plugin, as torch.utils.tensorboard writes them: the
    experiment (hparam and metric names), the session start (the values) and the session end."""
    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError("hparam_dict and metric_dict should be dictionary.")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError("hparam_domain_discrete should be a dictionary, nothing logged.")
    for k, v in domains.items():
        if k not in hparam_dict or not isinstance(v, list) or not all(isinstance(d, type(hparam_dict[k])) for d in v):
            raise TypeError(f"hparam_domain_discrete[{k}] should be a list of same type as hparam_dict[{k}].")
    ssi, infos = SessionStartInfo(), []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, np.generic):
            v = v.item()
        elif _is_tensor(v) or isinstance(v, np.ndarray):
            v = float(_to_numpy(v).reshape(-1)[0])
        # bool is an int, so (as in PyTorch) a bool is recorded as a number.
        if isinstance(v, (int, float)):
            field, dtype = "number_value", "DATA_TYPE_FLOAT64"
        elif isinstance(v, str):
            field, dtype = "string_value", "DATA_TYPE_STRING"
        else:
            raise ValueError(f"add_hparams: hparam {k!r} must be an int, float, str, bool or one-element tensor, "
                             f"got {type(v).__name__}")
        setattr(ssi.hparams[k], field, v)
        domain = None
        if k in domains:
            domain = struct_pb2.ListValue(values=[struct_pb2.Value(**{field: d}) for d in domains[k]])
        infos.append(api_pb2.HParamInfo(name=k, type=api_pb2.DataType.Value(dtype), domain_discrete=domain))
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict]
    exp = _hparams_summary(hp_metadata.EXPERIMENT_TAG,
                           experiment=api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics))
    start = _hparams_summary(hp_metadata.SESSION_START_INFO_TAG, session_start_info=ssi)
    end = _hparams_summary(hp_metadata.SESSION_END_INFO_TAG,
                           session_end_info=SessionEndInfo(status=api_pb2.Status.Value("STATUS_SUCCESS")))
    return exp, start, end


class _FileWriter:
    """One event file in one directory."""

    def __init__(self, log_dir, max_queue, flush_secs, filename_suffix):
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(Event(summary=summary), global_step, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()


class SummaryWriter:
    """Writes entries to event files in ``log_dir`` for TensorBoard, as ``torch.utils.tensorboard.SummaryWriter``.

    Args:
        log_dir: the directory; by default ``runs/CURRENT_DATETIME_HOSTNAME`` followed by ``comment``.
        comment: suffix of the default ``log_dir`` (ignored when ``log_dir`` is given).
        purge_step: on resuming a crashed run, events with a step >= ``purge_step`` are hidden.
        max_queue: pending events that force a write to disk.
        flush_secs: how often, in seconds, pending events are written.
        filename_suffix: suffix of the event file names.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        if not log_dir:
            import socket
            from datetime import datetime
            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = log_dir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self.default_bins = _default_bins()
        self._get_file_writer()

    def _get_file_writer(self):
        """The writer of ``log_dir``, created again after ``close``."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = _FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                self.file_writer.add_event(Event(step=self.purge_step, file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=self.purge_step, session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        """The directory the event files are written to."""
        return self.log_dir

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False, double_precision=False):
        """Records one scalar (a number, or a one-element tensor or array) under ``tag``."""
        self._get_file_writer().add_summary(_scalar_summary(tag, scalar_value, new_style, double_precision),
                                            global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Records several scalars on one chart: each key of ``tag_scalar_dict`` is a run of its own, in
        ``log_dir/<main_tag with "/" as "_">_<key>``, with the tag ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            fw_tag = fw_logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            fw = self.all_writers.get(fw_tag)
            if fw is None:
                fw = self.all_writers[fw_tag] = _FileWriter(fw_tag, self.max_queue, self.flush_secs,
                                                            self.filename_suffix)
            fw.add_summary(_scalar_summary(main_tag, value), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        """Records a histogram of ``values``; ``bins`` is "tensorflow" (TensorBoard's default edges) or
        anything ``numpy.histogram`` takes."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        summary = Summary(value=[Summary.Value(tag=tag, histo=_histogram_proto(values, bins, max_bins))])
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Records a string (rendered as markdown by TensorBoard)."""
        self._get_file_writer().add_summary(_text_summary(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None):
        """Records a set of hyperparameters and their metrics for TensorBoard's HPARAMS tab, in a run of its
        own, ``log_dir/<run_name>`` (by default the current time)."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        summaries = _hparams_summaries(hparam_dict, metric_dict, hparam_domain_discrete)
        run_name = run_name or str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as w:
            for s in summaries:
                w.file_writer.add_summary(s, global_step)
            for k, v in metric_dict.items():
                w.add_scalar(k, v, global_step)

    def flush(self):
        """Writes every pending event to disk."""
        for writer in (self.all_writers or {}).values():
            writer.flush()

    def close(self):
        """Flushes and closes the event files; a later ``add_*`` opens a new file."""
        for writer in (self.all_writers or {}).values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()
