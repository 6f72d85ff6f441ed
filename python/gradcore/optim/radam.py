"""RAdam (PyTorch's ``torch.optim.RAdam``), written with gradcore tensor ops."""

from ._ops import addcmul_, lerp_
from .optimizer import (Optimizer, _check_adam_hyperparams, _check_unsupported, _decayed_grad, _step_tensor, _to_float,
                        zeros_like)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""Implements the RAdam algorithm: Adam whose adaptive lr is rectified by the variance of its
    estimate, and which runs as SGD with momentum while that variance is intractable (Liu et al., 2019).

    .. math::
       \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2 \text{ (betas)}, \theta_0 \text{ (params)},
                f(\theta) \text{ (objective)}, \lambda \text{ (weight decay)}, \epsilon,
                \textit{decoupled\_weight\_decay}, \textit{maximize} \\
            &\textbf{initialize}: m_0 \leftarrow 0, \; v_0 \leftarrow 0, \;
                \rho_{\infty} \leftarrow 2 / (1 - \beta_2) - 1 \\
            &\textbf{for } t = 1 \textbf{ to } \ldots \textbf{ do} \\
            &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \quad
                (\text{negated if } \textit{maximize}) \\
            &\quad \textbf{if } \lambda \neq 0: \; g_t \leftarrow g_t + \lambda \theta_{t-1}
                \quad (\text{decoupled: } \theta_{t-1} \leftarrow \theta_{t-1} - \gamma \lambda \theta_{t-1}
                \text{ instead}) \\
            &\quad m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
                v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
            &\quad \hat m_t \leftarrow m_t / (1 - \beta_1^t), \quad
                \rho_t \leftarrow \rho_{\infty} - 2 t \beta_2^t / (1 - \beta_2^t) \\
            &\quad \textbf{if } \rho_t > 5: \;
                l_t \leftarrow \sqrt{1 - \beta_2^t} / (\sqrt{v_t} + \epsilon), \;
                r_t \leftarrow \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_{\infty}}
                {(\rho_{\infty} - 4)(\rho_{\infty} - 2)\rho_t}}, \;
                \theta_t \leftarrow \theta_{t-1} - \gamma \hat m_t r_t l_t \\
            &\quad \textbf{else}: \; \theta_t \leftarrow \theta_{t-1} - \gamma \hat m_t \\
            &\textbf{return } \theta_t
       \end{aligned}

    Args:
        params (iterable): parameters to optimize, or dicts defining param groups.
        lr (float): learning rate (default: 1e-3).
        betas (Tuple[float, float]): coefficients of the running averages of the gradient and its
            square (default: (0.9, 0.999)).
        eps (float): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float): weight decay :math:`\lambda` (default: 0).
        decoupled_weight_decay (bool): decay the weights directly, as AdamW does (RAdamW)
            (default: False).
        foreach (bool, optional): accepted for PyTorch compatibility and ignored (the update always
            runs parameter by parameter).
        maximize (bool): maximize the objective instead of minimizing it (default: False).
        capturable, differentiable (bool): must stay False (NotImplementedError otherwise).

    Per-parameter state: ``step`` (a 0-dim float32 tensor), ``exp_avg`` (:math:`m_t`) and
    ``exp_avg_sq`` (:math:`v_t`).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_adam_hyperparams(lr, betas, eps, weight_decay)
        _check_unsupported("capturable", capturable)
        _check_unsupported("differentiable", differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    _group_defaults = dict(foreach=None, maximize=False, differentiable=False, decoupled_weight_decay=False,
                           capturable=False)
    _tensor_steps = True

    def _update_group(self, group):
        lr = _to_float(group["lr"])
        beta1, beta2 = (_to_float(b) for b in group["betas"])
        eps, weight_decay = group["eps"], group["weight_decay"]
        maximize, decoupled = group["maximize"], group["decoupled_weight_decay"]
        rho_inf = 2 / (1 - beta2) - 1
        params, grads = self._with_grads(group)
        for p, grad in zip(params, grads):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            step = state["step"].add_(1).item()
            grad = _decayed_grad(p, grad, lr, weight_decay, maximize, decoupled)
            lerp_(exp_avg, grad, 1 - beta1)
            addcmul_(exp_avg_sq.mul_(beta2), grad, grad, 1 - beta2)
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            update = exp_avg.div(bias_correction1).mul_(lr)
            rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive_lr = exp_avg_sq.sqrt().add_(eps).reciprocal_().mul_(bias_correction2 ** 0.5)
                update.mul_(adaptive_lr).mul_(rect)
            p.sub_(update)
