"""Anomaly mode (detect_anomaly / set_detect_anomaly, as PyTorch's) and the forward check that
reports the first op whose output went NaN or inf."""
import traceback
import warnings

import numpy as np
import pytest

import gradcore
from gradcore.autograd import anomaly

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _switches_off():
    yield
    gradcore.autograd.set_detect_anomaly(False)
    anomaly.set_forward_check(None)


def nan_backward(L):
    """sqrt at 0 has an infinite derivative; times the 0 from the product it is NaN."""
    x = L.tensor([0.0, 1.0], requires_grad=True)
    return x, (x.sqrt() * 0).sum()


def backward_error(L, fn):
    with pytest.raises(RuntimeError) as info, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return str(info.value), [str(w.message) for w in caught]


def test_nan_in_backward_names_the_node_as_torch_does():
    def run(L):
        with L.autograd.detect_anomaly():
            _, loss = nan_backward(L)
            loss.backward()
    theirs, their_warnings = backward_error(torch, lambda: run(torch))
    ours, our_warnings = backward_error(gradcore, lambda: run(gradcore))
    expected = "Function 'SqrtBackward0' returned nan values in its 0th output."
    assert expected in theirs and expected in ours
    tb = [w for w in our_warnings if w.startswith("Error detected in SqrtBackward0")]
    assert len(tb) == 1
    assert "Traceback of forward call that caused the error" in tb[0]
    assert "nan_backward" in tb[0] and "x.sqrt() * 0" in tb[0]


def test_without_anomaly_mode_nan_gradients_pass_silently():
    x, loss = nan_backward(gradcore)
    loss.backward()
    assert np.isnan(x.grad.numpy()[0])
    with gradcore.autograd.detect_anomaly(check_nan=False):
        x, loss = nan_backward(gradcore)
        loss.backward()  # check_nan=False: no error
    assert np.isnan(x.grad.numpy()[0])


def test_decorator_and_switch_state():
    assert not gradcore.autograd.is_anomaly_enabled()

    @gradcore.autograd.detect_anomaly()
    def inside():
        return gradcore.autograd.is_anomaly_enabled(), gradcore.autograd.is_anomaly_check_nan_enabled()

    assert inside() == (True, True)
    assert not gradcore.autograd.is_anomaly_enabled()
    gradcore.autograd.set_detect_anomaly(True, check_nan=False)
    assert gradcore.autograd.is_anomaly_enabled() and not gradcore.autograd.is_anomaly_check_nan_enabled()
    with gradcore.autograd.set_detect_anomaly(False):
        assert not gradcore.autograd.is_anomaly_enabled()
    assert gradcore.autograd.is_anomaly_enabled()
    gradcore.autograd.set_detect_anomaly(False)
    assert (gradcore.autograd.is_anomaly_enabled(), gradcore.autograd.is_anomaly_check_nan_enabled()) == (False, False)


def test_forward_traceback_recorded_only_in_anomaly_mode():
    x = gradcore.ones(3, requires_grad=True)
    y = x.exp()
    assert "traceback_" not in y.grad_fn.metadata
    with gradcore.autograd.detect_anomaly():
        z = x.exp()
    stack = z.grad_fn.metadata["traceback_"]
    assert isinstance(stack, list) and "z = x.exp()" in stack[-1]
    z.grad_fn.metadata["mine"] = 1  # the dict lives with the node
    assert z.grad_fn.metadata["mine"] == 1


def test_error_raised_inside_a_node_reports_its_forward_line():
    with gradcore.autograd.detect_anomaly():
        x = gradcore.ones(3, requires_grad=True)
        y = x * 1
        z = y.exp()
        z.add_(1)  # exp saved its output: backward must refuse
        msg, warned = backward_error(gradcore, lambda: z.sum().backward())
    assert "modified by an inplace operation" in msg
    assert any(w.startswith("Error detected in ExpBackward0") and "z = y.exp()" in w for w in warned)


