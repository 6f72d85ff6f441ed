"""gradcore.debug: the training doctor.

``with gradcore.debug.doctor():`` (or ``Trainer(doctor=True)``) watches a training loop and warns
once per problem, with a :class:`TrainingWarning` naming the mistake, the evidence and the fix:

* ``optimizer.step()`` on gradients summed over more ``backward()`` calls than declared with
  ``doctor(accumulate=N)`` since they were last zeroed (a forgotten ``zero_grad()``);
* ``cross_entropy`` fed the output of ``softmax`` (it applies ``log_softmax`` itself), and
  ``nll_loss`` fed probabilities or raw scores instead of log-probabilities, found by following
  the autograd tape back from the loss's input, not guessed from values;
* ``optimizer.step()`` on a model left in eval mode, and a validation pass under
  ``no_grad`` with Dropout / BatchNorm still in train mode;
* parameters that require grad but are in no optimizer, and parameters in the optimizer that got no
  gradient from ``backward()``, by module name;
* the first op of the forward pass whose output holds NaN, or inf made from finite inputs (an
  overflow: a -inf mask written by masked_fill / where, or added to scores, is deliberate) (its
  name, input shapes and value ranges, and the Python line that called it), through ``gradcore.autograd.anomaly``'s forward
  check (for NaN in backward, ``gradcore.autograd.detect_anomaly()``);
* a learning-rate scheduler stepped before its optimizer, ``backward()`` on a non-scalar loss, a
  graph that leaks across iterations (a backward that reaches nodes of an earlier iteration's
  graph, and grows; or a graph kept alive that grows at every step, like a running total of losses),
  and gradient norms that explode (compared with their running median) or
  become non-finite.

The doctor hooks in only while it is active: outside it the library pays one test per check
point (see ``gradcore._debug_slot``).
"""
import contextlib
import linecache
import math
import os
import sys
import warnings
import weakref
from collections import deque

from .. import _C, _debug_slot
from ..nn.modules import module as _module
from ..optim import optimizer as _optimizer

__all__ = ["TrainingWarning", "doctor"]


class TrainingWarning(UserWarning):
    """A mistake in a training loop found by :func:`doctor`."""


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

# Nodes that pass a tensor through unchanged in meaning (views, copies, casts, selections): the
# loss checks look through them to the op that made the values.
_PASS_THROUGH = {"View", "Reshape", "ReshapeAlias", "UnsafeView", "Permute", "Transpose", "T", "Unsqueeze",
                 "Squeeze", "Clone", "ToCopy", "Expand", "Slice", "Select", "Index", "Contiguous", "Alias",
                 "Flatten", "Unflatten", "Split", "SplitWithSizes", "Chunk", "Unbind", "Narrow", "AsStrided"}
# Ops whose output is a score, not a log-probability (what nll_loss must not be fed).
_RAW_SCORES = {"Addmm", "Mm", "Bmm", "Mv", "Matmul", "Linear", "LinearRelu", "Convolution", "Conv2D", "Conv1D",
               "Relu"}
# Loss nodes: a non-scalar tensor coming from one of these and fed to backward() is a loss that was
# not reduced.
_LOSS_NODES = {"MseLoss", "L1Loss", "CrossEntropy", "SmoothL1Loss", "HuberLoss", "NllLoss", "NllLoss2D", "CrossEntropyLoss",
               "BinaryCrossEntropy", "BinaryCrossEntropyWithLogits", "KlDiv", "SoftMarginLoss", "PoissonNllLoss"}
# Ops that write values they are given (an inf they write is a mask, not an overflow).
_WRITES_GIVEN_VALUES = {"MaskedFill", "Fill", "IndexFill", "Where", "IndexPut", "Scatter", "MaskedScatter"}
_TRAIN_DEPENDENT = ("Dropout", "AlphaDropout", "FeatureAlphaDropout", "BatchNorm", "SyncBatchNorm", "InstanceNorm")
# A gradient norm this many times the running median of the recent ones "explodes".
_EXPLODE_RATIO = 10.0
_NORM_HISTORY = 50
_NORM_MIN_HISTORY = 10
_NORM_SAMPLE = 4096  # elements of each large gradient that the norm check reads
# Steps in a row the live autograd graph must grow before the doctor calls it a leak.
_LEAK_STEPS = 3


