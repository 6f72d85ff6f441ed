"""Adam and AdamW (PyTorch's ``torch.optim.Adam`` and ``torch.optim.AdamW``)."""

from .. import _C
from .optimizer import (Optimizer, _check_adam_hyperparams, _check_unsupported, _state_zeros, _step_tensor, _to_float,
                        zeros_like)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Implements the Adam algorithm.

    .. math::
       \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2 \text{ (betas)}, \theta_0 \text{ (params)},
                f(\theta) \text{ (objective)}, \lambda \text{ (weight decay)}, \epsilon,
                \textit{amsgrad}, \textit{maximize} \\
            &\textbf{initialize}: m_0 \leftarrow 0, \; v_0 \leftarrow 0, \; v_0^{max} \leftarrow 0 \\
            &\textbf{for } t = 1 \textbf{ to } \ldots \textbf{ do} \\
            &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \quad
                (\text{negated if } \textit{maximize}) \\
            &\quad \textbf{if } \lambda \neq 0: \; g_t \leftarrow g_t + \lambda \theta_{t-1}
                \quad (\text{AdamW: } \theta_{t-1} \leftarrow \theta_{t-1} - \gamma \lambda \theta_{t-1}
                \text{ instead}) \\
            &\quad m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
            &\quad v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
            &\quad \textbf{if } \textit{amsgrad}: \; v_t^{max} \leftarrow \max(v_{t-1}^{max}, v_t), \;
                \hat v_t \leftarrow v_t^{max} \quad \textbf{else}: \; \hat v_t \leftarrow v_t \\
            &\quad \theta_t \leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t} \, m_t \Big/
                \left( \frac{\sqrt{\hat v_t}}{\sqrt{1 - \beta_2^t}} + \epsilon \right) \\
            &\textbf{return } \theta_t
       \end{aligned}

    Args:
        params (iterable): parameters to optimize, or dicts defining param groups.
        lr (float): learning rate (default: 1e-3).
        betas (Tuple[float, float]): coefficients :math:`\beta_1, \beta_2` of the running averages of
            the gradient and its square (default: (0.9, 0.999)).
        eps (float): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float): weight decay :math:`\lambda` (default: 0).
        amsgrad (bool): use the AMSGrad variant (default: False).
        maximize (bool): maximize the objective instead of minimizing it (default: False).
        decoupled_weight_decay (bool): decay the weights directly, as AdamW does (default: False).

    Per-parameter state: ``step`` (a 0-dim float32 tensor), ``exp_avg`` (:math:`m_t`),
    ``exp_avg_sq`` (:math:`v_t`) and, with amsgrad, ``max_exp_avg_sq``. The whole update of a
    param group runs as one native call (``gradcore._C._adam_step``).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_adam_hyperparams(lr, betas, eps, weight_decay)
        _check_unsupported("capturable", capturable)
        _check_unsupported("differentiable", differentiable)
        defaults = dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    _group_defaults = dict(amsgrad=False, maximize=False, foreach=None, capturable=False, differentiable=False,
                           decoupled_weight_decay=False, fused=None)
    _tensor_steps = True

    def _update_group(self, group):
        amsgrad = group["amsgrad"]
        params, grads = self._with_grads(group)
        exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = [], [], [], []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            if amsgrad:
                max_exp_avg_sqs.append(_state_zeros(state, "max_exp_avg_sq", p))
            steps.append(state["step"])
        if params:
            beta1, beta2 = group["betas"]
            _C._adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, _to_float(group["lr"]),
                          _to_float(beta1), _to_float(beta2), group["eps"], group["weight_decay"], amsgrad,
                          group["maximize"], group["decoupled_weight_decay"])


class AdamW(Adam):
    r"""Implements the AdamW algorithm: Adam whose weight decay does not pass through the moments.

    .. math::
       \begin{aligned}
            &\textbf{for } t = 1 \textbf{ to } \ldots \textbf{ do} \\
            &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \quad
                (\text{negated if } \textit{maximize}) \\
            &\quad \theta_{t-1} \leftarrow \theta_{t-1} - \gamma \lambda \theta_{t-1} \\
            &\quad m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
            &\quad v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
            &\quad \textbf{if } \textit{amsgrad}: \; v_t^{max} \leftarrow \max(v_{t-1}^{max}, v_t), \;
                \hat v_t \leftarrow v_t^{max} \quad \textbf{else}: \; \hat v_t \leftarrow v_t \\
            &\quad \theta_t \leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t} \, m_t \Big/
                \left( \frac{\sqrt{\hat v_t}}{\sqrt{1 - \beta_2^t}} + \epsilon \right) \\
            &\textbf{return } \theta_t
       \end{aligned}

    Args are Adam's, with ``weight_decay`` defaulting to 1e-2 (the decoupled :math:`\lambda`).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
