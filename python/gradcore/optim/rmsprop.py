"""RMSprop (PyTorch's ``torch.optim.RMSprop``)."""
from .. import _C
from .optimizer import (Optimizer, _check_lr, _check_unsupported, _state_zeros, _step_tensor, _to_float,
                        zeros_like)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""Implements the RMSprop algorithm.

    .. math::
       \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)}, \alpha \text{ (smoothing)}, \theta_0 \text{ (params)},
                f(\theta) \text{ (objective)}, \lambda \text{ (weight decay)}, \mu \text{ (momentum)},
                \epsilon, \textit{centered}, \textit{maximize} \\
            &\textbf{initialize}: v_0 \leftarrow 0 \text{ (square average)}, \; b_0 \leftarrow 0
                \text{ (buffer)}, \; g^{ave}_0 \leftarrow 0 \\
            &\textbf{for } t = 1 \textbf{ to } \ldots \textbf{ do} \\
            &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \quad
                (\text{negated if } \textit{maximize}) \\
            &\quad \textbf{if } \lambda \neq 0: \; g_t \leftarrow g_t + \lambda \theta_{t-1} \\
            &\quad v_t \leftarrow \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
            &\quad \tilde v_t \leftarrow v_t \\
            &\quad \textbf{if } \textit{centered}: \; g^{ave}_t \leftarrow \alpha g^{ave}_{t-1} + (1 - \alpha) g_t,
                \; \tilde v_t \leftarrow \tilde v_t - (g^{ave}_t)^2 \\
            &\quad \textbf{if } \mu > 0: \; b_t \leftarrow \mu b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon),
                \; \theta_t \leftarrow \theta_{t-1} - \gamma b_t \\
            &\quad \textbf{else}: \; \theta_t \leftarrow \theta_{t-1} - \gamma g_t / (\sqrt{\tilde v_t} + \epsilon) \\
            &\textbf{return } \theta_t
       \end{aligned}

    Args:
        params (iterable): parameters to optimize, or dicts defining param groups.
        lr (float): learning rate (default: 1e-2).
        alpha (float): smoothing constant :math:`\alpha` (default: 0.99).
        eps (float): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float): L2 penalty :math:`\lambda` (default: 0).
        momentum (float): momentum factor :math:`\mu` (default: 0).
        centered (bool): normalize by an estimate of the gradient's variance (default: False).
        maximize (bool): maximize the objective instead of minimizing it (default: False).

    Per-parameter state: ``step``, ``square_avg``, plus ``momentum_buffer`` when momentum > 0 and
    ``grad_avg`` when centered. The whole update of a param group runs as one native call
    (``gradcore._C._rmsprop_step``).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_unsupported("capturable", capturable)
        _check_unsupported("differentiable", differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    _group_defaults = dict(momentum=0, centered=False, foreach=None, maximize=False, differentiable=False,
                           capturable=False)
    _tensor_steps = True

    def _update_group(self, group):
        momentum, centered = group["momentum"], group["centered"]
        params, grads = self._with_grads(group)
        square_avgs, grad_avgs, buffers, steps = [], [], [], []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["square_avg"] = zeros_like(p)
            square_avgs.append(state["square_avg"])
            steps.append(state["step"])
            if momentum > 0:
                buffers.append(_state_zeros(state, "momentum_buffer", p))
            if centered:
                grad_avgs.append(_state_zeros(state, "grad_avg", p))
        if params:
            _C._rmsprop_step(params, grads, square_avgs, grad_avgs, buffers, steps, _to_float(group["lr"]),
                             group["alpha"], group["eps"], group["weight_decay"], momentum, centered,
                             group["maximize"])
