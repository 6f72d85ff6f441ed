"""The Optimizer base class: parameter groups, per-parameter state, ``zero_grad``, ``step`` with a
closure, and ``state_dict`` / ``load_state_dict`` in PyTorch's layout.

The arithmetic of every optimizer lives in C++ (``gradcore._C._<name>_step``): a subclass gathers
one param group's parameters, gradients and state tensors into lists and makes one native call."""
import functools
import warnings
import weakref
from collections import OrderedDict, defaultdict
from numbers import Real
from copy import deepcopy
from itertools import chain

import numpy as np

from .. import _C
from .._C import Tensor
from .._tensor import tensor, zero_grads
from ..autograd.grad_mode import enable_grad
from ..utils.hooks import own_dict as _own_hook_dict, register as _register_hook

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

# Step hooks of every optimizer (they run before each optimizer's own pre-hooks and after its own
# post-hooks, as in PyTorch).
_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()
# Every live optimizer (the training doctor asks which parameters no optimizer holds).
_all_optimizers = weakref.WeakSet()


def register_optimizer_step_pre_hook(hook):
    """Registers ``hook(optimizer, args, kwargs)`` to run before every optimizer's ``step``; it may
    return ``(new_args, new_kwargs)``. Returns a :class:`~gradcore.utils.hooks.RemovableHandle`."""
    return _register_hook(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Registers ``hook(optimizer, args, kwargs)`` to run after every optimizer's ``step``. Returns a
    :class:`~gradcore.utils.hooks.RemovableHandle`."""
    return _register_hook(_global_optimizer_post_hooks, hook)


def _with_step_hooks(step):
    """``step`` wrapped to run the global and the optimizer's own step hooks (a test of four empty
    dicts when there are none). Applied once per class, to the class of each new optimizer."""
    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        self = args[0]
        if not (_global_optimizer_pre_hooks or self._optimizer_step_pre_hooks or _global_optimizer_post_hooks
                or self._optimizer_step_post_hooks):
            return step(*args, **kwargs)
        for hook in (*_global_optimizer_pre_hooks.values(), *self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, new_kwargs), "
                                       f"but got {result}.")
                args, kwargs = result
        out = step(*args, **kwargs)
        for hook in (*self._optimizer_step_post_hooks.values(), *_global_optimizer_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    wrapper._hooked = True
    return wrapper

zeros_like = _C.functions.zeros_like
full_like = _C.functions.full_like


class _RequiredParameter:
    """Marks a default that every param group must set (PyTorch's ``optim.optimizer.required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    return type(obj).__module__ + "." + type(obj).__qualname__


def _to_float(value):
    """A hyperparameter as a Python float (a one-element tensor lr is accepted, as in PyTorch)."""
    return value.item() if isinstance(value, Tensor) else float(value)


def _check_lr(lr):
    """PyTorch's learning-rate check (a NaN lr is refused too): ValueError."""
    if isinstance(lr, _C.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_adam_hyperparams(lr, betas, eps, weight_decay):
    """PyTorch's argument checks of the Adam family (Adam, AdamW, NAdam, RAdam): ValueError."""
    _check_lr(lr)
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if len(betas) != 2 or not all(isinstance(b, Real) for b in betas):
        raise ValueError(f"betas must be a pair of floats, got {betas!r}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _decayed_grad(p, grad, lr, weight_decay, maximize, decoupled=False):
    """The gradient the Python updates use: negated when maximizing, plus weight_decay * p (L2),
    or, when decoupled (AdamW style), p itself decayed in place by lr * weight_decay instead."""
    if maximize:
        grad = grad.neg()
    if weight_decay != 0:
        if decoupled:
            p.mul_(1 - lr * weight_decay)
        else:
            grad = grad.add(p, alpha=weight_decay)
    return grad


def _check_unsupported(name, value):
    if value:
        raise NotImplementedError(
            f"{name}=True is not supported by gradcore's optimizers; the update always runs as one fused native "
            f"call per param group. Hint: leave {name} at its default.")


class Optimizer:
    r"""Base class for all optimizers.

    Args:
        params (iterable): an iterable of :class:`Tensor` s, of ``(name, Tensor)`` pairs, or of dicts
            with a ``"params"`` entry and per-group options (param groups).
        defaults (dict): the default options, used by every group that does not set them.

    ``state`` maps each parameter (tensors hash by identity) to a dict of its state tensors.
    """

    # Each optimizer's own step hooks: these class-level empty dicts stand in until one is registered.
    _optimizer_step_pre_hooks = _optimizer_step_post_hooks = OrderedDict()

    def __init__(self, params, defaults):
        cls = type(self)
        if not getattr(cls.step, "_hooked", False):
            cls.step = _with_step_hooks(cls.step)
        _all_optimizers.add(self)
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got " + _typename(params))
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    # Options PyTorch added to param groups over its releases: an optimizer pickled before gets
    # these values, as PyTorch's __setstate__ gives them. _tensor_steps: the state's "step" is a
    # 0-dim tensor (older pickles hold a number).
    _group_defaults = {}
    _tensor_steps = False

    def __setstate__(self, state):
        self.__dict__.update(state)
        for group in self.param_groups:
            for key, value in self._group_defaults.items():
                group.setdefault(key, value)
        if self._tensor_steps:
            _ensure_tensor_steps(self)

    def __repr__(self):
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    def add_param_group(self, param_group):
        """Adds a param group (a dict with ``"params"`` and optional per-group options) to
        ``param_groups``; options it does not set take the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(p))
            if not (p.is_leaf or getattr(p, "retains_grad", False)):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        if len({id(p) for p in tensors}) != len(tensors):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; "
                          "see github.com/pytorch/pytorch/issues/40967 for more information", stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def register_step_pre_hook(self, hook):
        """Registers ``hook(optimizer, args, kwargs)`` to run before this optimizer's ``step``; it
        may return ``(new_args, new_kwargs)``. Returns a :class:`~gradcore.utils.hooks.RemovableHandle`."""
        return _register_hook(_own_hook_dict(self, "_optimizer_step_pre_hooks"), hook)

    def register_step_post_hook(self, hook):
        """Registers ``hook(optimizer, args, kwargs)`` to run after this optimizer's ``step``.
        Returns a :class:`~gradcore.utils.hooks.RemovableHandle`."""
        return _register_hook(_own_hook_dict(self, "_optimizer_step_post_hooks"), hook)

    def zero_grad(self, set_to_none=True):
        """Resets the gradients of all optimized tensors: to None (the default, which frees the
        memory), or to zeros in place when ``set_to_none=False``."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (callable, optional): re-evaluates the model and returns the loss; it is
                called with grad enabled and its loss is returned.
        """
        return self._step(closure, self._update_group)

    @staticmethod
    def _with_grads(group):
        """The parameters of ``group`` that have a gradient, and those gradients (in order)."""
        params = [p for p in group["params"] if p.grad is not None]
        return params, [p.grad for p in params]

    def _update_group(self, group):
        """Updates one param group with one native call (each optimizer implements it)."""
        raise NotImplementedError

    def _step(self, closure, update_group):
        """The body of every subclass's ``step``: evaluate the closure with grad enabled, then
        update each param group with one native call."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # no_grad, without the context manager's cost on every step
        prev = _C.functions.is_grad_enabled()
        _C._set_grad_enabled(False)
        try:
            for group in self.param_groups:
                update_group(group)
        finally:
            _C._set_grad_enabled(prev)
        return loss

    def state_dict(self):
        """Returns the optimizer's state as a dict, in PyTorch's layout:

        * ``state``: ``{index: {name: tensor or number}}`` for every parameter with state, the index
          counting parameters across groups in order;
        * ``param_groups``: a list of dicts holding each group's options, with ``"params"`` as the
          list of the group's parameter indices.

        The state tensors are not copied (as in PyTorch); ``load_state_dict`` copies them in.
        """
        mapping = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            mapping.update({id(p): i for i, p in enumerate(group["params"], start) if id(p) not in mapping})
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Loads the optimizer state from ``state_dict`` (as returned by :meth:`state_dict`).

        The saved groups must match this optimizer's groups in number and size (ValueError
        otherwise). State tensors are copied, cast to their parameter's dtype (``step`` keeps its
        own); the saved group options replace the current ones.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("load_state_dict: expected a dict with 'state' and 'param_groups' entries, as returned "
                             "by Optimizer.state_dict()")
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)} saved, {len(groups)} in this optimizer)")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group: group {i} has {len(s['params'])} saved parameters but "
                                 f"{len(g['params'])} in this optimizer")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, key=None):
            if isinstance(value, Tensor) or (hasattr(value, "__array__") and not np.isscalar(value)):
                return _copy_state_tensor(param, value, key)
            if isinstance(value, dict):
                return {k: cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})


