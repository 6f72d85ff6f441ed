"""Shape ops: views share storage, reshape/permute/expand/cat/stack values and gradients."""
import numpy as np
import pytest

import gradcore
from helpers import assert_close, gradcheck_fn


def test_view_shares_storage_and_infers():
    x = gradcore.arange(12, dtype=gradcore.float32)
    v = x.view(3, 4)
    assert v.shape == (3, 4) and x.view(-1, 6).shape == (2, 6) and x.view((4, 3)).shape == (4, 3)
    v.mul_(2)
    assert x.tolist()[5] == 10
    assert v._base is x
    with pytest.raises(RuntimeError, match="invalid for input of size 12"):
        x.view(5, -1)
    with pytest.raises(RuntimeError, match="only one dimension"):
        x.view(-1, -1)


def test_view_of_non_contiguous_fails_but_reshape_copies():
    x = gradcore.arange(12).view(3, 4).t()
    with pytest.raises(RuntimeError, match="reshape"):
        x.view(12)
    r = x.reshape(12)
    assert r.tolist() == np.arange(12).reshape(3, 4).T.reshape(12).tolist()
    # a reshape that can be a view is one
    y = gradcore.arange(12).view(3, 4)
    assert y.reshape(2, 6)._base is not None


def test_flatten_squeeze_unsqueeze():
    x = gradcore.zeros(2, 1, 3, 1)
    assert x.flatten().shape == (6,)
    assert x.flatten(1).shape == (2, 3)
    assert x.flatten(0, 1).shape == (2, 3, 1)
    assert x.squeeze().shape == (2, 3)
    assert x.squeeze(1).shape == (2, 3, 1)
    assert x.squeeze(0).shape == (2, 1, 3, 1)
    assert x.squeeze((1, 3)).shape == (2, 3)
    assert x.unsqueeze(0).shape == (1, 2, 1, 3, 1)
    assert x.unsqueeze(-1).shape == (2, 1, 3, 1, 1)
    assert gradcore.tensor(5.0).flatten().shape == (1,)
    with pytest.raises(IndexError, match="out of range"):
        x.unsqueeze(6)


def test_transpose_permute_expand():
    a = np.random.randn(2, 3, 4).astype(np.float32)
    t = gradcore.tensor(a)
    assert_close(t.transpose(0, 2), a.transpose(2, 1, 0))
    assert_close(t.permute(1, 2, 0), a.transpose(1, 2, 0))
    assert_close(t.permute((2, 0, 1)), a.transpose(2, 0, 1))
    assert_close(t.T, a.T)
    e = gradcore.tensor(a[:, :1, :]).expand(2, 3, 4)
    assert_close(e, np.broadcast_to(a[:, :1, :], (2, 3, 4)))
    assert gradcore.ones(3).expand(2, -1).shape == (2, 3)
    with pytest.raises(RuntimeError, match="must match the existing size"):
        gradcore.ones(3).expand(2, 4)
    with pytest.raises(RuntimeError, match="repeated dim"):
        t.permute(0, 0, 1)


def test_slice_and_select_views():
    a = np.arange(20.0).reshape(4, 5)
    t = gradcore.tensor(a)
    assert_close(t._slice(1, 1, 5, 2), a[:, 1:5:2])
    assert_close(t.select(0, -1), a[-1])
    assert_close(t.narrow(1, 2, 2), a[:, 2:4])
    with pytest.raises(IndexError, match="out of bounds"):
        t.select(0, 4)


@pytest.mark.parametrize("fn", [
    lambda x: x.view(6, 2),
    lambda x: x.reshape(2, 2, 3),
    lambda x: x.t().reshape(12),
    lambda x: x.transpose(0, 1) * 1.0,
    lambda x: x.permute(1, 0).unsqueeze(0),
    lambda x: x.unsqueeze(1).expand(4, 2, 3) * 1.0,
    lambda x: x.flatten(),
    lambda x: x.select(1, 2),
    lambda x: x._slice(0, 1, 4, 2),
    lambda x: x.narrow(1, 1, 2) * x.narrow(1, 0, 2),
    lambda x: x.unsqueeze(0).squeeze(0),
    lambda x: x.T,
])
def test_view_gradients(fn):
    gradcheck_fn(fn, np.random.randn(4, 3))


def test_cat_and_stack():
    a = np.random.randn(2, 3)
    b = np.random.randn(4, 3)
    assert_close(gradcore.cat([gradcore.tensor(a), gradcore.tensor(b)]), np.concatenate([a, b]))
    assert_close(gradcore.cat([gradcore.tensor(a.T), gradcore.tensor(b.T)], dim=1), np.concatenate([a.T, b.T], 1))
    assert_close(gradcore.stack([gradcore.tensor(a), gradcore.tensor(a)], dim=1), np.stack([a, a], 1))
    assert_close(gradcore.stack([gradcore.tensor(a), gradcore.tensor(a)], dim=-1), np.stack([a, a], -1))
    gradcheck_fn(lambda x, y: gradcore.cat([x, y, x], dim=0), a, b)
    gradcheck_fn(lambda x, y: gradcore.stack([x, y], dim=2), a, a + 1)
    assert gradcore.cat([gradcore.tensor([1, 2]), gradcore.tensor([1.5])]).dtype == gradcore.float32
    with pytest.raises(RuntimeError, match="sizes of tensors must match"):
        gradcore.cat([gradcore.zeros(2, 3), gradcore.zeros(2, 4)])
    with pytest.raises(RuntimeError, match="equal size"):
        gradcore.stack([gradcore.zeros(2), gradcore.zeros(3)])
    with pytest.raises(RuntimeError, match="non-empty"):
        gradcore.cat([])


def test_torch_parity_views():
    torch = pytest.importorskip("torch")
    a = np.random.randn(3, 4, 5).astype(np.float32)
    for f in [lambda m, t: t.permute(2, 0, 1).reshape(5, 12),
              lambda m, t: t.transpose(1, 2).flatten(1),
              lambda m, t: m.cat([t, t * 2], dim=1).sum(1),
              lambda m, t: m.stack([t, t], dim=0).unsqueeze(2).squeeze()]:
        g = gradcore.tensor(a, requires_grad=True)
        tt = torch.tensor(a, requires_grad=True)
        rg, rt = f(gradcore, g), f(torch, tt)
        assert_close(rg, rt.detach().numpy())
        w = np.random.randn(*rt.shape).astype(np.float32)
        rg.backward(gradcore.tensor(w))
        rt.backward(torch.tensor(w))
        assert_close(g.grad, tt.grad.numpy())
