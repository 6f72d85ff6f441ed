"""The training doctor (gradcore.debug.doctor): each check is planted in a small real loop and must
warn on the first step it happens, and the correct loop beside it must stay silent."""
import warnings

import pytest

import gradcore as torch
import gradcore.nn.functional as F
from gradcore import nn
from gradcore.debug import TrainingWarning, doctor


def _data(n=64, d=10, classes=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g), torch.randint(0, classes, (n,), generator=g)


def _mlp(dropout=0.0, bn=False):
    torch.manual_seed(0)
    layers = [nn.Linear(10, 16)] + ([nn.BatchNorm1d(16)] if bn else []) + [nn.ReLU()]
    layers += [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(*layers, nn.Linear(16, 3))


def _diagnose(loop, accumulate=1):
    """Runs ``loop()`` under a doctor; returns the TrainingWarning messages in order."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with doctor(accumulate=accumulate):
            loop()
    return [str(w.message) for w in caught if issubclass(w.category, TrainingWarning)]


def _train(model, opt, steps=3, loss_fn=None, zero=True, sched=None, x=None, y=None):
    X, Y = _data() if x is None else (x, y)
    loss_fn = loss_fn or (lambda out: F.cross_entropy(out, Y))
    for _ in range(steps):
        if zero:
            opt.zero_grad()
        loss = loss_fn(model(X))
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()


def test_correct_loops_are_silent():
    def loop():
        X, Y = _data()
        model = _mlp(dropout=0.2, bn=True)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.StepLR(opt, 2)
        for epoch in range(3):
            model.train()
            for i in range(4):
                opt.zero_grad()
                loss = nn.CrossEntropyLoss()(model(X[i * 16:(i + 1) * 16]), Y[i * 16:(i + 1) * 16])
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
            sched.step()
            model.eval()
            with torch.no_grad():
                model(X).argmax(1)
        # other ways to zero gradients, and log_softmax + nll_loss
        model.train()
        for zero in (lambda: opt.zero_grad(set_to_none=False), lambda: model.zero_grad(),
                     lambda: [p.grad.zero_() for p in model.parameters()],
                     lambda: [setattr(p, "grad", None) for p in model.parameters()]):
            zero()
            F.nll_loss(F.log_softmax(model(X), dim=1), Y).backward()
            opt.step()
            zero()
            F.nll_loss(model(X).softmax(1).log(), Y).backward()
            opt.step()
        # a plain MLP (nothing that depends on train/eval) may be evaluated in train mode
        plain = _mlp()
        with torch.no_grad():
            plain(X)
    assert _diagnose(loop) == []


def test_forgotten_zero_grad_warns_at_the_second_step():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    msgs = _diagnose(lambda: _train(model, opt, steps=1, zero=False))
    assert msgs == []
    msgs = _diagnose(lambda: _train(model, opt, steps=2, zero=False))
    assert len(msgs) == 1
    assert "SGD.step() used gradients summed over 2 backward() calls" in msgs[0]
    assert "zero_grad()" in msgs[0] and "accumulate=2" in msgs[0]


def test_forgotten_zero_grad_is_found_through_clipping_and_assigned_grads_start_over():
    # the engine counts the backward() calls summed in each .grad (Tensor::grad_sums): an in-place
    # change between backward() and step() (clipping) is not a zeroing, an assigned .grad is new
    X, Y = _data()

    def loop(clip, assign):
        model = _mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            if assign:
                for p in model.parameters():
                    p.grad = torch.zeros_like(p)
            F.cross_entropy(model(X), Y).backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            opt.step()
    msgs = _diagnose(lambda: loop(clip=True, assign=False))
    assert len(msgs) == 1 and "summed over 2 backward() calls" in msgs[0]
    assert _diagnose(lambda: loop(clip=True, assign=True)) == []


def test_sampled_gradient_norm_matches_numpy():
    import numpy as np
    from gradcore import _C
    from gradcore.debug import _NORM_SAMPLE, _gradient_norm
    rng = np.random.default_rng(0)
    small = [rng.standard_normal(s).astype(np.float32) for s in ((16, 10), (16,), (3, 16))]
    params = []
    for a in small:
        p = torch.zeros(a.shape, requires_grad=True)
        p.grad = torch.tensor(a)
        params.append(p)
    params.append(torch.zeros(5, requires_grad=True))  # no gradient: reported missing
    most, with_grad, missing, norm = _C._doctor_grads(params, _NORM_SAMPLE)
    exact = np.sqrt(sum(float((a.astype(np.float64) ** 2).sum()) for a in small))
    assert (most, with_grad, missing) == (0, 3, [3]) and norm == pytest.approx(exact, rel=1e-6)
    # a large gradient is sampled (16 contiguous runs); its values are i.i.d., so the estimate is close
    big = torch.zeros(300, 500, requires_grad=True)
    big.grad = torch.tensor(rng.standard_normal((300, 500)).astype(np.float32))
    for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        p = big.detach().to(dtype).requires_grad_()
        p.grad = big.grad.to(dtype)
        assert _C._doctor_grads([p], _NORM_SAMPLE)[3] == pytest.approx(np.sqrt(300 * 500), rel=0.05)
    # float64 values beyond float32's range are read as doubles, not through float (no false inf)
    huge = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    huge.grad = torch.tensor([1e100, -1e100, 0.0], dtype=torch.float64)
    assert _C._doctor_grads([huge], _NORM_SAMPLE)[3] == pytest.approx(np.sqrt(2) * 1e100, rel=1e-12)
    # a non-contiguous gradient is left to the Python estimate
    sq = torch.zeros(40, 40, requires_grad=True)
    sq.grad = torch.tensor(rng.standard_normal((40, 40)).astype(np.float32)).t()
    assert _C._doctor_grads([sq], _NORM_SAMPLE)[3] is None
    assert _gradient_norm([sq.grad]) == pytest.approx(float(np.linalg.norm(sq.grad.numpy())), rel=1e-5)


def test_declared_accumulation_is_silent_and_overshooting_it_warns():
    X, Y = _data()

    def loop(every):
        model = _mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for i in range(8):
            F.cross_entropy(model(X), Y).backward()
            if (i + 1) % 4 == 0:
                opt.step()
                if every:
                    opt.zero_grad()
    assert _diagnose(lambda: loop(True), accumulate=4) == []
    msgs = _diagnose(lambda: loop(True), accumulate=2)
    assert len(msgs) == 1 and "summed over 4 backward() calls" in msgs[0] and "accumulate=2" in msgs[0]
    msgs = _diagnose(lambda: loop(False), accumulate=4)  # declared 4, but never zeroed: 8 at the second step
    assert len(msgs) == 1 and "summed over 8 backward() calls" in msgs[0]


@pytest.mark.parametrize("wrap", [lambda p: p, lambda p: p.view(64, 3), lambda p: p.float()])
def test_cross_entropy_on_softmax_output_warns(wrap):
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    Y = _data()[1]
    msgs = _diagnose(lambda: _train(model, opt, 1, loss_fn=lambda out: F.cross_entropy(wrap(out.softmax(1)), Y)))
    assert len(msgs) == 1 and "cross_entropy got the output of softmax (SoftmaxBackward0)" in msgs[0]
    msgs = _diagnose(lambda: _train(model, opt, 1, loss_fn=lambda out: nn.CrossEntropyLoss()(F.softmax(out, 1), Y)))
    assert len(msgs) == 1 and "pass the logits" in msgs[0]


def test_nll_loss_on_scores_or_probabilities_warns():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    Y = _data()[1]
    msgs = _diagnose(lambda: _train(model, opt, 1, loss_fn=lambda out: F.nll_loss(out, Y)))
    assert len(msgs) == 1 and msgs[0].startswith("nll_loss got raw scores") and "log_softmax" in msgs[0]
    msgs = _diagnose(lambda: _train(model, opt, 1, loss_fn=lambda out: nn.NLLLoss()(out.softmax(1), Y)))
    assert len(msgs) == 1 and msgs[0].startswith("nll_loss got probabilities from softmax")


def test_training_in_eval_mode_warns_at_the_first_step():
    model = _mlp(dropout=0.5)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.eval()
    msgs = _diagnose(lambda: _train(model, opt, 2))
    assert len(msgs) == 1
    assert msgs[0].startswith("SGD.step() while Sequential is in eval mode") and "model.train()" in msgs[0]
    X = _data()[0]

    def saliency():  # gradients of an eval-mode model without an optimizer step: fine
        x = X.clone().requires_grad_()
        model(x).max(1).values.sum().backward()
    assert _diagnose(saliency) == []


def test_validation_in_train_mode_warns_and_names_the_layers():
    model = _mlp(dropout=0.5, bn=True)
    X = _data()[0]

    def validate():
        with torch.no_grad():
            model(X)
    msgs = _diagnose(validate)
    assert len(msgs) == 1
    assert "ran under no_grad" in msgs[0] and "BatchNorm1d '1'" in msgs[0] and "Dropout '3'" in msgs[0]
    model.eval()
    assert _diagnose(validate) == []


def test_parameters_outside_every_optimizer_are_named():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = nn.Linear(10, 16), nn.Linear(16, 3)

        def forward(self, x):
            return self.head(self.body(x).relu())

    model = Net()
    opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
    msgs = _diagnose(lambda: _train(model, opt, 2))
    assert len(msgs) == 1
    assert "2 parameters of Net require grad but are in no optimizer: body.weight, body.bias" in msgs[0]
    # frozen on purpose: silent; two optimizers sharing the model (GAN style): silent
    for p in model.body.parameters():
        p.requires_grad_(False)
    assert _diagnose(lambda: _train(model, torch.optim.SGD(model.head.parameters(), lr=0.1), 2)) == []
    for p in model.body.parameters():
        p.requires_grad_(True)
    opt_body = torch.optim.SGD(model.body.parameters(), lr=0.1)
    opt_head = torch.optim.SGD(model.head.parameters(), lr=0.1)
    X, Y = _data()

    def two():
        for _ in range(2):
            opt_body.zero_grad()
            opt_head.zero_grad()
            F.cross_entropy(model(X), Y).backward()
            opt_head.step()
            opt_body.step()
    assert _diagnose(two) == []


def test_parameters_that_get_no_gradient_are_named():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.unused = nn.Linear(10, 3), nn.Linear(10, 3)

        def forward(self, x):
            return self.fc(x) + 0 * self.unused(x).detach()

    model = Net()
    msgs = _diagnose(lambda: _train(model, torch.optim.Adam(model.parameters()), 2))
    assert len(msgs) == 1
    assert "2 of the 4 parameters in Adam got no gradient from backward(): Net.unused.weight, Net.unused.bias" in msgs[0]


def test_scheduler_before_optimizer_warns_once_as_training_warning():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    X, Y = _data()

    def loop():
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(X), Y).backward()
            sched.step()
            opt.step()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with doctor():
            loop()
    # PyTorch's own UserWarning stays, and the doctor adds its TrainingWarning, once
    assert sorted(w.category.__name__ for w in caught) == ["TrainingWarning", "UserWarning"]
    said = [str(w.message) for w in caught if w.category is TrainingWarning]
    assert "StepLR.step() ran before SGD.step()" in said[0]


def test_unreduced_loss_warns():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    X, Y = _data()

    def loop(reduce):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), Y, reduction="none")
        if reduce:
            loss.mean().backward()
        else:
            loss.backward(torch.ones_like(loss))
        opt.step()
    assert _diagnose(lambda: loop(True)) == []
    msgs = _diagnose(lambda: loop(False))
    assert len(msgs) == 1 and "SGD.step() follows backward() on a loss of shape [64]" in msgs[0]
    assert "loss.mean()" in msgs[0]

    def vjp():  # a vector-Jacobian product without an optimizer step is not a training mistake
        loss = F.cross_entropy(model(X), Y, reduction="none")
        loss.backward(torch.ones_like(loss))
    assert _diagnose(vjp) == []


def test_graph_leaking_across_iterations_warns_at_the_second_step():
    # An RNN's hidden state carried without .detach(): the second backward reaches the first
    # iteration's graph. The engine then fails (its weights changed since), and the doctor has
    # already said why.
    torch.manual_seed(0)
    cell = nn.RNNCell(4, 8)
    opt = torch.optim.SGD(cell.parameters(), lr=0.01)
    xs = torch.randn(6, 2, 4)

    def loop(detach):
        h = torch.zeros(2, 8)
        for x in xs:
            opt.zero_grad()
            h = cell(x, h.detach() if detach else h)
            h.pow(2).mean().backward(retain_graph=True)
            opt.step()
    assert _diagnose(lambda: loop(True)) == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            with doctor():
                loop(False)
    msgs = [str(w.message) for w in caught if w.category is TrainingWarning]
    assert len(msgs) == 1 and ".detach()" in msgs[0]
    assert "that a backward() before the last optimizer step already ran" in msgs[0]


def test_exploding_and_nonfinite_gradients_warn():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    X, Y = _data()

    def loop(scale_at, scale):
        for i in range(14):
            opt.zero_grad()
            (F.cross_entropy(model(X), Y) * (scale if i == scale_at else 1.0)).backward()
            opt.step()
    assert _diagnose(lambda: loop(-1, 1.0)) == []
    msgs = _diagnose(lambda: loop(12, 1e4))
    assert len(msgs) == 1 and "the gradient norm jumped to" in msgs[0] and "clip_grad_norm_" in msgs[0]
    msgs = _diagnose(lambda: loop(0, float("nan")))  # the forward check sees the NaN first
    assert len(msgs) == 2 and msgs[0].startswith("the forward pass made its first nan in Mul (MulBackward0)")
    assert "non-finite gradient norm (nan)" in msgs[1]


def test_warning_points_at_the_users_line():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with doctor():
            _train(model, opt, 2, zero=False)
    assert caught[0].filename == __file__


def test_doctor_leaves_nothing_behind():
    from gradcore import _debug_slot
    from gradcore.nn.modules import module
    from gradcore.optim import optimizer
    backward = torch.Tensor.backward
    with pytest.raises(ZeroDivisionError):
        with doctor():
            assert torch.Tensor.backward is not backward and _debug_slot.active is not None
            1 / 0
    assert torch.Tensor.backward is backward and torch.autograd.backward.__module__ == "gradcore.autograd"
    assert _debug_slot.active is None
    assert not (module._global_forward_hooks or module._global_forward_pre_hooks)
    assert not (optimizer._global_optimizer_pre_hooks or optimizer._global_optimizer_post_hooks)
    with pytest.raises(ValueError, match="accumulate must be a positive int"):
        doctor(accumulate=0)


def test_doctor_as_decorator_and_through_autograd_backward():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    X, Y = _data()

    @doctor()
    def loop():
        for _ in range(2):
            torch.autograd.backward(F.cross_entropy(model(X), Y))
            opt.step()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop()
    assert [w.category for w in caught] == [TrainingWarning]


class _Classifier(nn.Module):
    def __init__(self, probabilities=False):
        super().__init__()
        self.net, self.probabilities = _mlp(dropout=0.2), probabilities

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        return F.cross_entropy(out.softmax(1) if self.probabilities else out, y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=1e-2)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1)}


@pytest.mark.parametrize("accumulate", [1, 3])
def test_trainer_doctor(tmp_path, accumulate):
    from gradcore.train import Trainer
    from gradcore.utils.data import DataLoader, TensorDataset
    X, Y = _data()
    loader = DataLoader(TensorDataset(X, Y), batch_size=8)

    def fit(model):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Trainer(max_epochs=2, doctor=True, accumulate_grad_batches=accumulate, enable_progress_bar=False,
                    logger=False, default_root_dir=tmp_path).fit(model, loader, loader)
        return [str(w.message) for w in caught if issubclass(w.category, TrainingWarning)]
    assert fit(_Classifier()) == []
    msgs = fit(_Classifier(probabilities=True))
    assert len(msgs) == 1 and "cross_entropy got the output of softmax" in msgs[0]


def test_first_nonfinite_op_of_the_forward_pass_is_named_with_its_line():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    X, Y = _data()

    def loop():
        opt.zero_grad()
        scores = model(X)
        loss = scores.log().mean() + F.cross_entropy(scores, Y)  # log of negative scores: NaN
        loss.backward()
        opt.step()
    msgs = _diagnose(loop)
    first = [m for m in msgs if m.startswith("the forward pass made its first nan")]
    assert len(first) == 1, msgs
    assert "in Log (LogBackward0) called at" in first[0] and "test_doctor.py" in first[0]
    assert "(`loss = scores.log().mean() + F.cross_entropy(scores, Y)" in first[0]
    assert "input 0: shape [64, 3], values in [" in first[0] and "clamp" in first[0]


def test_nonfinite_data_is_blamed_on_the_inputs():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    X, Y = _data()
    X[3, 2] = float("inf")

    def loop():
        opt.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        opt.step()
    msgs = _diagnose(loop)
    assert any("its inputs already held NaN/inf" in m and "check the data batch" in m for m in msgs), msgs


def test_running_total_of_losses_is_a_leak():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    X, Y = _data()

    def loop(item):
        total = 0.0
        for _ in range(6):
            opt.zero_grad()
            loss = F.cross_entropy(model(X), Y)
            loss.backward()
            opt.step()
            total = total + (loss.item() if item else loss)
    assert _diagnose(lambda: loop(True)) == []
    msgs = _diagnose(lambda: loop(False))
    assert len(msgs) == 1 and "grew at each of the last 3 SGD.step() calls" in msgs[0], msgs
    assert "loss.item()" in msgs[0]


def test_minus_inf_masks_are_not_alarms_but_overflow_is():
    torch.manual_seed(0)
    q = torch.randn(2, 5, 4, requires_grad=True)
    opt = torch.optim.SGD([q], lr=0.1)
    causal = torch.ones(5, 5).tril() == 0

    def attention():
        opt.zero_grad()
        scores = q @ q.transpose(1, 2)
        scores = scores.masked_fill(causal, float("-inf"))      # nanoGPT's causal mask
        scores = scores + torch.zeros(5, 5).masked_fill(causal, float("-inf"))  # an additive mask
        (scores.softmax(-1) @ q).sum().backward()
        opt.step()

    def overflow():
        opt.zero_grad()
        (q * 100.0).exp().nan_to_num().mean().backward()
        opt.step()
    assert _diagnose(attention) == []
    msgs = _diagnose(overflow)
    assert msgs and msgs[0].startswith("the forward pass made its first inf in Exp (ExpBackward0)"), msgs
    assert "subtract the maximum first" in msgs[0]
