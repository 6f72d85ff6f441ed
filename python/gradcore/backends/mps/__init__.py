"""gradcore.backends.mps: Apple's Metal backend, which gradcore does not have."""


def is_available():
    """Always False: gradcore runs on CPU and CUDA only."""
    return False


def is_built():
    """Always False: gradcore is not built with MPS support."""
    return False