def _base_name_of(name):
    """An op name without "Backward<N>": "AddmmBackward0" -> "Addmm"."""
    i = name.find("Backward")
    return name[:i] if i >= 0 else name


def _base_name(node):
    return _base_name_of(node.name())


def _user_frame():
    """The innermost calling frame outside gradcore (the user's line), or None."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return frame


def _warn(message):
    """Issues a TrainingWarning attributed to the user's line that made the mistake."""
    frame = _user_frame()
    if frame is None:
        warnings.warn(message, TrainingWarning, stacklevel=2)
    else:
        warnings.warn_explicit(message, TrainingWarning, frame.f_code.co_filename, frame.f_lineno,
                               module=frame.f_globals.get("__name__"))


def _gradient_norm(grads):
    """The 2-norm of ``grads`` together, estimated from evenly spaced elements of the large ones
    (at least _NORM_SAMPLE of each, scaled up): an explosion scales a whole gradient, and reading
    every element of every gradient at each step would cost as much as another optimizer step. A
    NaN/inf that the sample misses reaches the parameters, and the forward check names the op it
    breaks on the next forward pass. One concatenated norm, one number read back. For gradients
    that _C._doctor_grads cannot read itself (not contiguous CPU tensors: CUDA's)."""
    pieces = []
    for g in grads:
        flat, n = g.reshape(-1), g.numel()
        if n > 2 * _NORM_SAMPLE:
            flat = flat[::n // _NORM_SAMPLE]  # sample first: a 16-bit gradient is widened only there
            flat = flat.float() * math.sqrt(n / flat.numel())
        pieces.append(flat.float())
    return float(_C.functions.cat(pieces).norm())


def _first_input(node):
    """The node of ``node``'s first differentiable input, or None."""
    return next((n for n, _ in node.next_functions if n is not None), None)


def _trace(tensor):
    """The first node behind ``tensor`` that is not a pass-through view/copy, or None."""
    node = tensor.grad_fn
    while node is not None and _base_name(node) in _PASS_THROUGH:
        node = _first_input(node)
    return node


def _params(optimizer):
    return [p for group in optimizer.param_groups for p in group["params"]]


def _has_closure(args, kwargs):
    """Whether an optimizer's step(*args, **kwargs) got a closure (which makes the gradients)."""
    return len(args) > 1 or kwargs.get("closure") is not None


class _Doctor:
    """The state of one active doctor; the library calls its ``on_*`` methods through
    ``gradcore._debug_slot.active`` and the hooks it registers."""

    def __init__(self, accumulate):
        self.accumulate = accumulate
        self.warned = set()
        self.depth = 0                       # module call depth (a root call is at depth 0)
        self.roots = weakref.WeakSet()       # modules called at depth 0 since the doctor began
        self.eval_sensitive = weakref.WeakKeyDictionary()  # root -> its Dropout/BatchNorm modules
        self.roots_added = 0                 # modules added to roots (the eval-mode check's cache key)
        self.step_roots = weakref.WeakKeyDictionary()  # optimizer -> (key, roots holding its params)
        self.boundary = _C._backward_passes()  # backward passes run before the last optimizer step
        self.period_nodes = 0                # largest backward graph in this period
        self.last_period_nodes = 0           # ... in the last period that ran a backward
        self.norms = weakref.WeakKeyDictionary()  # optimizer -> recent gradient norms
        self.live_nodes = weakref.WeakKeyDictionary()  # optimizer -> live autograd nodes after its steps
        self.stepped = weakref.WeakSet()     # optimizers whose first step has been checked
        self.unreduced = None                # (shape, node name) of an unreduced loss since the last step

    @contextlib.contextmanager
    def accumulating(self, n):
        """Within: up to ``n`` backward() calls per step are declared (the Trainer's
        accumulate_grad_batches under an outer doctor)."""
        before, self.accumulate = self.accumulate, max(self.accumulate, n)
        try:
            yield
        finally:
            self.accumulate = before

    def once(self, key, message):
        if key not in self.warned:
            self.warned.add(key)
            _warn(message)

    # ---- module calls ----

    def on_forward_pre(self, module, args):
        if self.depth == 0:
            if module not in self.roots:
                self.roots.add(module)
                self.roots_added += 1
            if not _C.functions.is_grad_enabled() and module.training:
                self._check_validation_mode(module)
        self.depth += 1

    def on_forward(self, module, args, output):
        self.depth -= 1

    def _check_validation_mode(self, root):
        sensitive = self.eval_sensitive.get(root)
        if sensitive is None:
            sensitive = [(name, m) for name, m in root.named_modules()
                         if type(m).__name__.startswith(_TRAIN_DEPENDENT) and getattr(m, "p", 1) != 0]
            self.eval_sensitive[root] = sensitive
        training = [f"{type(m).__name__} '{name}'" if name else type(m).__name__ for name, m in sensitive if m.training]
        if training:
            self.once(("validation-train-mode", id(root)),
                      f"{type(root).__name__} ran under no_grad (a validation or inference pass) while in train mode: "
                      f"{', '.join(training[:4])}{' ...' if len(training) > 4 else ''} "
                      f"{'is' if len(training) == 1 else 'are'} still active, so Dropout drops activations and "
                      "BatchNorm normalises with (and updates its running statistics from) the batch: the results "
                      "are noisy and the model changes. Fix: call model.eval() before validating and model.train() "
                      "after.")

    # ---- losses and backward ----

    def on_loss_input(self, op, input):
        """Called by cross_entropy / nll_loss with their input."""
        node = _trace(input) if input.grad_fn is not None else None
        if node is None:
            return
        base = _base_name(node)
        if op == "cross_entropy" and base == "Softmax":
            self.once(("ce-softmax",), f"cross_entropy got the output of softmax ({node.name()}), input shape "
                      f"{list(input.shape)}: cross_entropy applies log_softmax itself, so softmax runs twice and the "
                      "gradients vanish as the model grows confident. Fix: pass the logits (drop the softmax).")
        elif op == "nll_loss" and (base == "Softmax" or base in _RAW_SCORES):
            what = "probabilities from softmax" if base == "Softmax" else f"raw scores ({node.name()})"
            self.once(("nll-input", base), f"nll_loss got {what}, input shape {list(input.shape)}: nll_loss expects "
                      "log-probabilities. Fix: apply F.log_softmax(x, dim=1) first, or use F.cross_entropy on the "
                      "logits.")

    def on_backward(self, roots, grads):
        """Before the engine runs: what the graph of ``roots`` holds (from one native walk): its
        size and the nodes that a backward before the last optimizer step already ran. (How many
        backward() calls each .grad sums, the engine counts itself: Tensor::grad_sums.)"""
        nodes, earlier = _C._graph_summary(roots, self.boundary)
        for t, g in zip(roots, grads):
            if g is not None and t.numel() > 1 and t.grad_fn is not None:
                self._check_unreduced(t, g)
        self._check_leak(nodes, earlier)

    def _check_unreduced(self, t, gradient):
        """A loss left unreduced and pushed through backward() with a gradient of ones (the same as
        summing it). Any other gradient is a vector-Jacobian product, which is not a mistake."""
        node, hops = t.grad_fn, 0
        while node is not None and hops < 4 and _base_name(node) not in _LOSS_NODES:
            node, hops = _first_input(node), hops + 1
        if node is not None and _base_name(node) in _LOSS_NODES and bool((gradient == 1).all()):
            self.unreduced = (list(t.shape), node.name())  # a mistake once an optimizer steps on it

    def _check_unreduced_step(self, optimizer):
        if self.unreduced is not None:
            shape, name = self.unreduced
            self.once(("unreduced-loss",), f"{type(optimizer).__name__}.step() follows backward() on a loss of shape "
                      f"{shape} (from {name}, reduction='none') with a gradient of ones: every element's gradient "
                      "is summed, so the step size grows with the batch size. Fix: reduce the loss to a scalar "
                      "(loss.mean(), or the loss's default reduction='mean') before backward().")

    def _check_leak(self, nodes, earlier):
        if earlier and nodes > self.last_period_nodes:
            self.once(("graph-leak",), f"backward() ran through {earlier} autograd node{'s' if earlier != 1 else ''} "
                      f"that a backward() before the last optimizer step already ran, and the graph grew to {nodes} "
                      f"nodes (from {self.last_period_nodes}): a tensor carried across iterations (an RNN's hidden "
                      "state, a running total of losses) keeps the whole history, so every step gets slower and "
                      "memory grows. Fix: .detach() the carried tensor each iteration (and use loss.item() for "
                      "running totals).")
        self.period_nodes = max(self.period_nodes, nodes)

    def _check_eval_mode(self, optimizer, params):
        """An optimizer stepping the parameters of a model left in eval mode (a backward() in eval
        mode alone is fine: saliency maps, adversarial inputs, frozen-statistics gradients). Which
        called modules hold the optimizer's parameters is worked out again only when a new one
        was called."""
        key = (self.roots_added, len(params))  # a new root called, or a param group added
        cached = self.step_roots.get(optimizer)
        if cached is None or cached[0] != key:
            ids = {id(p) for p in params}
            cached = (key, [weakref.ref(r) for r in list(self.roots) if any(id(p) in ids for p in r.parameters())])
            self.step_roots[optimizer] = cached
        what = f"{type(optimizer).__name__}.step()"
        for ref in cached[1]:
            root = ref()
            if root is not None and not root.training:
                self.once(("eval-mode", id(root)), f"{what} while {type(root).__name__} is in eval mode: Dropout is off "
                          "and BatchNorm uses its running statistics, so the model trains differently than intended "
                          "(usually model.eval() from a validation pass was not undone). Fix: call model.train() "
                          "before the training steps.")

    # ---- optimizer steps ----

    def on_step_pre(self, optimizer, args, kwargs):
        if not _has_closure(args, kwargs):
            self._check_step(optimizer)

    def on_step_post(self, optimizer, args, kwargs):
        if _has_closure(args, kwargs):
            self._check_step(optimizer)  # the closure made the gradients inside step()
        _C._doctor_mark_grads(_params(optimizer))
        self._check_live_nodes(optimizer)
        self.unreduced = None
        if self.period_nodes:
            self.last_period_nodes = self.period_nodes
        self.period_nodes = 0
        self.boundary = _C._backward_passes()

    def _check_live_nodes(self, optimizer):
        """Autograd nodes alive after each step: a loop that keeps every iteration's graph (a running
        total of losses, a list of outputs that require grad) grows it at every step."""
        history = self.live_nodes.get(optimizer)
        if history is None:
            history = self.live_nodes[optimizer] = deque(maxlen=_LEAK_STEPS + 1)
        history.append(_C._live_autograd_nodes())
        counts = list(history)
        if len(counts) > _LEAK_STEPS and all(b > a for a, b in zip(counts, counts[1:])):
            self.once(("live-nodes", id(optimizer)),
                      f"the autograd graph kept alive grew at each of the last {_LEAK_STEPS} "
                      f"{type(optimizer).__name__}.step() calls ({' -> '.join(map(str, counts))} live nodes): "
                      "something holds on to every iteration's graph, so memory grows until the run dies. Usually "
                      "a running total of losses (total_loss += loss) or a list of outputs that require grad. "
                      "Fix: accumulate loss.item() (or loss.detach()), and .detach() what you keep.")

    def _check_step(self, optimizer):
        self._check_unreduced_step(optimizer)
        params = _params(optimizer)
        most, with_grad, missing, norm = _C._doctor_grads(params, _NORM_SAMPLE)
        if most > self.accumulate:
            hint = ("call optimizer.zero_grad() once per iteration" if self.accumulate == 1 else
                    f"zero the gradients every {self.accumulate} backward() calls")
            self.once(("accumulated", id(optimizer)),
                      f"{type(optimizer).__name__}.step() used gradients summed over {most} backward() calls since "
                      f"they were last zeroed (declared: accumulate={self.accumulate}), so each step applies the sum "
                      f"of old and new gradients. Fix: {hint}, or declare intentional accumulation with "
                      f"gradcore.debug.doctor(accumulate={most}).")
        if optimizer not in self.stepped:
            self.stepped.add(optimizer)
            missing = [params[i] for i in missing]
            if with_grad and missing and self.period_nodes:  # only when a backward() made the grads
                names = self._param_names()
                listed = ", ".join(names.get(id(p), f"tensor of shape {list(p.shape)}") for p in missing[:6])
                self.once(("no-grad-params", id(optimizer)),
                          f"{len(missing)} of the {len(params)} parameters in {type(optimizer).__name__} got no gradient "
                          f"from backward(): {listed}{' ...' if len(missing) > 6 else ''}. They are not used by the "
                          "loss (a detached or unused branch) and will not train. Fix: check the forward for .detach(), "
                          ".data or a branch that is never taken, or leave them out of the optimizer.")
            self._check_orphans(optimizer, params)
        self._check_eval_mode(optimizer, params)
        if with_grad:
            if norm is None:
                norm = _gradient_norm([p.grad for p in params if p.grad is not None])
            self._check_norm(optimizer, norm)

    def _param_names(self):
        names = {}
        for root in list(self.roots):
            for name, p in root.named_parameters():
                names.setdefault(id(p), f"{type(root).__name__}.{name}")
        return names

    def _check_orphans(self, optimizer, params):
        in_optimizers = {id(p) for opt in list(_optimizer._all_optimizers) for p in _params(opt)}
        mine = {id(p) for p in params}
        for root in list(self.roots):
            root_params = list(root.named_parameters())
            if not any(id(p) in mine for _, p in root_params):
                continue
            orphans = [name for name, p in root_params if p.requires_grad and id(p) not in in_optimizers]
            if orphans:
                self.once(("orphans", id(root)),
                          f"{len(orphans)} parameters of {type(root).__name__} require grad but are in no optimizer: "
                          f"{', '.join(orphans[:6])}{' ...' if len(orphans) > 6 else ''}. They get gradients but never "
                          "change. Fix: build the optimizer from model.parameters() (or add_param_group), or set "
                          "requires_grad_(False) on parameters meant to stay frozen.")

    def _check_norm(self, optimizer, total):
        history = self.norms.get(optimizer)
        if history is None:
            history = self.norms[optimizer] = deque(maxlen=_NORM_HISTORY)
        if not math.isfinite(total):
            self.once(("nonfinite-grad", id(optimizer)),
                      f"{type(optimizer).__name__}.step() got a non-finite gradient norm ({total}): the step will write "
                      "NaN/inf into the parameters. Fix: find the op that made it with "
                      "gradcore.autograd.detect_anomaly(), lower the learning rate, or clip with "
                      "nn.utils.clip_grad_norm_.")
            return
        if len(history) >= _NORM_MIN_HISTORY:
            median = sorted(history)[len(history) // 2]
            if median > 0 and total > _EXPLODE_RATIO * median:
                self.once(("exploding", id(optimizer)),
                          f"the gradient norm jumped to {total:.4g}, {total / median:.0f}x the median {median:.4g} of "
                          f"the last {len(history)} steps of {type(optimizer).__name__}: the gradients are exploding. "
                          "Fix: lower the learning rate, add warm-up, or clip with "
                          "nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0).")
        history.append(total)

    # ---- values ----

    def on_forward_nonfinite(self, name, input_shapes, input_ranges, kind):
        """The forward check's callback: an op recording ``name`` wrote NaN or inf."""
        if ("nonfinite-forward",) in self.warned:
            return
        known = [r for r in input_ranges if r is not None]
        finite_inputs = bool(known) and all(math.isfinite(lo) and math.isfinite(hi) for lo, hi in known)
        if kind == "inf" and (not finite_inputs or _base_name_of(name) in _WRITES_GIVEN_VALUES):
            return  # -inf masks (masked_fill, where, scores + mask) are deliberate; NaN never is
        frame = _user_frame()
        where = ""
        if frame is not None:
            code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            where = f" called at {frame.f_code.co_filename}:{frame.f_lineno} (`{code}`)"
        parts = []
        for i, (shape, rng) in enumerate(zip(input_shapes, input_ranges)):
            if shape is not None:
                parts.append(f"input {i}: shape {list(shape)}"
                             + (f", values in [{rng[0]:.4g}, {rng[1]:.4g}]" if rng is not None else ""))
        inputs = "; ".join(parts)
        op = _base_name_of(name)
        if known and not finite_inputs:
            cause = ("its inputs already held NaN/inf: check the data batch, the parameters (a previous step may "
                     "have written NaN into them), and -inf masks that leave a row with nothing unmasked")
        else:
            cause = {"Log": "log of zero or a negative number: clamp the input (x.clamp_min(1e-12)) or use "
                            "log_softmax / logsumexp",
                     "Div": "division by zero: add an epsilon to the denominator",
                     "Sqrt": "sqrt of a negative number: clamp the input to >= 0",
                     "Pow": "a power of zero or of a negative number: clamp the base",
                     "Exp": "exp overflowed: subtract the maximum first, or use softmax / logsumexp",
                     }.get(op, "lower the learning rate, check the op's inputs, or clip the gradients")
        self.once(("nonfinite-forward",), f"the forward pass made its first {kind} in {op} ({name}){where}; "
                  f"{inputs}. Fix: {cause}.")

    # ---- schedulers ----

    def on_scheduler_before_step(self, scheduler):
        self.once(("scheduler-order", id(scheduler)),
                  f"{type(scheduler).__name__}.step() ran before {type(scheduler.optimizer).__name__}.step(): the first "
                  "value of the learning-rate schedule is skipped. Fix: call optimizer.step() first, then "
                  "scheduler.step().")


class doctor:
    """Watches a training loop and warns once per mistake with a :class:`TrainingWarning` (see the
    module docstring for the checks). ``accumulate``: how many ``backward()`` calls may sum into the
    gradients before each ``optimizer.step()`` (intentional gradient accumulation).

    Usable as a context manager or a decorator; one doctor is active at a time (a nested one
    reuses the outer)."""

    def __init__(self, accumulate=1):
        if not isinstance(accumulate, int) or isinstance(accumulate, bool) or accumulate < 1:
            raise ValueError(f"doctor: accumulate must be a positive int, got {accumulate!r}")
        self.accumulate = accumulate
        self._state = None
        self._undo = []

    def __enter__(self):
        if _debug_slot.active is not None:
            return self
        state = self._state = _Doctor(self.accumulate)
        _debug_slot.active = state
        self._undo = [
            _module.register_module_forward_pre_hook(state.on_forward_pre).remove,
            _module.register_module_forward_hook(state.on_forward, always_call=True).remove,
            _optimizer.register_optimizer_step_pre_hook(state.on_step_pre).remove,
            _optimizer.register_optimizer_step_post_hook(state.on_step_post).remove,
        ]
        from ..autograd import anomaly
        anomaly.set_forward_check(state.on_forward_nonfinite)
        self._undo.append(lambda: anomaly.set_forward_check(None))
        tensor_backward = _C.Tensor.backward

        def backward(self, gradient=None, retain_graph=None, create_graph=None, inputs=None):
            state.on_backward([self], [gradient])
            return tensor_backward(self, gradient, retain_graph, create_graph, inputs)

        backward.__doc__ = tensor_backward.__doc__
        _C.Tensor.backward = backward
        self._undo.append(lambda: setattr(_C.Tensor, "backward", tensor_backward))
        from .. import autograd
        autograd_backward = autograd.backward

        def backward_fn(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
            roots = autograd._as_list(tensors)
            grads = autograd._as_list(grad_tensors)
            state.on_backward(roots, grads + [None] * (len(roots) - len(grads)))
            return autograd_backward(tensors, grad_tensors, retain_graph, create_graph, inputs)

        backward_fn.__doc__ = autograd_backward.__doc__
        autograd.backward = backward_fn
        self._undo.append(lambda: setattr(autograd, "backward", autograd_backward))
        return self

    def __exit__(self, exc_type, exc_value, tb):
        if self._state is None:
            return False
        for undo in reversed(self._undo):
            undo()
        self._undo = []
        _debug_slot.active = None
        self._state = None
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with doctor(self.accumulate):
                return fn(*args, **kwargs)
        return wrapper
