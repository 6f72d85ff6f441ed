"""``finfo`` and ``iinfo``: the limits of gradcore's dtypes, with PyTorch's attributes and reprs."""
from . import _C

# bits, eps, max, smallest normal, resolution (10 ** -digits)
_FLOAT = {
    "float32": (32, 2.0 ** -23, 3.4028234663852886e38, 2.0 ** -126, 1e-06),
    "float64": (64, 2.0 ** -52, 1.7976931348623157e308, 2.0 ** -1022, 1e-15),
    "bfloat16": (16, 2.0 ** -7, 3.3895313892515355e38, 2.0 ** -126, 0.01),
    "float16": (16, 2.0 ** -10, 65504.0, 2.0 ** -14, 0.001),
}
_INT = {"int64": (64, -2 ** 63, 2 ** 63 - 1), "int32": (32, -2 ** 31, 2 ** 31 - 1), "int16": (16, -2 ** 15, 2 ** 15 - 1),
        "int8": (8, -2 ** 7, 2 ** 7 - 1), "uint8": (8, 0, 2 ** 8 - 1), "bool": (8, 0, 1)}


def _name(dtype):
    return str(dtype).split(".")[-1]


class finfo:
    """Machine limits of a floating dtype (default: the default dtype): bits, eps (the gap from 1 to
    the next value), max, min (= -max), tiny and smallest_normal (the smallest positive normal),
    resolution."""

    def __init__(self, type=None):
        type = _C.functions.get_default_dtype() if type is None else type
        if not isinstance(type, _C.dtype) or _name(type) not in _FLOAT:
            raise TypeError(f"gradcore.finfo() requires a floating point input type. Use gradcore.iinfo to handle "
                            f"'{type}'")
        self.dtype = _name(type)
        self.bits, self.eps, self.max, self.smallest_normal, self.resolution = _FLOAT[self.dtype]
        self.min = -self.max
        self.tiny = self.smallest_normal

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype: bits, min, max."""

    def __init__(self, type):
        if not isinstance(type, _C.dtype) or _name(type) not in _INT:
            raise TypeError(f"gradcore.iinfo() requires an integer input type. Use gradcore.finfo to handle '{type}'")
        self.dtype = _name(type)
        self.bits, self.min, self.max = _INT[self.dtype]

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
