import os
import sys

import numpy as np
import pytest

# Tests import the helpers module that sits beside them.
sys.path.insert(0, os.path.dirname(__file__))

import gradcore  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    gradcore.manual_seed(0)
    np.random.seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    has_cuda = hasattr(gradcore, "cuda") and gradcore.cuda.is_available()
    skip = pytest.mark.skip(reason="needs a CUDA GPU and a CUDA build of gradcore")
    for item in items:
        if "cuda" in item.keywords and not has_cuda:
            item.add_marker(skip)


# GRADCORE_DOCTOR=<file>: every test runs under gradcore.debug.doctor, and each TrainingWarning is
# appended to <file> with the test's id (how the doctor is checked for false alarms on the suite).
if os.environ.get("GRADCORE_DOCTOR"):
    @pytest.fixture(autouse=True)
    def _under_doctor(request):
        import warnings
        from gradcore.debug import TrainingWarning, doctor
        if request.module.__name__.endswith("test_doctor"):
            yield
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with doctor():
                yield
        said = [w for w in caught if issubclass(w.category, TrainingWarning)]
        if said:
            with open(os.environ["GRADCORE_DOCTOR"], "a") as f:
                for w in said:
                    f.write(f"{request.node.nodeid}\t{w.filename}:{w.lineno}\t{w.message}\n")
