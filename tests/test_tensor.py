"""Tensor creation, attributes, dtypes, devices and NumPy interop."""
import gc
import weakref

import numpy as np
import pytest

import gradcore
from helpers import assert_close


def test_tensor_from_python_data_dtypes():
    assert gradcore.tensor([1.0, 2.0]).dtype == gradcore.float32
    assert gradcore.tensor([1, 2]).dtype == gradcore.int64
    assert gradcore.tensor([True, False]).dtype == gradcore.bool
    assert gradcore.tensor([1, 2.5]).dtype == gradcore.float32
    assert gradcore.tensor(3.0).dim() == 0
    assert gradcore.tensor([[1, 2], [3, 4]], dtype=gradcore.float64).dtype == gradcore.float64
    assert gradcore.tensor(np.zeros(3, dtype=np.float64)).dtype == gradcore.float64
    assert gradcore.tensor(np.zeros(3, dtype=np.int32)).dtype == gradcore.int32  # as PyTorch
    assert gradcore.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]


def test_tensor_ragged_and_bad_types():
    with pytest.raises(ValueError):
        gradcore.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        gradcore.tensor(["a", object()])


def test_tensor_of_zero_dim_tensors():
    t = gradcore.tensor([gradcore.tensor(1.5), gradcore.tensor(2.5)])
    assert t.tolist() == [1.5, 2.5]


def test_factories():
    assert gradcore.zeros(2, 3).shape == (2, 3)
    assert gradcore.zeros((2, 3)).shape == (2, 3)
    assert gradcore.ones([4]).tolist() == [1, 1, 1, 1]
    assert gradcore.full((2,), 7).dtype == gradcore.int64
    assert gradcore.full((2,), 7.0).dtype == gradcore.float32
    assert gradcore.full((), 2.0).item() == 2.0
    assert gradcore.empty(3, dtype=gradcore.float64).dtype == gradcore.float64
    x = gradcore.randn(2, 3, dtype=gradcore.float64)
    assert gradcore.zeros_like(x).dtype == gradcore.float64
    assert gradcore.ones_like(x).sum().item() == 6
    assert gradcore.full_like(x, 3).tolist() == [[3.0] * 3] * 2
    assert gradcore.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert gradcore.arange(5).dtype == gradcore.int64
    assert gradcore.arange(0, 1, 0.25).tolist() == [0, 0.25, 0.5, 0.75]
    assert gradcore.arange(0, 1, 0.25).dtype == gradcore.float32
    assert gradcore.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
    assert_close(gradcore.linspace(-1, 1, 5), np.linspace(-1, 1, 5).astype(np.float32))
    assert_close(gradcore.eye(3, 4), np.eye(3, 4, dtype=np.float32))
    assert gradcore.zeros(2, 3, requires_grad=True).requires_grad
    r = gradcore.randint(0, 10, (1000,))
    assert r.dtype == gradcore.int64 and 0 <= r.numpy().min() and r.numpy().max() < 10
    assert gradcore.randint(5, (3,)).shape == (3,)
    assert gradcore.randn(()).dim() == 0


def test_random_distributions_and_seeding():
    gradcore.manual_seed(1)
    a = gradcore.randn(10000)
    gradcore.manual_seed(1)
    b = gradcore.randn(10000)
    assert a.tolist() == b.tolist()
    assert abs(a.numpy().mean()) < 0.05 and abs(a.numpy().std() - 1) < 0.05
    u = gradcore.rand(10000).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    g = gradcore.Generator().manual_seed(3)
    c = gradcore.rand(5, generator=g)
    g2 = gradcore.Generator().manual_seed(3)
    assert gradcore.rand(5, generator=g2).tolist() == c.tolist()


def test_random_does_not_depend_on_thread_count():
    n = gradcore.get_num_threads()
    gradcore.manual_seed(5)
    a = gradcore.randn(100000).numpy()
    gradcore.set_num_threads(1)
    try:
        gradcore.manual_seed(5)
        b = gradcore.randn(100000).numpy()
    finally:
        gradcore.set_num_threads(n)
    np.testing.assert_array_equal(a, b)


def test_attributes():
    x = gradcore.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, tuple)
    assert repr(x.shape) == "gradcore.Size([2, 3, 4])"
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24
    assert x.stride() == (12, 4, 1)
    assert x.is_leaf and x.grad is None and x.grad_fn is None
    assert x.T.shape == (4, 3, 2)
    assert x.device == gradcore.device("cpu") and str(x.device) == "cpu"
    assert len(x) == 2
    with pytest.raises(IndexError):
        x.size(3)


def test_device_objects():
    d = gradcore.device("cuda", 0)
    assert d.type == "cuda" and d.index == 0 and str(d) == "cuda:0"
    assert gradcore.device("cuda:1").index == 1
    assert gradcore.device("cpu").index is None
    assert gradcore.device("cpu") == "cpu"
    assert repr(gradcore.device("cpu")) == "device(type='cpu')"
    with pytest.raises(RuntimeError):
        gradcore.device("tpu")
    # A build without CUDA: AssertionError, as PyTorch's; a CUDA build without a GPU: RuntimeError.
    with pytest.raises(RuntimeError if gradcore._C._cuda_built else AssertionError, match="CUDA|cuda"):
        gradcore.zeros(2, device="cuda")


