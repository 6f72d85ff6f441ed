"""The Trainer's loggers: CSVLogger (the default) and TensorBoardLogger, fed by self.log(...)."""
import csv
import os
from argparse import Namespace

import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.train import CSVLogger, TensorBoardLogger, loggers
from gradcore.utils.data import DataLoader, TensorDataset


class Model(nn.Module):
    def __init__(self, hparams=None, on_epoch=None):
        super().__init__()
        self.net = nn.Linear(3, 2)
        self.on_epoch = on_epoch
        if hparams is not None:
            self.hparams = hparams

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_step_loss", loss, on_epoch=self.on_epoch)
        self.log("const", 2.0, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_acc", (logits.argmax(1) == y).float().mean())
        return F.cross_entropy(logits, y)

    def configure_optimizers(self):
        return gradcore.optim.SGD(self.parameters(), lr=0.1)


def data(n=40, batch_size=8):
    rng = np.random.default_rng(0)
    x = gradcore.tensor(rng.standard_normal((n, 3)).astype(np.float32))
    y = gradcore.tensor((rng.standard_normal(n) > 0).astype(np.int64))
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def fit(max_epochs=2, **kwargs):
    model = kwargs.pop("model", None) or Model()
    trainer = gradcore.Trainer(max_epochs=max_epochs, enable_progress_bar=False, **kwargs)
    trainer.fit(model, data(), data(16))
    return trainer


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_default_csv_logger_writes_metrics_and_versions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t = fit(max_epochs=3, log_every_n_steps=2)
    assert isinstance(t.logger, CSVLogger) and t.loggers == [t.logger]
    assert t.log_dir == os.path.join(str(tmp_path), "lightning_logs", "version_0") == t.logger.log_dir
    assert t.logger.version == 0 and t.logger.name == "lightning_logs"
    rows = read_csv(tmp_path / "lightning_logs" / "version_0" / "metrics.csv")
    assert list(rows[0]) == ["const", "epoch", "step", "train_loss", "train_step_loss", "val_acc", "val_loss"]
    step_rows = [r for r in rows if r["train_step_loss"]]
    epoch_rows = [r for r in rows if r["val_loss"]]
    # 5 batches an epoch, 15 optimizer steps: a step row every 2nd step, at step global_step - 1.
    assert [int(r["step"]) for r in step_rows] == list(range(1, 15, 2))
    assert [int(r["step"]) for r in epoch_rows] == [4, 9, 14] and [r["epoch"] for r in epoch_rows] == ["0", "1", "2"]
    assert all(float(r["const"]) == 2.0 for r in epoch_rows)
    for r, h in zip(epoch_rows, t.history):
        assert float(r["val_loss"]) == pytest.approx(h["val_loss"])
        assert float(r["val_acc"]) == pytest.approx(h["val_acc"])
        assert float(r["train_loss"]) == pytest.approx(h["train_loss"])  # the mean of the returned losses
    assert (tmp_path / "lightning_logs" / "version_0" / "hparams.yaml").read_text() == "{}\n"
    fit(max_epochs=1)
    fit(max_epochs=1)
    assert sorted(os.listdir(tmp_path / "lightning_logs")) == ["version_0", "version_1", "version_2"]


def test_on_step_and_on_epoch_get_suffixes_and_train_loss(tmp_path):
    t = fit(model=Model(on_epoch=True), default_root_dir=tmp_path, log_every_n_steps=5)
    rows = read_csv(os.path.join(t.log_dir, "metrics.csv"))
    assert "train_step_loss_step" in rows[0] and "train_step_loss_epoch" in rows[0]
    epoch_rows = [r for r in rows if r["train_step_loss_epoch"]]
    assert len(epoch_rows) == 2
    for r, h in zip(epoch_rows, t.history):
        assert float(r["train_step_loss_epoch"]) == pytest.approx(h["train_step_loss"])
        assert float(r["train_loss"]) == pytest.approx(h["train_loss"])


def test_logger_false_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for off in (False, None):
        t = fit(logger=off, default_root_dir=tmp_path / "root")
        assert t.logger is None and t.loggers == [] and t.log_dir == str(tmp_path / "root")
    assert os.listdir(tmp_path) == []


def test_hparams_yaml_from_model_hparams(tmp_path):
    hp = {"lr": 0.1, "layers": [16, 8], "name": "mlp", "opt": {"momentum": 0.9, "nesterov": True}, "none": None,
          "yes": "on"}
    t = fit(model=Model(hparams=hp), default_root_dir=tmp_path, max_epochs=1)
    text = open(os.path.join(t.log_dir, "hparams.yaml")).read()
    assert text == ('lr: 0.1\nlayers:\n  - 16\n  - 8\nname: "mlp"\nopt:\n  momentum: 0.9\n  nesterov: true\n'
                    'none: null\n"yes": "on"\n')
    t = fit(model=Model(hparams=Namespace(a=1, b="x")), default_root_dir=tmp_path, max_epochs=1)
    assert t.logger.version == 1
    assert open(os.path.join(t.log_dir, "hparams.yaml")).read() == 'a: 1\nb: "x"\n'
    try:
        import yaml
    except ImportError:
        return
    assert yaml.safe_load(text) == hp


def test_csv_logger_api(tmp_path):
    lg = CSVLogger(tmp_path, name="exp", version=3, prefix="p", flush_logs_every_n_steps=2)
    assert lg.log_dir == os.path.join(str(tmp_path), "exp", "version_3") and not os.path.exists(lg.log_dir)
    lg.log_metrics({"a": gradcore.tensor(1.5)}, step=0)
    assert not os.path.exists(os.path.join(lg.log_dir, "metrics.csv"))
    lg.log_metrics({"b": np.float32(2.0)}, step=1)  # (step + 1) % 2 == 0: written
    assert read_csv(os.path.join(lg.log_dir, "metrics.csv")) == [
        {"p-a": "1.5", "p-b": "", "step": "0"}, {"p-a": "", "p-b": "2.0", "step": "1"}]
    lg.log_metrics({"c": 3}, step=2)  # a new column: the file is rewritten with the wider header
    lg.log_hyperparams({"lr": 0.5})
    lg.finalize("success")
    rows = read_csv(os.path.join(lg.log_dir, "metrics.csv"))
    assert list(rows[0]) == ["p-a", "p-b", "p-c", "step"] and rows[2]["p-c"] == "3" and rows[0]["p-a"] == "1.5"
    assert open(os.path.join(lg.log_dir, "hparams.yaml")).read() == "lr: 0.5\n"
    assert CSVLogger(tmp_path, name="exp").version == 4
    named = CSVLogger(tmp_path, name="", version="run_a")
    assert named.log_dir == os.path.join(str(tmp_path), "run_a")


def test_bad_logger_argument():
    with pytest.raises(TypeError, match="logger"):
        gradcore.Trainer(logger="csv")


def test_validate_logs_metrics(tmp_path):
    t = gradcore.Trainer(default_root_dir=tmp_path, enable_progress_bar=False)
    (metrics,) = t.validate(Model(), data(16))
    rows = read_csv(os.path.join(t.log_dir, "metrics.csv"))
    assert len(rows) == 1 and float(rows[0]["val_loss"]) == pytest.approx(metrics["val_loss"])


def test_loggers_module_and_exports():
    assert loggers.CSVLogger is CSVLogger and loggers.TensorBoardLogger is TensorBoardLogger
    assert issubclass(CSVLogger, loggers.Logger) and issubclass(TensorBoardLogger, loggers.Logger)


def test_tensorboard_logger_with_trainer(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from gradcore.utils.tensorboard import SummaryWriter
    tb = TensorBoardLogger(tmp_path, name="tb")
    csv_logger = CSVLogger(tmp_path, name="csv")
    t = fit(model=Model(hparams={"lr": 0.1, "opt": "sgd"}), logger=[tb, csv_logger], log_every_n_steps=2)
    assert t.logger is tb and t.log_dir == tb.log_dir == os.path.join(str(tmp_path), "tb", "version_0")
    assert isinstance(tb.experiment, SummaryWriter)
    ea = EventAccumulator(tb.log_dir).Reload()
    assert sorted(ea.Tags()["scalars"]) == ["const", "epoch", "hp_metric", "train_loss", "train_step_loss",
                                                "val_acc", "val_loss"]
    assert [e.step for e in ea.Scalars("val_loss")] == [4, 9]
    for e, h in zip(ea.Scalars("val_loss"), t.history):
        assert e.value == pytest.approx(h["val_loss"], rel=1e-6)
    assert [(e.step, e.value) for e in ea.Scalars("hp_metric")] == [(0, -1)]
    assert sorted(ea.PluginTagToContent("hparams")) == [
        "_hparams_/experiment", "_hparams_/session_end_info", "_hparams_/session_start_info"]
    assert open(os.path.join(tb.log_dir, "hparams.yaml")).read() == 'lr: 0.1\nopt: "sgd"\n'
    assert len(read_csv(os.path.join(csv_logger.log_dir, "metrics.csv"))) == 2 + 5
    tb2 = TensorBoardLogger(tmp_path, name="tb", sub_dir="sub", default_hp_metric=False)
    assert tb2.version == 1 and tb2.log_dir == os.path.join(str(tmp_path), "tb", "version_1", "sub")
    tb2.log_metrics({"a": 1.0, "grp": {"x": 1.0, "y": 2.0}}, step=3)
    tb2.log_hyperparams({"lr": 1})
    tb2.finalize("success")
    assert EventAccumulator(tb2.log_dir).Reload().Tags()["scalars"] == ["a"]
    assert sorted(d for d in os.listdir(tb2.log_dir) if not d.startswith("events")) == ["grp_x", "grp_y", "hparams.yaml"]
