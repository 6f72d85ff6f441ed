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
