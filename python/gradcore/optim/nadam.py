"""NAdam (PyTorch's ``torch.optim.NAdam``), written with gradcore tensor ops."""

from .. import _C
from .._tensor import tensor
from ._ops import addcdiv_, addcmul_, lerp_
from .optimizer import (Optimizer, _check_adam_hyperparams, _check_unsupported, _decayed_grad, _ensure_tensor_steps,
                        _step_tensor, _to_float, zeros_like)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""Implements the NAdam algorithm: Adam with Nesterov momentum (Dozat, 2016).

    .. math::
       \begin{aligned}
            &\textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2 \text{ (betas)}, \theta_0 \text{ (params)},
                f(\theta) \text{ (objective)}, \lambda \text{ (weight decay)}, \psi \text{ (momentum decay)},
                \epsilon, \textit{decoupled\_weight\_decay}, \textit{maximize} \\
            &\textbf{initialize}: m_0 \leftarrow 0, \; v_0 \leftarrow 0, \; \textstyle\prod_0 \mu \leftarrow 1 \\
            &\textbf{for } t = 1 \textbf{ to } \ldots \textbf{ do} \\
            &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \quad
                (\text{negated if } \textit{maximize}) \\
            &\quad \textbf{if } \lambda \neq 0: \; g_t \leftarrow g_t + \lambda \theta_{t-1}
                \quad (\text{decoupled: } \theta_{t-1} \leftarrow \theta_{t-1} - \gamma \lambda \theta_{t-1}
                \text{ instead}) \\
            &\quad \mu_t \leftarrow \beta_1 \big(1 - \tfrac{1}{2} \, 0.96^{t \psi}\big), \;
                \mu_{t+1} \leftarrow \beta_1 \big(1 - \tfrac{1}{2} \, 0.96^{(t+1) \psi}\big) \\
            &\quad m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
            &\quad v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
            &\quad \theta_t \leftarrow \theta_{t-1}
                - \gamma \frac{\mu_{t+1} m_t}{1 - \prod_{i=1}^{t+1} \mu_i} \Big/ (\sqrt{\hat v_t} + \epsilon)
                - \gamma \frac{(1 - \mu_t) g_t}{1 - \prod_{i=1}^{t} \mu_i} \Big/ (\sqrt{\hat v_t} + \epsilon),
                \quad \hat v_t = v_t / (1 - \beta_2^t) \\
            &\textbf{return } \theta_t
       \end{aligned}

    Args:
        params (iterable): parameters to optimize, or dicts defining param groups.
        lr (float): learning rate (default: 2e-3).
        betas (Tuple[float, float]): coefficients of the running averages of the gradient and its
            square (default: (0.9, 0.999)).
        eps (float): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float): weight decay :math:`\lambda` (default: 0).
        momentum_decay (float): momentum decay :math:`\psi` (default: 4e-3).
        decoupled_weight_decay (bool): decay the weights directly, as AdamW does (NAdamW)
            (default: False).
        foreach (bool, optional): accepted for PyTorch compatibility and ignored (the update always
            runs parameter by parameter).
        maximize (bool): maximize the objective instead of minimizing it (default: False).
        capturable, differentiable (bool): must stay False (NotImplementedError otherwise).

    Per-parameter state: ``step`` and ``mu_product`` (0-dim float32 tensors, as in PyTorch: the
    product of the :math:`\mu_i` is kept in float32), ``exp_avg`` (:math:`m_t`) and
    ``exp_avg_sq`` (:math:`v_t`).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_adam_hyperparams(lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        _check_unsupported("capturable", capturable)
        _check_unsupported("differentiable", differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    _group_defaults = dict(maximize=False, foreach=None, capturable=False, differentiable=False,
                           decoupled_weight_decay=False)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state.get(p)
                if s and "mu_product" in s and not isinstance(s["mu_product"], _C.Tensor):
                    s["mu_product"] = tensor(float(s["mu_product"]), dtype=_C.dtype.float32)
        _ensure_tensor_steps(self)

    def _update_group(self, group):
        lr = _to_float(group["lr"])
        beta1, beta2 = (_to_float(b) for b in group["betas"])
        eps, weight_decay, momentum_decay = group["eps"], group["weight_decay"], group["momentum_decay"]
        maximize, decoupled = group["maximize"], group["decoupled_weight_decay"]
        params, grads = self._with_grads(group)
        for p, grad in zip(params, grads):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["mu_product"] = tensor(1.0, dtype=_C.dtype.float32)
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
            exp_avg, exp_avg_sq, mu_product = state["exp_avg"], state["exp_avg_sq"], state["mu_product"]
            step = state["step"].add_(1).item()
            grad = _decayed_grad(p, grad, lr, weight_decay, maximize, decoupled)
            bias_correction2 = 1 - beta2 ** step
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
            # the running product stays a 0-dim tensor of its own dtype (float32), as in PyTorch
            mu_product.mul_(mu)
            mu_prod = mu_product.item()
            lerp_(exp_avg, grad, 1 - beta1)
            addcmul_(exp_avg_sq.mul_(beta2), grad, grad, 1 - beta2)
            denom = exp_avg_sq.div(bias_correction2).sqrt_().add_(eps)
            addcdiv_(p, grad, denom, -lr * (1.0 - mu) / (1.0 - mu_prod))
            addcdiv_(p, exp_avg, denom, (-lr * mu_next) / (1.0 - mu_prod * mu_next))
