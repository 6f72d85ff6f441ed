"""``GradScaler`` (PyTorch's ``torch.amp.GradScaler``): loss scaling for mixed precision.

``scale(loss)`` multiplies by the current scale so small float16 gradients do not flush to zero;
``step(optimizer)`` unscales the gradients (once per step: one fused C++ pass over every gradient,
``_C._amp_unscale_``, which also records whether any was inf or NaN) and skips the optimizer's step
when one was; ``update()`` halves the scale after a skipped step and doubles it after
``growth_interval`` clean steps in a row. The decisions and the state dict are PyTorch's.
"""
import warnings
from collections import defaultdict
from enum import Enum

from .. import _C

__all__ = ["GradScaler", "OptState"]


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


def _f32(v):
    """v rounded to float32, as PyTorch's float32 scale tensor holds it."""
    return float(_C.functions.full((), v, dtype=_C.dtype.float32).item())


class GradScaler:
    """``GradScaler(device="cuda", init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``. On a machine without CUDA a "cuda" scaler warns and
    disables itself (every method then passes through), as PyTorch's does."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = enabled
        if self._device == "cuda" and enabled:
            from .. import cuda
            if not cuda.is_available():
                warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                              stacklevel=2)
                self._enabled = False
        if self._enabled:
            assert growth_factor > 1.0, "The growth factor must be > 1.0."
            assert backoff_factor < 1.0, "The backoff factor must be < 1.0."
            self._init_scale = init_scale
            self._scale = None
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None
            self._per_optimizer_states = defaultdict(_fresh_state)

    # ---- scaling ----

    def _lazy_init(self, device):
        self._scale = _C.functions.full((), self._init_scale, dtype=_C.dtype.float32, device=device)
        self._growth_tracker = self._init_growth_tracker

    def scale(self, outputs):
        """outputs (a tensor or nested iterables of tensors) times the current scale."""
        if not self._enabled:
            return outputs

        def apply(v):
            if isinstance(v, _C.Tensor):
                if self._scale is None:
                    self._lazy_init(v.device)
                return v * self._scale.to(v.device)
            if isinstance(v, (list, tuple)):
                return type(v)(apply(x) for x in v)
            if hasattr(v, "__iter__"):
                return map(apply, v)
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply(outputs)

    def _check(self, funcname):
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        assert self._scale is not None, f"Attempted {funcname} but _scale is None.  " + fix
        assert self._growth_tracker is not None, f"Attempted {funcname} but _growth_tracker is None.  " + fix

    def unscale_(self, optimizer):
        """Divides optimizer's gradients by the scale in place (for clipping between backward and
        step); at most once per optimizer between update() calls."""
        if not self._enabled:
            return
        self._check("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = _f32(1.0 / float(self._scale.item()))  # in double, then float32 as PyTorch's
        grads_by_device = {}
        for group in optimizer.param_groups:
            for param in group["params"]:
                grad = param.grad
                if grad is None:
                    continue
                if grad.dtype == _C.dtype.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                grads_by_device.setdefault(str(grad.device), []).append(grad)
        found = {}
        for device, grads in grads_by_device.items():
            found_inf = _C.functions.zeros((), dtype=_C.dtype.float32, device=device)
            _C._amp_unscale_(grads, found_inf, inv_scale)
            found[device] = found_inf
        if not found:  # no gradient at all: nothing is infinite
            found[str(self._scale.device)] = _C.functions.zeros((), dtype=_C.dtype.float32, device=self._scale.device)
        state["found_inf_per_device"] = found
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """Unscales (unless unscale_ was called) and runs optimizer.step(*args, **kwargs) unless a
        gradient was inf or NaN; returns the step's return value (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        assert len(state["found_inf_per_device"]) > 0, "No inf checks were recorded for this optimizer."
        retval = None
        if not sum(v.item() for v in state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None):
        """The next iteration's scale: new_scale if given; else backoff_factor times the scale if
        any optimizer skipped its step, growth_factor times after growth_interval clean steps."""
        if not self._enabled:
            return
        self._check("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                self._scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element gradcore.FloatTensor with "
                          "requires_grad=False.")
                assert isinstance(new_scale, _C.Tensor), reason
                assert new_scale.numel() == 1, reason
                assert new_scale.requires_grad is False, reason
                self._scale.copy_(new_scale.reshape(()))
        else:
            found = [f.item() for s in self._per_optimizer_states.values() for f in s["found_inf_per_device"].values()]
            assert len(found) > 0, "No inf checks were recorded prior to update."
            scale = float(self._scale.item())
            if sum(found):
                self._scale.fill_(scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                successful = self._growth_tracker + 1
                if successful == self._growth_interval:
                    grown = _f32(scale * self._growth_factor)
                    if grown != float("inf"):
                        self._scale.fill_(grown)
                    self._growth_tracker = 0
                else:
                    self._growth_tracker = successful
        self._per_optimizer_states = defaultdict(_fresh_state)

    # ---- queries and state ----

    def get_scale(self):
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale.item())

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = self._init_growth_tracker
