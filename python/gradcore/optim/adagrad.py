"""Adagrad (PyTorch's ``torch.optim.Adagrad``)."""
from .. import _C
from .optimizer import Optimizer, _check_lr, _check_unsupported, _step_tensor, _to_float, full_like

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Implements the Adagrad algorithm.

    .. math::
       \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)}, \theta_0 \text{ (params)}, f(\theta) \text{ (objective)},
                \lambda \text{ (weight decay)}, \tau \text{ (initial accumulator value)}, \eta
                \text{ (lr decay)}, \epsilon, \textit{maximize} \\
            &\textbf{initialize}: state\_sum_0 \leftarrow \tau \\
            &\textbf{for } t = 1 \textbf{ to } \ldots \textbf{ do} \\
            &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \quad
                (\text{negated if } \textit{maximize}) \\
            &\quad \tilde\gamma \leftarrow \gamma / (1 + (t - 1) \eta) \\
            &\quad \textbf{if } \lambda \neq 0: \; g_t \leftarrow g_t + \lambda \theta_{t-1} \\
            &\quad state\_sum_t \leftarrow state\_sum_{t-1} + g_t^2 \\
            &\quad \theta_t \leftarrow \theta_{t-1} - \tilde\gamma \, g_t / (\sqrt{state\_sum_t} + \epsilon) \\
            &\textbf{return } \theta_t
       \end{aligned}

    Args:
        params (iterable): parameters to optimize, or dicts defining param groups.
        lr (float): learning rate (default: 1e-2).
        lr_decay (float): learning rate decay :math:`\eta` (default: 0).
        weight_decay (float): L2 penalty :math:`\lambda` (default: 0).
        initial_accumulator_value (float): initial value :math:`\tau` of the sum of squared
            gradients (default: 0).
        eps (float): term added to the denominator for numerical stability (default: 1e-10).
        maximize (bool): maximize the objective instead of minimizing it (default: False).

    Per-parameter state (created with the optimizer, as in PyTorch): ``step`` and ``sum``. The
    whole update of a param group runs as one native call (``gradcore._C._adagrad_step``).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_unsupported("differentiable", differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _step_tensor()
        state["sum"] = full_like(p, group["initial_accumulator_value"])

    _group_defaults = dict(foreach=None, maximize=False, differentiable=False, fused=None)
    _tensor_steps = True

    def _update_group(self, group):
        params, grads = self._with_grads(group)
        sums, steps = [], []
        for p in params:
            if "sum" not in self.state.get(p, {}):
                # A parameter added by add_param_group after construction.
                self._init_state(p, group)
            state = self.state[p]
            sums.append(state["sum"])
            steps.append(state["step"])
        if params:
            _C._adagrad_step(params, grads, sums, steps, _to_float(group["lr"]), group["lr_decay"],
                             group["weight_decay"], group["eps"], group["maximize"])