def _copy_state_tensor(param, value, key):
    """A fresh gradcore tensor holding ``value`` (a gradcore tensor or any array-like): on the
    parameter's device and in its dtype, except ``step`` which stays a CPU tensor of its own dtype
    (float32 in PyTorch)."""
    if not isinstance(value, Tensor):
        value = tensor(np.asarray(value))
    value = value.detach()
    if key == "step":
        return value.cpu().clone() if value.device.type == "cpu" else value.cpu()
    dtype = param.dtype if param.is_floating_point() else value.dtype
    if value.dtype == dtype and value.device == param.device:
        return value.clone()
    return value.to(device=param.device, dtype=dtype)


def _state_zeros(state, key, param):
    """state[key], created as zeros like ``param`` the first time it is needed (not on every step)."""
    buf = state.get(key)
    if buf is None:
        buf = state[key] = zeros_like(param)
    return buf


def _step_tensor(value=0.0):
    """A parameter's step count: a 0-dim float32 tensor, as PyTorch keeps it."""
    return tensor(float(value), dtype=_C.dtype.float32)


def _ensure_tensor_steps(optimizer):
    """State loaded from old checkpoints may hold ``step`` as a number: make it a tensor."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            s = optimizer.state.get(p)
            if s and "step" in s and not isinstance(s["step"], Tensor):
                s["step"] = _step_tensor(float(s["step"]))