def test_forward_check_reports_the_first_op_and_its_line():
    calls = []

    def callback(name, shapes, ranges, kind):
        frame = traceback.extract_stack()[-2]  # the line that called the op
        calls.append((name, [tuple(s) for s in shapes], ranges, kind, frame.line))

    x = gradcore.tensor([1.0, -1.0], requires_grad=True)
    with anomaly.forward_check(callback):
        assert anomaly.is_forward_check_enabled()
        y = x * 2
        z = y.log()
        # NaN flows on: reported again; the first report is what matters
        w = z + 1
        big = x * 1e38 * 1e38
    assert not anomaly.is_forward_check_enabled()
    assert calls[0] == ("LogBackward0", [(2,)], [(-2.0, 2.0)], "nan", "z = y.log()")
    assert calls[1][0] == "AddBackward0" and calls[1][4] == "w = z + 1"
    assert calls[2][0] == "MulBackward0" and calls[2][3] == "inf"
    assert len(calls) == 3 and w is not None and big is not None


def test_forward_check_only_on_recorded_ops_and_off_by_default():
    calls = []
    x = gradcore.tensor([-1.0])
    xg = gradcore.tensor([-1.0], requires_grad=True)
    xg.log()  # no callback installed
    with anomaly.forward_check(lambda *a: calls.append(a)):
        x.log()  # nothing recorded: not checked
        with gradcore.no_grad():
            xg.log()
        assert calls == []
        xg.log()
    assert len(calls) == 1


def test_forward_check_callback_errors_propagate_and_bad_callbacks_raise():
    def boom(*args):
        raise ValueError("stop here")

    x = gradcore.tensor([-1.0], requires_grad=True)
    with anomaly.forward_check(boom):
        with pytest.raises(ValueError, match="stop here"):
            x.log()
    with pytest.raises(TypeError, match="callable"):
        anomaly.set_forward_check(3)


def test_forward_check_sees_no_false_alarm_on_every_op_family():
    from test_autograd_graph import CASES, inputs
    calls = []
    with anomaly.forward_check(lambda *a: calls.append(a)):
        for _, fn in CASES:
            fn(gradcore, inputs(gradcore))
    assert calls == []


def test_fused_linear_relu_node_keeps_its_forward_stack():
    model = gradcore.nn.Sequential(gradcore.nn.Linear(3, 2), gradcore.nn.ReLU())
    with gradcore.autograd.detect_anomaly():
        y = model(gradcore.ones(4, 3))
    assert y.grad_fn.name() == "LinearReluBackward0"
    assert any("y = model(gradcore.ones(4, 3))" in frame for frame in y.grad_fn.metadata["traceback_"])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_forward_check_fast_path_agrees_with_the_generic_one(bad):
    # Contiguous float32/float64 CPU outputs are scanned in place; others (views, float16, bfloat16)
    # go through the op-based check. Each must see the one bad element, anywhere in the tensor.
    kind = "nan" if bad != bad else "inf"
    for n, pos in ((1, 0), (37, 36), (1000, 517)):
        values = np.ones((n, 2))
        values[pos, 1] = bad
        x = gradcore.tensor(values, requires_grad=True)
        calls = []
        finite = gradcore.ones(n, 2, requires_grad=True)
        with anomaly.forward_check(lambda name, *rest: calls.append((name, rest[-1]))):
            x * 1.0                     # float64, contiguous: in place
            x.float() * 1.0             # ToCopyBackward0, then float32 in place
            x.t()                       # a non-contiguous view
            x.to(gradcore.float16)      # float16
            x.to(gradcore.bfloat16)     # bfloat16
            finite.t().half() * 1.0     # all finite: nothing to report
            finite.double() * 1.0
        assert calls == [("MulBackward0", kind), ("ToCopyBackward0", kind), ("MulBackward0", kind),
                         ("TBackward0", kind), ("ToCopyBackward0", kind), ("ToCopyBackward0", kind)]


def test_callback_may_turn_the_check_off_from_inside():
    calls = []

    def first_only(name, *rest):
        calls.append(name)
        anomaly.set_forward_check(None)

    x = gradcore.tensor([-1.0], requires_grad=True)
    anomaly.set_forward_check(first_only)
    y = x.log()
    y * 2
    assert calls == ["LogBackward0"] and not anomaly.is_forward_check_enabled()
