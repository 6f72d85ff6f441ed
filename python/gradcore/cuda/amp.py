"""The deprecated ``gradcore.cuda.amp.autocast`` (PyTorch 2.13's ``torch.cuda.amp``): warns with
FutureWarning and acts as ``gradcore.amp.autocast('cuda', ...)``."""
from .. import _C
from ..amp import _deprecated_autocast, _deprecated_grad_scaler

autocast = _deprecated_autocast("cuda", "cuda", _C.dtype.float16)
GradScaler = _deprecated_grad_scaler("cuda", "cuda")
