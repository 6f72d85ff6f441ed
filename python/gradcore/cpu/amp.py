"""The deprecated ``gradcore.cpu.amp.autocast`` (PyTorch 2.13's ``torch.cpu.amp``): warns with
FutureWarning and acts as ``gradcore.amp.autocast('cpu', ...)``."""
from .. import _C
from ..amp import _deprecated_autocast, _deprecated_grad_scaler

autocast = _deprecated_autocast("cpu", "cpu", _C.dtype.bfloat16)
GradScaler = _deprecated_grad_scaler("cpu", "cpu")
