"""The Lightning-style Trainer and its callbacks."""
import os

import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
import gradcore.nn.functional as F
from gradcore.callbacks import Callback, EarlyStopping, LearningRateMonitor, ModelCheckpoint
from gradcore.utils.data import DataLoader, TensorDataset


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """The Trainer's default CSVLogger writes lightning_logs/ under the working directory: keep it out of the repo."""
    monkeypatch.chdir(tmp_path)


def make_data(n=128, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32) > 0).astype(np.int64)
    return gradcore.tensor(x), gradcore.tensor(y)


class Classifier(nn.Module):
    def __init__(self, lr=0.1, sched=None):
        super().__init__()
        self.lr, self.sched = lr, sched
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("train_acc", (logits.argmax(1) == y).float().mean())
        return F.cross_entropy(logits, y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        return {"loss": F.cross_entropy(logits, y), "val_acc": (logits.argmax(1) == y).float().mean()}

    def configure_optimizers(self):
        opt = gradcore.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)
        if self.sched == "step":
            return [opt], [gradcore.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)]
        if self.sched == "plateau":
            return [opt], [{"scheduler": gradcore.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0), "monitor": "val_loss"}]
        return opt


def loaders(batch_size=16):
    x, y = make_data()
    xv, yv = make_data(64, seed=1)
    return (DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True),
            DataLoader(TensorDataset(xv, yv), batch_size=32))


def test_fit_learns_and_records_history():
    gradcore.manual_seed(0)
    train, val = loaders()
    model = Classifier()
    trainer = gradcore.Trainer(max_epochs=8, enable_progress_bar=False)
    trainer.fit(model, train, val)
    h = trainer.history
    assert len(h) == 8 and [r["epoch"] for r in h] == list(range(8))
    for key in ("train_loss", "val_loss", "val_acc", "train_acc", "lr"):
        assert key in h[-1]
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    assert h[-1]["val_acc"] > 0.85
    assert trainer.global_step == 8 * len(train)
    assert not hasattr(model, "log") or "log" not in model.__dict__


def test_validation_runs_in_eval_and_no_grad():
    seen = []

    class Probe(Classifier):
        def validation_step(self, batch, batch_idx):
            seen.append((self.training, gradcore.is_grad_enabled()))
            return super().validation_step(batch, batch_idx)

    train, val = loaders()
    model = Probe()
    gradcore.Trainer(max_epochs=1, enable_progress_bar=False).fit(model, train, val)
    assert seen and all(s == (False, False) for s in seen)
    assert model.training


def test_seed_makes_fit_reproducible():
    def run():
        train, val = loaders()
        model = Classifier()
        t = gradcore.Trainer(max_epochs=2, seed=123, enable_progress_bar=False)
        gradcore.manual_seed(123)
        model = Classifier()
        t.fit(model, train, val)
        return [r["train_loss"] for r in t.history]
    assert run() == run()


def test_accumulation_equals_big_batch():
    x, y = make_data(64)

    def grads(batch_size, accumulate):
        gradcore.manual_seed(3)
        model = Classifier(lr=0.0)
        captured = {}

        def configure():
            # Record the gradients of the first optimizer step (lr=0 keeps the weights fixed).
            opt = gradcore.optim.SGD(model.parameters(), lr=0.0)
            orig_step = opt.step

            def step(closure=None):
                if "g" not in captured:
                    captured["g"] = [p.grad.clone() for p in model.parameters()]
                return orig_step(closure)
            opt.step = step
            return opt

        model.configure_optimizers = configure
        loader = DataLoader(TensorDataset(x, y), batch_size=batch_size)
        gradcore.Trainer(max_epochs=1, accumulate_grad_batches=accumulate, enable_progress_bar=False).fit(model, loader)
        return captured["g"]

    big = grads(32, 1)
    small = grads(8, 4)
    for a, b in zip(big, small):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_gradient_clipping_bounds_the_norm():
    norms = []

    class Model(Classifier):
        def configure_optimizers(self):
            opt = gradcore.optim.SGD(self.parameters(), lr=0.1)
            orig = opt.step

            def step(closure=None):
                total = sum((p.grad * p.grad).sum().item() for p in self.parameters()) ** 0.5
                norms.append(total)
                return orig(closure)
            opt.step = step
            return opt

    train, _ = loaders()
    gradcore.Trainer(max_epochs=1, gradient_clip_val=0.01, enable_progress_bar=False).fit(Model(), train)
    assert max(norms) <= 0.01 + 1e-6


def test_max_steps_stops():
    train, val = loaders()
    t = gradcore.Trainer(max_epochs=100, max_steps=5, enable_progress_bar=False)
    t.fit(Classifier(), train, val)
    assert t.global_step == 5 and len(t.history) == 1


def test_early_stopping_stops():
    train, val = loaders()

    class Stuck(Classifier):
        def validation_step(self, batch, batch_idx):
            return gradcore.tensor(1.0)  # never improves

    es = EarlyStopping(monitor="val_loss", patience=2)
    t = gradcore.Trainer(max_epochs=20, callbacks=[es], enable_progress_bar=False)
    t.fit(Stuck(), train, val)
    assert t.should_stop and len(t.history) == 3 and es.wait_count == 2


