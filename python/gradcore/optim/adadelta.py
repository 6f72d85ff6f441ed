"""Adadelta (PyTorch's ``torch.optim.Adadelta``), written with gradcore tensor ops."""
from ._ops import addcmul_
from .optimizer import Optimizer, _check_lr, _check_unsupported, _decayed_grad, _step_tensor, _to_float, zeros_like

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Implements the Adadelta algorithm (Zeiler, 2012).

    .. math::
       \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)}, \theta_0 \text{ (params)}, f(\theta) \text{ (objective)},
                \rho \text{ (decay)}, \lambda \text{ (weight decay)}, \epsilon, \textit{maximize} \\
            &\textbf{initialize}: v_0 \leftarrow 0 \text{ (square avg)}, \; u_0 \leftarrow 0
                \text{ (accumulated update)} \\
            &\textbf{for } t = 1 \textbf{ to } \ldots \textbf{ do} \\
            &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \quad
                (\text{negated if } \textit{maximize}) \\
            &\quad \textbf{if } \lambda \neq 0: \; g_t \leftarrow g_t + \lambda \theta_{t-1} \\
            &\quad v_t \leftarrow \rho v_{t-1} + (1 - \rho) g_t^2 \\
            &\quad \Delta x_t \leftarrow \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}} g_t \\
            &\quad u_t \leftarrow \rho u_{t-1} + (1 - \rho) \Delta x_t^2 \\
            &\quad \theta_t \leftarrow \theta_{t-1} - \gamma \Delta x_t \\
            &\textbf{return } \theta_t
       \end{aligned}

    Args:
        params (iterable): parameters to optimize, or dicts defining param groups.
        lr (float): coefficient that scales delta before it is applied to the parameters
            (default: 1.0).
        rho (float): coefficient of the running averages of the squared gradient and update
            (default: 0.9).
        eps (float): term added to the denominator for numerical stability (default: 1e-6).
        weight_decay (float): L2 penalty :math:`\lambda` (default: 0).
        foreach (bool, optional): accepted for PyTorch compatibility and ignored (the update always
            runs parameter by parameter).
        capturable, differentiable (bool): must stay False (NotImplementedError otherwise).
        maximize (bool): maximize the objective instead of minimizing it (default: False).

    Per-parameter state: ``step`` (a 0-dim float32 tensor), ``square_avg`` (:math:`v_t`) and
    ``acc_delta`` (:math:`u_t`).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_unsupported("capturable", capturable)
        _check_unsupported("differentiable", differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    _group_defaults = dict(foreach=None, maximize=False, differentiable=False, capturable=False)
    _tensor_steps = True

    def _update_group(self, group):
        lr, rho, eps = _to_float(group["lr"]), group["rho"], group["eps"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        params, grads = self._with_grads(group)
        for p, grad in zip(params, grads):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["square_avg"] = zeros_like(p)
                state["acc_delta"] = zeros_like(p)
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            state["step"].add_(1)
            grad = _decayed_grad(p, grad, lr, weight_decay, maximize)
            addcmul_(square_avg.mul_(rho), grad, grad, 1 - rho)
            std = square_avg.add(eps).sqrt_()
            delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
            addcmul_(acc_delta.mul_(rho), delta, delta, 1 - rho)
            p.add_(delta, alpha=-lr)
