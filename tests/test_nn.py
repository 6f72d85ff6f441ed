"""nn.Module bookkeeping: registration, names, containers, train/eval, state dicts, devices/dtypes,
repr (against PyTorch's text where torch is importable), Parameter."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import gradcore
import gradcore.nn as nn
from helpers import assert_close


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.scale = nn.Parameter(gradcore.ones(()))
        self.register_buffer("steps", gradcore.zeros((), dtype=gradcore.int64))
        self.register_buffer("cache", gradcore.zeros(3), persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(3, 2))

    def forward(self, x):
        return self.head(self.block(x))


# ---- registration ----

def test_registration_by_assignment_and_nested_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "block.bn.weight", "block.bn.bias",
                     "head.1.weight", "head.1.bias"]
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.block.scale"
    assert [n for n, _ in net.block.named_parameters(recurse=False)] == ["scale"]
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    assert [n for n, _ in net.named_buffers()] == ["block.steps", "block.cache", "block.bn.running_mean",
                                                   "block.bn.running_var", "block.bn.num_batches_tracked"]
    assert len(list(net.buffers())) == 5
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert list(net.children()) == [net.block, net.head]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "block.bn", "head", "head.0", "head.1"]
    assert len(list(net.modules())) == 7
    assert net.block.fc.weight is net.block.fc._parameters["weight"]


def test_plain_attributes_and_reassignment():
    m = nn.Module()
    m.x = 3
    m.t = gradcore.zeros(2)  # a plain tensor is an attribute, not a buffer or parameter
    assert m.x == 3 and list(m.named_buffers()) == [] and list(m.parameters()) == []
    m.w = nn.Parameter(gradcore.zeros(2))
    assert [n for n, _ in m.named_parameters()] == ["w"]
    m.w = None  # keeps the slot, as PyTorch
    assert "w" in m._parameters and m.w is None and list(m.parameters()) == []
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = nn.Linear(2, 2)  # a parameter slot takes only a Parameter or None, as in PyTorch
    del m.w
    assert not hasattr(m, "w") and "w" not in m._parameters
    m.w = nn.Linear(2, 2)
    assert isinstance(m.w, nn.Linear) and "w" in m._modules
    m.w = nn.Parameter(gradcore.zeros(1))  # a Parameter replaces a child module
    assert "w" not in m._modules and "w" in m._parameters
    m.register_buffer("b", gradcore.ones(2))
    m.b = gradcore.zeros(2)
    assert m._buffers["b"].tolist() == [0, 0]
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.b = 3
    del m.b
    assert "b" not in m._buffers


def test_shared_parameters_and_modules_are_deduplicated():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.children())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(gradcore.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()

    class EarlyMod(nn.Module):
        def __init__(self):
            self.l = nn.ReLU()

    with pytest.raises(AttributeError, match="before Module.__init__"):
        EarlyMod()
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        m.weight = gradcore.zeros(2, 2)
    with pytest.raises(TypeError, match="buffer 'x'"):
        m.register_buffer("x", [1, 2])
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", gradcore.zeros(1))
    with pytest.raises(KeyError, match="empty"):
        m.register_parameter("", None)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("in_features", gradcore.zeros(1))
    with pytest.raises(TypeError, match="parameter 'p'"):
        m.register_parameter("p", gradcore.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("sub", 3)
    with pytest.raises(KeyError, match="contain"):
        m.add_module("a.b", nn.ReLU())
    p = nn.Parameter(gradcore.zeros(2), requires_grad=False)
    p.add_(gradcore.ones(2, requires_grad=True))  # now the output of an op: no longer a leaf
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("q", p)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope
    with pytest.raises(TypeError, match="unexpected keyword"):
        nn.Module(foo=1)


def test_add_module_register_module_and_dir():
    m = nn.Module()
    m.add_module("a", nn.ReLU())
    m.register_module("b", nn.Tanh())
    m.register_parameter("p", nn.Parameter(gradcore.zeros(1)))
    m.register_buffer("buf", gradcore.zeros(1))
    assert isinstance(m.a, nn.ReLU) and isinstance(m.b, nn.Tanh)
    d = dir(m)
    assert {"a", "b", "p", "buf", "forward", "training"} <= set(d)
    assert d == sorted(d)


def test_forward_missing_and_call():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(gradcore.zeros(1))

    class Add(nn.Module):
        def forward(self, x, y=1):
            return x + y

    assert Add()(gradcore.zeros(2), y=3).tolist() == [3, 3]


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.head.train(False)
    assert net.training and not net.head[1].training
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    lin = nn.Linear(3, 2)
    for p in lin.parameters():
        p.grad = gradcore.ones(p.shape)
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is not None and lin.weight.grad.sum().item() == 0
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None
    assert lin.requires_grad_(False) is lin
    assert not any(p.requires_grad for p in lin.parameters())


def test_apply_visits_children_first():
    seen = []
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]

    def init_zero(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    net.apply(init_zero)
    assert net[0].weight.abs().sum().item() == 0


# ---- state dicts ----

def test_state_dict_keys_values_and_sharing():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["block.scale", "block.steps", "block.fc.weight", "block.fc.bias", "block.bn.weight",
                        "block.bn.bias", "block.bn.running_mean", "block.bn.running_var",
                        "block.bn.num_batches_tracked", "head.1.weight", "head.1.bias"]
    assert "block.cache" not in sd  # non-persistent buffer
    w = sd["block.fc.weight"]
    assert type(w) is gradcore.Tensor and not w.requires_grad and w.grad_fn is None
    with gradcore.no_grad():
        net.block.fc.weight.mul_(0)
    assert w.abs().sum().item() == 0  # shares memory, like PyTorch's detached views
    assert net.state_dict(keep_vars=True)["block.fc.weight"] is net.block.fc.weight
    assert list(net.block.state_dict(prefix="x."))[0] == "x.scale"


def test_state_dict_round_trip_in_place():
    gradcore.manual_seed(1)
    a, b = Net(), Net()
    x = gradcore.randn(5, 4)
    a.train()
    a(x)  # moves a's running stats
    a.eval()
    b.eval()
    w_before = b.block.fc.weight
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    assert b.block.fc.weight is w_before and b.block.fc.weight.requires_grad
    assert_close(b(x), a(x))
    assert b.block.bn.num_batches_tracked.item() == 1
    assert_close(b.block.bn.running_mean, a.block.bn.running_mean)


def test_load_state_dict_strict_errors():
    net = Net()
    sd = net.state_dict()
    sd.pop("head.1.bias")
    sd["head.2.weight"] = gradcore.zeros(1)
    sd["extra"] = gradcore.zeros(1)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for Net" in msg
    assert 'Missing key(s) in state_dict: "head.1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra", "head.2.weight"' in msg
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["head.1.bias"] and res.unexpected_keys == ["extra", "head.2.weight"]
    assert "missing_keys=['head.1.bias']" in repr(res)

    bad = net.state_dict()
    bad["block.fc.weight"] = gradcore.zeros(4, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for block.fc.weight: copying a param with shape "
                                           r"gradcore.Size\(\[4, 3\]\) from checkpoint, the shape in current "
                                           r"model is gradcore.Size\(\[3, 4\]\)"):
        net.load_state_dict(bad, strict=False)
    bad["block.fc.weight"] = [[0.0] * 4] * 3
    with pytest.raises(RuntimeError, match='While copying the parameter named "block.fc.weight"'):
        net.load_state_dict(bad)
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([1, 2])


def test_load_state_dict_converts_dtype_and_plain_dict():
    lin = nn.Linear(2, 2)
    sd = {"weight": gradcore.tensor(np.arange(4.0).reshape(2, 2)), "bias": gradcore.tensor([1.0, 2.0])}
    assert sd["weight"].dtype == gradcore.float64
    lin.load_state_dict(sd)
    assert lin.weight.dtype == gradcore.float32 and lin.weight.tolist() == [[0, 1], [2, 3]]
    assert lin.weight.grad_fn is None and lin.weight.is_leaf


def test_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")
    g = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.ModuleList([nn.Linear(3, 3)]),
                      nn.ModuleDict({"out": nn.Linear(3, 1)}))
    t = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3), torch.nn.ReLU(),
                            torch.nn.ModuleList([torch.nn.Linear(3, 3)]),
                            torch.nn.ModuleDict({"out": torch.nn.Linear(3, 1)}))
    assert list(g.state_dict()) == list(t.state_dict())
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in g.named_modules()] == [n for n, _ in t.named_modules()]
    for k, v in t.state_dict().items():
        assert tuple(g.state_dict()[k].shape) == tuple(v.shape)
    g.load_state_dict({k: gradcore.tensor(v.numpy()) for k, v in t.state_dict().items()})
    assert_close(g[0].weight, t[0].weight.detach().numpy())


# ---- devices and dtypes ----

def test_to_double_float_in_place():
    net = Net()
    w = net.block.fc.weight
    net.block.fc.weight.grad = gradcore.ones(3, 4)
    assert net.to(gradcore.float64) is net
    assert net.block.fc.weight is w and w.dtype == gradcore.float64 and w.requires_grad
    assert w.grad.dtype == gradcore.float64
    assert net.block.bn.running_mean.dtype == gradcore.float64
    assert net.block.bn.num_batches_tracked.dtype == gradcore.int64  # integer buffers keep their dtype
    assert net(gradcore.randn(3, 4, dtype=gradcore.float64)).dtype == gradcore.float64
    net.float()
    assert w.dtype == gradcore.float32 and net.block.bn.running_var.dtype == gradcore.float32
    net.double()
    assert w.dtype == gradcore.float64
    assert net.to("cpu") is net and net.cpu() is net and net.to(device="cpu", dtype=gradcore.float32) is net
    assert w.dtype == gradcore.float32 and w.device == gradcore.device("cpu")
    net.to(gradcore.zeros(1, dtype=gradcore.float64))
    assert w.dtype == gradcore.float64
    with pytest.raises(TypeError, match="floating point"):
        net.to(gradcore.int64)
    with pytest.raises(TypeError, match="unexpected keyword"):
        net.to(colour="red")


# ---- containers ----

def test_sequential_indexing_and_mutation():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c] and list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[1]
    assert list(seq._modules) == ["0", "1"] and seq[1] is c
    seq.append(nn.Sigmoid())
    seq.insert(0, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "Linear", "Linear", "Sigmoid"]
    assert list(seq._modules) == ["0", "1", "2", "3"]
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named._modules) == ["fc", "act"] and isinstance(named.fc, nn.Linear)
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    assert len(seq + named) == 6
    assert nn.Sequential()(gradcore.ones(2)).tolist() == [1, 1]
    x = gradcore.ones(3, 2)
    chain = nn.Sequential(nn.Flatten(), nn.ReLU(), nn.Identity())
    assert chain(x).tolist() == x.tolist()


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers += [nn.Sigmoid()]
    assert [type(m).__name__ for m in layers[3:]] == ["ReLU", "Tanh", "Sigmoid"]
    assert isinstance(layers[-1], nn.Sigmoid) and isinstance(layers[1:3], nn.ModuleList)
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and list(layers._modules)[-1] == "6"
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(6)]
    assert isinstance(layers.pop(-1), nn.Sigmoid) and len(layers) == 5
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(3)
    with pytest.raises(IndexError):
        layers[10]
    with pytest.raises(NotImplementedError):
        layers(gradcore.zeros(1))

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    assert [n for n, _ in Stack().named_parameters()] == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                                          "layers.1.bias"]


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    assert list(d) == ["a", "b"] and list(d.keys()) == ["a", "b"] and len(d) == 2
    assert "a" in d and isinstance(d["b"], nn.ReLU)
    d["c"] = nn.Tanh()
    d.update([("e", nn.Sigmoid())])
    assert [k for k, _ in d.items()] == ["a", "b", "c", "e"]
    assert isinstance(d.pop("c"), nn.Tanh) and "c" not in d
    assert [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias"]
    assert len(list(d.values())) == 3
    with pytest.raises(ValueError, match="pair"):
        d.update([("x", nn.ReLU(), 3)])
    d.clear()
    assert len(d) == 0


# ---- repr ----

def _all_layers(ns):
    return ns.Sequential(
        ns.Linear(784, 256), ns.ReLU(), ns.ReLU(inplace=True), ns.LeakyReLU(), ns.LeakyReLU(0.2, inplace=True),
        ns.GELU(), ns.GELU(approximate="tanh"), ns.Softplus(), ns.Sigmoid(), ns.Tanh(), ns.Softmax(dim=1),
        ns.LogSoftmax(dim=-1), ns.Flatten(), ns.Flatten(0, 2), ns.Dropout(0.25), ns.Identity(),
        ns.BatchNorm1d(256), ns.BatchNorm1d(8, eps=1e-3, momentum=None, affine=False, track_running_stats=False),
        ns.Linear(256, 10, bias=False), ns.MSELoss(), ns.CrossEntropyLoss(label_smoothing=0.1), ns.NLLLoss(),
        ns.BCEWithLogitsLoss(), ns.BCELoss(), ns.L1Loss(),
        ns.Sequential(OrderedDict([("fc", ns.Linear(2, 2)), ("act", ns.ReLU())])),
        ns.ModuleList([ns.Linear(3, 3), ns.Linear(3, 3), ns.Linear(3, 3), ns.ReLU(), ns.Linear(3, 3)]),
        ns.ModuleList(), ns.ModuleDict({"x": ns.Tanh(), "y": ns.Sequential(ns.Linear(1, 1))}),
    )


def test_repr_matches_torch_text():
    torch = pytest.importorskip("torch")
    ours, theirs = repr(_all_layers(nn)), repr(_all_layers(torch.nn)).replace("torch", "gradcore")
    assert ours == theirs

    def make_custom(ns):
        class Custom(ns.Module):
            def __init__(self):
                super().__init__()
                self.body = ns.Sequential(ns.Linear(4, 4), ns.ReLU())
                self.head = ns.Linear(4, 1)
                self.drop = ns.Dropout()
        return Custom()

    assert repr(make_custom(nn)) == repr(make_custom(torch.nn))


def test_repr_text_without_torch():
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    assert repr(mlp) == ("Sequential(\n"
                         "  (0): Linear(in_features=784, out_features=256, bias=True)\n"
                         "  (1): ReLU()\n"
                         "  (2): Linear(in_features=256, out_features=10, bias=True)\n"
                         ")")
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == \
        "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)"

    class Multi(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    m = Multi()
    m.child = nn.Identity()
    assert repr(m) == "Multi(\n  a=1\n  b=2\n  (child): Identity()\n)"


# ---- Parameter ----

def test_parameter_basics():
    data = gradcore.randn(2, 3)
    p = nn.Parameter(data)
    assert isinstance(p, gradcore.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    with gradcore.no_grad():
        p.add_(1)
    assert_close(data, p)  # shares storage with the data it wraps
    assert not nn.Parameter(gradcore.zeros(2), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    s = nn.Parameter(gradcore.tensor(2.0))
    assert s.dim() == 0
    (s * 3).backward()
    assert s.grad.item() == 3
    assert type(p * 2) is gradcore.Tensor and type(p.detach()) is gradcore.Tensor
    assert repr(p) == "Parameter containing:\n" + repr(gradcore.tensor(p.detach().numpy(), requires_grad=True))
    assert str(p) == repr(p)
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(gradcore.zeros(2, dtype=gradcore.int64))
    assert not nn.Parameter(gradcore.zeros(2, dtype=gradcore.int64), requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="Tensor"):
        nn.Parameter([1.0, 2.0])


def test_parameter_repr_matches_torch():
    torch = pytest.importorskip("torch")
    for data in ([[0.5, -1.25], [3.0, 1e-4]], 2.5, [[]]):
        ours = repr(nn.Parameter(gradcore.tensor(data)))
        assert ours == repr(torch.nn.Parameter(torch.tensor(data)))
        assert str(nn.Parameter(gradcore.tensor(data))) == str(torch.nn.Parameter(torch.tensor(data)))
    assert repr(nn.Parameter(gradcore.zeros(2), requires_grad=False)) == \
        repr(torch.nn.Parameter(torch.zeros(2), requires_grad=False))


def test_deepcopy_and_pickle_modules():
    net = Net()
    net.block.fc.weight.grad = gradcore.ones(3, 4)
    twin = copy.deepcopy(net)
    assert twin.block.fc.weight is not net.block.fc.weight
    assert isinstance(twin.block.fc.weight, nn.Parameter) and twin.block.fc.weight.requires_grad
    assert_close(twin.block.fc.weight, net.block.fc.weight)
    assert_close(twin.block.fc.weight.grad, net.block.fc.weight.grad)
    with gradcore.no_grad():
        twin.block.fc.weight.zero_()
    assert net.block.fc.weight.abs().sum().item() > 0
    back = pickle.loads(pickle.dumps(net))
    assert isinstance(back.head[1].bias, nn.Parameter)
    for k, v in net.state_dict().items():
        assert_close(back.state_dict()[k], v)
    x = gradcore.randn(4, 4)
    net.eval()
    back.eval()
    assert_close(back(x), net(x))
