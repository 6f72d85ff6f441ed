"""Stochastic gradient descent, optionally with momentum (PyTorch's ``torch.optim.SGD``)."""
from .. import _C
from .optimizer import Optimizer, _check_unsupported, _state_zeros, _to_float

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Implements stochastic gradient descent (optionally with momentum).

    .. math::
       \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)}, \theta_0 \text{ (params)}, f(\theta) \text{ (objective)},
                \lambda \text{ (weight decay)}, \mu \text{ (momentum)}, \tau \text{ (dampening)},
                \textit{nesterov}, \textit{maximize} \\
            &\textbf{for } t = 1 \textbf{ to } \ldots \textbf{ do} \\
            &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \quad
                (\text{negated if } \textit{maximize}) \\
            &\quad \textbf{if } \lambda \neq 0: \; g_t \leftarrow g_t + \lambda \theta_{t-1} \\
            &\quad \textbf{if } \mu \neq 0: \\
            &\quad\quad b_t \leftarrow g_t \text{ if } t = 1 \text{ else } \mu b_{t-1} + (1 - \tau) g_t \\
            &\quad\quad g_t \leftarrow g_t + \mu b_t \text{ if } \textit{nesterov} \text{ else } b_t \\
            &\quad \theta_t \leftarrow \theta_{t-1} - \gamma g_t \\
            &\textbf{return } \theta_t
       \end{aligned}

    Args:
        params (iterable): parameters to optimize, or dicts defining param groups.
        lr (float): learning rate (default: 1e-3).
        momentum (float): momentum factor :math:`\mu` (default: 0).
        dampening (float): dampening :math:`\tau` for momentum (default: 0).
        weight_decay (float): L2 penalty :math:`\lambda` (default: 0).
        nesterov (bool): use Nesterov momentum (default: False).
        maximize (bool): maximize the objective instead of minimizing it (default: False).

    The state of each parameter with momentum is ``momentum_buffer`` (:math:`b_t`). The whole
    update of a param group runs as one native call (``gradcore._C._sgd_step``).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if isinstance(lr, _C.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_unsupported("differentiable", differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    _group_defaults = dict(nesterov=False, maximize=False, foreach=None, differentiable=False, fused=False)

    def _update_group(self, group):
        momentum = group["momentum"]
        params, grads = self._with_grads(group)
        buffers, first_step = [], []
        if momentum != 0:
            for p in params:
                state = self.state[p]
                first_step.append(state.get("momentum_buffer") is None)
                buffers.append(_state_zeros(state, "momentum_buffer", p))
        if params:
            _C._sgd_step(params, grads, buffers, _to_float(group["lr"]), momentum, group["dampening"],
                         group["weight_decay"], group["nesterov"], group["maximize"], first_step)