def test_early_stopping_missing_metric_is_clear():
    train, _ = loaders()
    t = gradcore.Trainer(max_epochs=2, callbacks=[EarlyStopping(monitor="val_nope")], enable_progress_bar=False)
    with pytest.raises(RuntimeError, match="val_nope.*Available"):
        t.fit(Classifier(), train)


def test_model_checkpoint_saves_best_and_last(tmp_path):
    train, val = loaders()
    ck = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", mode="min")
    t = gradcore.Trainer(max_epochs=4, callbacks=[ck], enable_progress_bar=False)
    model = Classifier()
    t.fit(model, train, val)
    assert os.path.exists(ck.best_model_path) and os.path.exists(ck.last_model_path)
    best = min(r["val_loss"] for r in t.history)
    assert ck.best_model_score == pytest.approx(best)
    state = gradcore.load(ck.best_model_path)
    assert set(state) == set(model.state_dict())
    fresh = Classifier()
    fresh.load_state_dict(state)
    last = gradcore.load(ck.last_model_path)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(last[k].numpy(), v.numpy())


def test_checkpoint_default_dir(tmp_path):
    train, val = loaders()
    ck = ModelCheckpoint()
    gradcore.Trainer(max_epochs=1, callbacks=[ck], default_root_dir=tmp_path, enable_progress_bar=False).fit(
        Classifier(), train, val)
    assert ck.best_model_path.startswith(str(tmp_path))


def test_schedulers_step_per_epoch_and_lr_monitor():
    train, val = loaders()
    lrm = LearningRateMonitor()
    t = gradcore.Trainer(max_epochs=5, callbacks=[lrm], enable_progress_bar=False)
    t.fit(Classifier(lr=0.4, sched="step"), train, val)
    assert [r["lr"] for r in t.history] == pytest.approx([0.4, 0.2, 0.2, 0.1, 0.1])
    assert lrm.lrs["lr-SGD"] == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1])


def test_reduce_on_plateau_gets_the_metric():
    train, val = loaders()
    t = gradcore.Trainer(max_epochs=3, enable_progress_bar=False)
    t.fit(Classifier(sched="plateau"), train, val)
    assert len(t.history) == 3


def test_callback_hook_order():
    calls = []

    class Rec(Callback):
        def on_fit_start(self, trainer, model):
            calls.append("fit_start")

        def on_train_epoch_start(self, trainer, model):
            calls.append("epoch_start")

        def on_train_batch_end(self, trainer, model, outputs, batch, batch_idx):
            if batch_idx == 0:
                calls.append("batch_end")

        def on_validation_epoch_end(self, trainer, model):
            calls.append("val_end")

        def on_train_epoch_end(self, trainer, model):
            calls.append("epoch_end")

        def on_fit_end(self, trainer, model):
            calls.append("fit_end")

    train, val = loaders()
    gradcore.Trainer(max_epochs=1, callbacks=[Rec()], enable_progress_bar=False).fit(Classifier(), train, val)
    assert calls == ["fit_start", "epoch_start", "batch_end", "val_end", "epoch_end", "fit_end"]


def test_validate_returns_metrics():
    _, val = loaders()
    out = gradcore.Trainer(enable_progress_bar=False).validate(Classifier(), val)
    assert isinstance(out, list) and "val_loss" in out[0] and "val_acc" in out[0]


def test_progress_bar_shows_loss(capsys):
    train, _ = loaders()
    gradcore.Trainer(max_epochs=1).fit(Classifier(), train)
    err = capsys.readouterr().err
    assert "Epoch 0" in err and "loss" in err


def test_bad_arguments():
    with pytest.raises(ValueError):
        gradcore.Trainer(accumulate_grad_batches=0)
    with pytest.raises(TypeError):
        gradcore.Trainer(callbacks=[object()])
    with pytest.raises(AttributeError, match="training_step"):
        gradcore.Trainer(enable_progress_bar=False).fit(nn.Linear(2, 2), [])


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_trains_with_float32_parameters(precision):
    gradcore.manual_seed(0)
    train, val = loaders()
    seen = {}

    class Probe(Classifier):
        def training_step(self, batch, batch_idx):
            x, y = batch
            logits = self(x)
            seen["logits"] = logits.dtype
            loss = F.cross_entropy(logits, y)
            seen["loss"] = loss.dtype
            return loss

    model = Probe()
    trainer = gradcore.Trainer(max_epochs=6, enable_progress_bar=False, precision=precision, gradient_clip_val=5.0)
    trainer.fit(model, train, val)
    want = gradcore.bfloat16 if precision == "bf16-mixed" else gradcore.float16
    assert seen == {"logits": want, "loss": gradcore.float32}
    assert all(p.dtype == gradcore.float32 for p in model.parameters())
    assert trainer.history[-1]["val_acc"] > 0.85 and trainer.history[-1]["train_loss"] < trainer.history[0]["train_loss"]
    assert (trainer._scaler is not None) == (precision == "16-mixed")
    assert not gradcore.is_autocast_enabled("cpu")  # only inside the steps


def test_precision_flag_is_checked():
    assert gradcore.Trainer(precision=32).precision == "32-true"
    with pytest.raises(ValueError, match="precision='8-mixed' is not supported"):
        gradcore.Trainer(precision="8-mixed")
