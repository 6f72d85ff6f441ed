"""The deprecated ``gradcore.cuda.amp.autocast`` (PyTorch 2.13's ``torch.cuda.amp``): warns with
FutureWarning and acts as ``gradcore.amp.autocast('cuda', ...)``."""
from .. import _C
from ..amp import _deprecated_autocast

autocast = _deprecated_autocast("cuda", "cuda", _C.dtype.float16)