def test_grad_setter_checks():
    x = gradcore.zeros(3, requires_grad=True)
    x.grad = gradcore.ones(3)
    assert x.grad.tolist() == [1, 1, 1]
    x.grad = None
    with pytest.raises(TypeError):
        x.grad = [1, 2, 3]
    with pytest.raises(RuntimeError, match="size"):
        x.grad = gradcore.ones(4)


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating point"):
        gradcore.tensor([1, 2], requires_grad=True)
    x = gradcore.tensor([1.0])
    x.requires_grad = True
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


def test_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = gradcore.from_numpy(a)
    a[0, 0] = 100
    assert t.select(0, 0).select(0, 0).item() == 100
    t.add_(1)
    assert a[1, 2] == 6
    n = t.numpy()
    n[1, 1] = -5
    assert a[1, 1] == -5
    assert np.asarray(t).shape == (2, 3)
    # transposed arrays keep their strides
    tt = gradcore.from_numpy(a.T)
    assert tt.shape == (3, 2) and tt.stride() == (1, 3)
    assert_close(tt.contiguous(), a.T)


def test_numpy_keeps_memory_alive():
    a = np.ones(4, dtype=np.float64)
    t = gradcore.from_numpy(a)
    del a
    gc.collect()
    assert t.sum().item() == 4
    n = gradcore.ones(5).numpy()  # the array must keep the tensor's storage alive
    gc.collect()
    assert n.sum() == 5


def test_numpy_refusals():
    x = gradcore.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1, 1]
    with pytest.raises(TypeError, match="uint16|supported"):
        gradcore.from_numpy(np.zeros(3, dtype=np.uint16))
    with pytest.raises(ValueError, match="negative"):
        gradcore.from_numpy(np.arange(4.0)[::-1])


def test_conversions():
    x = gradcore.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2]
    assert x.double().dtype == gradcore.float64
    assert x.to(gradcore.float64).dtype == gradcore.float64
    assert x.to("cpu") is x
    assert x.to(gradcore.float32) is x
    assert x.to(x).dtype == gradcore.float32
    assert x.type(gradcore.int64).dtype == gradcore.int64
    assert x.bool().tolist() == [True, True]
    assert gradcore.tensor(2.5).item() == 2.5
    assert isinstance(gradcore.tensor(3).item(), int)
    assert float(gradcore.tensor([2.0])) == 2.0
    with pytest.raises(RuntimeError, match="item"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    assert x.cpu() is x


def test_detach_shares_storage():
    x = gradcore.ones(3, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    d.mul_(2)
    assert x.tolist() == [2, 2, 2]


def test_clone_and_contiguous():
    x = gradcore.arange(6).reshape(2, 3)
    t = x.t()
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.tolist() == [[0, 3], [1, 4], [2, 5]]
    y = x.clone()
    y.add_(1)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_hash_is_identity():
    a, b = gradcore.zeros(2), gradcore.zeros(2)
    d = {a: 1, b: 2}
    assert d[a] == 1 and d[b] == 2
    assert (a == b).tolist() == [True, True]


def test_default_dtype():
    assert gradcore.get_default_dtype() == gradcore.float32
    gradcore.set_default_dtype(gradcore.float64)
    try:
        assert gradcore.tensor([1.5]).dtype == gradcore.float64
        assert gradcore.zeros(2).dtype == gradcore.float64
    finally:
        gradcore.set_default_dtype(gradcore.float32)
    with pytest.raises(TypeError):
        gradcore.set_default_dtype(gradcore.int64)


def test_huge_allocation_raises_instead_of_aborting():
    with pytest.raises((MemoryError, RuntimeError)):
        gradcore.empty(2**40, 2**30)
    with pytest.raises((MemoryError, RuntimeError)):
        gradcore.empty(2**45)
    with pytest.raises(RuntimeError, match="negative"):
        gradcore.zeros(-1)


def test_tensor_objects_are_freed():
    x = gradcore.randn(10, requires_grad=True)
    y = (x * 2).exp().sum()
    r = weakref.ref(y)
    del y
    gc.collect()
    assert r() is None


class _Param(gradcore.Tensor):
    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad)


def test_subclass_deepcopy_and_pickle():
    import copy
    import pickle
    p = _Param(gradcore.randn(3))
    assert isinstance(p, gradcore.Tensor) and p.requires_grad and p.is_leaf
    (p * 2).sum().backward()
    q = copy.deepcopy(p)
    assert type(q) is _Param and q.grad.tolist() == [2.0, 2.0, 2.0] and q.data_ptr() != p.data_ptr()
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is _Param and r.requires_grad and r.tolist() == p.tolist()
    t = pickle.loads(pickle.dumps(gradcore.arange(4)))
    assert t.tolist() == [0, 1, 2, 3] and t.dtype == gradcore.int64
    with pytest.raises(RuntimeError, match="leaf"):
        pickle.dumps(p * 2)
    with pytest.raises(RuntimeError, match="floating point"):
        _Param(gradcore.arange(3))


def test_empty_tensors_are_contiguous():
    z = gradcore.zeros(3, 0, 2)
    assert z.is_contiguous()
    assert z.transpose(0, 2).is_contiguous()
    assert z.sum().item() == 0 and z.numel() == 0
