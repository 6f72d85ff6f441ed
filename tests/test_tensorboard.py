"""gradcore.utils.tensorboard.SummaryWriter (read back with TensorBoard's own reader, compared with
torch.utils.tensorboard where torch is installed) and the Trainer's loggers."""
import os
import re
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradcore

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from gradcore.utils.tensorboard import SummaryWriter  # noqa: E402

PYTHONPATH = os.path.dirname(os.path.dirname(os.path.abspath(gradcore.__file__)))


def read(log_dir):
    return EventAccumulator(str(log_dir), size_guidance={"tensors": 0, "scalars": 0, "histograms": 0}).Reload()


def torch_writer():
    pytest.importorskip("torch")
    return pytest.importorskip("torch.utils.tensorboard").SummaryWriter


def event_files(d):
    return [f for f in os.listdir(d) if f.startswith("events.out.tfevents.")]


def test_scalars_read_back(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(5):
            w.add_scalar("loss/train", 1.0 / (step + 1), step)
        w.add_scalar("np", np.float32(2.5), 10)
        w.add_scalar("tensor", gradcore.tensor(3.25), 11)
        w.add_scalar("tensor1", gradcore.tensor([4.5]), 12, walltime=1234.5)
        w.add_scalar("bf16", gradcore.tensor(0.5).to(gradcore.bfloat16), 13)
        with pytest.raises(ValueError, match="one element"):
            w.add_scalar("bad", gradcore.tensor([1.0, 2.0]))
    ea = read(tmp_path)
    assert sorted(ea.Tags()["scalars"]) == ["bf16", "loss/train", "np", "tensor", "tensor1"]
    events = ea.Scalars("loss/train")
    assert [e.step for e in events] == list(range(5))
    np.testing.assert_allclose([e.value for e in events], [1.0 / (s + 1) for s in range(5)], rtol=1e-6)
    assert [(e.step, e.value) for e in ea.Scalars("np")] == [(10, 2.5)]
    assert [(e.step, e.value) for e in ea.Scalars("tensor")] == [(11, 3.25)]
    (e,) = ea.Scalars("tensor1")
    assert (e.step, e.value, e.wall_time) == (12, 4.5, 1234.5)
    assert ea.Scalars("bf16")[0].value == 0.5


def test_add_scalars_writes_one_run_per_key(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalars("run/loss", {"train": step, "val": 10 + step}, step)
    assert sorted(p for p in os.listdir(tmp_path) if os.path.isdir(tmp_path / p)) == ["run_loss_train", "run_loss_val"]
    for sub, offset in (("run_loss_train", 0), ("run_loss_val", 10)):
        ea = read(tmp_path / sub)
        assert ea.Tags()["scalars"] == ["run/loss"]
        assert [(e.step, e.value) for e in ea.Scalars("run/loss")] == [(s, offset + s) for s in range(3)]


def histo(log_dir, tag):
    return [(e.step, e.histogram_value) for e in read(log_dir).Histograms(tag)]


def test_histogram_default_bins(tmp_path):
    with SummaryWriter(tmp_path) as w:
        bins = w.default_bins
    mid = len(bins) // 2
    assert bins[mid] == 0 and bins[mid + 1] == 1e-12 and bins[mid - 1] == -1e-12 and 1e20 / 1.1 <= bins[-1] < 1e20


def test_histogram_read_back(tmp_path):
    values = np.array([0.5, 0.5, 1.5, 2.5, 2.5, 2.5])
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("h", values, 3, bins=[0, 1, 2, 3])
        w.add_histogram("t", gradcore.tensor(values.astype(np.float32)), 4)
    ((step, h),) = histo(tmp_path, "h")
    assert step == 3
    # The empty bucket left of the first non-empty one carries the left edge.
    assert list(h.bucket_limit) == [0, 1, 2, 3] and list(h.bucket) == [0, 2, 1, 3]
    assert (h.min, h.max, h.num, h.sum, h.sum_squares) == (0.5, 2.5, 6, 10.0, float(values @ values))
    ((step, t),) = histo(tmp_path, "t")
    assert step == 4 and sum(t.bucket) == 6 and t.min == 0.5 and t.max == 2.5


@pytest.mark.parametrize("bins", ["tensorflow", "auto", 7])
def test_histogram_matches_torch(tmp_path, bins):
    TW = torch_writer()
    data = np.random.default_rng(1).standard_normal(2000) * 3
    for W, d in ((SummaryWriter, tmp_path / "g"), (TW, tmp_path / "t")):
        with W(str(d)) as w:
            w.add_histogram("h", data, 5, bins=bins)
            w.add_histogram("sub", data, 6, bins=bins, max_bins=5)
    for tag in ("h", "sub"):
        assert histo(tmp_path / "g", tag) == histo(tmp_path / "t", tag)


def test_text_read_back_and_matches_torch(tmp_path):
    with SummaryWriter(tmp_path / "g") as w:
        w.add_text("notes", "hello *world*", 7)
    ea = read(tmp_path / "g")
    assert ea.Tags()["tensors"] == ["notes/text_summary"]
    (e,) = ea.Tensors("notes/text_summary")
    assert e.step == 7 and e.tensor_proto.string_val == [b"hello *world*"]
    TW = torch_writer()
    with TW(str(tmp_path / "t")) as w:
        w.add_text("notes", "hello *world*", 7)
    et = read(tmp_path / "t")
    assert et.Tensors("notes/text_summary")[0].tensor_proto == e.tensor_proto
    assert et.PluginTagToContent("text") == ea.PluginTagToContent("text")


HPARAMS = {"lr": 0.01, "layers": 3, "opt": "adam", "amsgrad": True, "skip": None}
METRICS = {"hparam/accuracy": 0.75, "hparam/loss": 0.5}
DOMAINS = {"opt": ["adam", "sgd"], "layers": [2, 3, 4]}


def test_add_hparams_read_back(tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2
    with SummaryWriter(tmp_path) as w:
        w.add_hparams(HPARAMS, METRICS, hparam_domain_discrete=DOMAINS, run_name="trial", global_step=2)
    ea = read(tmp_path / "trial")
    content = ea.PluginTagToContent("hparams")
    assert sorted(content) == ["_hparams_/experiment", "_hparams_/session_end_info", "_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["lr"].number_value == 0.01 and start.hparams["opt"].string_value == "adam"
    assert start.hparams["layers"].number_value == 3 and "skip" not in start.hparams
    exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert [m.name.tag for m in exp.metric_infos] == list(METRICS)
    assert [h.name for h in exp.hparam_infos] == ["lr", "layers", "opt", "amsgrad"]
    assert [v.string_value for v in exp.hparam_infos[2].domain_discrete.values] == ["adam", "sgd"]
    assert [(e.step, e.value) for e in ea.Scalars("hparam/accuracy")] == [(2, 0.75)]
    with pytest.raises(TypeError, match="dictionary"):
        SummaryWriter(tmp_path / "x").add_hparams([("lr", 1)], {})


def test_add_hparams_matches_torch(tmp_path):
    TW = torch_writer()
    for W, d in ((SummaryWriter, tmp_path / "g"), (TW, tmp_path / "t")):
        with W(str(d)) as w:
            w.add_hparams(HPARAMS, METRICS, hparam_domain_discrete=DOMAINS, run_name="trial")
    assert read(tmp_path / "g" / "trial").PluginTagToContent("hparams") == \
        read(tmp_path / "t" / "trial").PluginTagToContent("hparams")


def test_default_log_dir_and_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.add_scalar("x", 1.0, 0)
    w.close()
    pattern = r"runs/[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" + re.escape(socket.gethostname()) + r"_lr0\.1"
    assert re.fullmatch(pattern, w.log_dir.replace(os.sep, "/")), w.log_dir
    assert w.get_logdir() == w.log_dir
    assert event_files(tmp_path / w.log_dir)


def test_flush_close_reopen_and_suffix(tmp_path):
    w = SummaryWriter(tmp_path, filename_suffix=".gc", flush_secs=3600, max_queue=1000)
    w.add_scalar("a", 1.0, 0)
    w.flush()
    assert [e.value for e in read(tmp_path).Scalars("a")] == [1.0]
    w.close()
    w.add_scalar("a", 2.0, 1)  # a new event file after close
    w.close()
    files = event_files(tmp_path)
    assert len(files) == 2 and all(f.endswith(".gc") for f in files)
    assert [(e.step, e.value) for e in read(tmp_path).Scalars("a")] == [(0, 1.0), (1, 2.0)]


def test_purge_step_hides_later_events(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for s in range(5):
            w.add_scalar("a", s, s)
    with SummaryWriter(tmp_path, purge_step=2) as w:
        w.add_scalar("a", 20, 2)
    assert [(e.step, e.value) for e in read(tmp_path).Scalars("a")] == [(0, 0), (1, 1), (2, 20)]


def run_python(code):
    env = dict(os.environ, PYTHONPATH=PYTHONPATH)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True)


def test_import_gradcore_does_not_import_tensorboard():
    r = run_python("""
        import sys, gradcore, gradcore.train
        assert "tensorboard" not in sys.modules, "import gradcore imported tensorboard"
    """)
    assert r.returncode == 0, r.stderr


def test_clear_import_error_without_tensorboard():
    r = run_python("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "tensorboard" or name.startswith("tensorboard."):
                    raise ModuleNotFoundError(f"No module named {name!r}")
        sys.meta_path.insert(0, Block())
        import gradcore
        try:
            import gradcore.utils.tensorboard
        except ImportError as e:
            print(e)
        else:
            raise SystemExit("no ImportError")
    """)
    assert r.returncode == 0, r.stderr
    assert "pip install tensorboard" in r.stdout
