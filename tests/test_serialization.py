"""gradcore.save / gradcore.load: round trips, safetensors interop, atomic writes, and refusal of
pickles and of truncated or corrupt files (fuzzed with hypothesis; GRADCORE_FUZZ_EXAMPLES raises the
number of examples)."""
import base64
import collections
import io
import json
import math
import os
import pathlib
import pickle
import random
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as hst

import gradcore
from gradcore import serialization
from gradcore.serialization import CheckpointError

PYTHON_DIR = os.path.dirname(os.path.dirname(gradcore.__file__))
EXAMPLES = int(os.environ.get("GRADCORE_FUZZ_EXAMPLES", "60"))


def optimizer_state(seed=0):
    g = gradcore.Generator().manual_seed(seed)
    return {"state": {0: {"step": gradcore.tensor(3.0), "exp_avg": gradcore.randn(4, 3, generator=g),
                          "exp_avg_sq": gradcore.rand(4, 3, generator=g)},
                      1: {"step": gradcore.tensor(3.0), "exp_avg": gradcore.randn(3, generator=g),
                          "exp_avg_sq": gradcore.rand(3, generator=g)}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False,
                              "maximize": False, "foreach": None, "params": [0, 1]}]}


def checkpoint():
    g = gradcore.Generator().manual_seed(1)
    model = collections.OrderedDict([("fc.weight", gradcore.randn(3, 4, generator=g)),
                                     ("fc.bias", gradcore.zeros(3)),
                                     ("bn.num_batches_tracked", gradcore.tensor(7))])
    return {"model": model, "optimizer": optimizer_state(), "epoch": 12, "best": 0.25, "name": "run-α",
            "history": [{"epoch": 0, "val_loss": 1.5}, {"epoch": 1, "val_loss": float("nan")}]}


def assert_same(a, b):
    """Equal values with exactly the same types, tensors compared by dtype, shape and values."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, gradcore.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.dtype == gradcore.bfloat16:  # NumPy has no bfloat16
            a, b = a.float(), b.float()
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b and (not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b))


def roundtrip(obj, tmp_path):
    path = tmp_path / "ck.safetensors"
    gradcore.save(obj, path)
    return gradcore.load(path)


def write_raw(path, header, data=b"", length=None):
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h) if length is None else length) + h + data)


# ---- round trips ----

def test_roundtrip_nested_state(tmp_path):
    ck = checkpoint()
    out = roundtrip(ck, tmp_path)
    assert_same(out, ck)
    assert type(out["model"]) is collections.OrderedDict
    assert list(out["optimizer"]["state"]) == [0, 1]  # int keys stay ints


def test_roundtrip_plain_values(tmp_path):
    obj = {"ints": [0, -5, 2**70, -(2**65)], "floats": [0.1, -0.0, 1e308, 5e-324, math.inf, -math.inf, math.nan],
           "b": [True, False], "none": None, "s": ["", "\u00e9\u4e2d\n\"'", "$tensor"], "empty": [[], {}, ()],
           "tuples": (1, (2, (3.5, "x")), []), 3: "int key", 2.5: "float key", None: "none key",
           (1, "a"): "tuple key", False: "bool key", "dtypes": [gradcore.float32, gradcore.int64, gradcore.bool],
           "dev": gradcore.device("cpu"), "np": [np.float32(1.5), np.int64(3), np.bool_(True)]}
    out = roundtrip(obj, tmp_path)
    expected = dict(obj, np=[1.5, 3, True])  # NumPy scalars come back as Python numbers
    assert_same(out, expected)
    assert out["dtypes"][0] is gradcore.float32 or out["dtypes"][0] == gradcore.float32
    assert out["dev"] == gradcore.device("cpu")
    assert roundtrip(5, tmp_path) == 5 and roundtrip(None, tmp_path) is None


def test_roundtrip_tensor_kinds(tmp_path):
    base = gradcore.arange(24, dtype=gradcore.float64).reshape(2, 3, 4)
    obj = {"f32": gradcore.randn(5, 2), "f64": base, "i64": gradcore.arange(-3, 4), "bool": gradcore.arange(5) > 2,
           "scalar": gradcore.tensor(2.5), "iscalar": gradcore.tensor(7), "empty": gradcore.zeros(0, 3),
           "empty3": gradcore.zeros(3, 0, 2, dtype=gradcore.int64), "transposed": base.transpose(0, 2),
           "narrowed": base.narrow(2, 1, 2), "expanded": gradcore.arange(3.0).unsqueeze(0).expand(4, 3),
           "np": np.arange(6, dtype=np.float16).reshape(2, 3), "np_i32": np.arange(4, dtype=np.int32)}
    out = roundtrip(obj, tmp_path)
    for k, v in obj.items():
        if isinstance(v, np.ndarray):
            assert_same(out[k], v)
            continue
        assert out[k].dtype == v.dtype and out[k].shape == v.shape, k
        assert out[k].is_contiguous() or out[k].numel() == 0, k  # the core calls empty tensors non-contiguous
        np.testing.assert_array_equal(out[k].numpy(), v.numpy())
    assert out["scalar"].dim() == 0 and out["scalar"].item() == 2.5


def test_requires_grad_is_not_saved(tmp_path):
    w = gradcore.randn(3, requires_grad=True)
    out = roundtrip({"w": w, "y": w * 2}, tmp_path)
    assert not out["w"].requires_grad and out["w"].is_leaf and out["y"].grad_fn is None
    np.testing.assert_allclose(out["y"].numpy(), (w * 2).detach().numpy())


def test_shared_tensor_stored_once_and_loaded_shared(tmp_path):
    w = gradcore.randn(4, 4)
    obj = {"encoder.weight": w, "decoder.weight": w, "view": w.view(4, 4), "row": w.select(0, 1)}
    path = tmp_path / "tied.safetensors"
    gradcore.save(obj, path)
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    assert sorted(safetensors_numpy.load_file(str(path))) == ["encoder.weight", "row"]
    out = gradcore.load(path)
    assert out["encoder.weight"] is out["decoder.weight"] is out["view"]
    np.testing.assert_array_equal(out["row"].numpy(), w.numpy()[1])


def test_file_objects_and_pathlike(tmp_path):
    buf = io.BytesIO()
    buf.write(b"prefix")
    gradcore.save(checkpoint(), buf)
    buf.seek(6)
    assert_same(gradcore.load(buf), checkpoint())
    p = pathlib.Path(tmp_path) / "p.safetensors"
    gradcore.save({"a": gradcore.ones(2)}, p)
    with open(p, "rb") as f:
        assert gradcore.load(f)["a"].tolist() == [1.0, 1.0]
    gradcore.save({"a": 1}, str(p))
    assert gradcore.load(str(p)) == {"a": 1}


def test_resume_gives_identical_state(tmp_path):
    state = optimizer_state(seed=4)
    out = roundtrip(state, tmp_path)
    assert_same(out, state)
    for k in (0, 1):
        out["state"][k]["exp_avg"].mul_(2.0)  # loaded tensors are independent, writable memory
    np.testing.assert_array_equal(state["state"][0]["exp_avg"].numpy() * 2, out["state"][0]["exp_avg"].numpy())


# ---- safetensors interop ----

def test_files_are_readable_by_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    ck = checkpoint()
    path = tmp_path / "ck.safetensors"
    gradcore.save(ck, path)
    arrays = st.load_file(str(path))
    np.testing.assert_array_equal(arrays["model.fc.weight"], ck["model"]["fc.weight"].numpy())
    np.testing.assert_array_equal(arrays["optimizer.state.1.exp_avg_sq"], ck["optimizer"]["state"][1]["exp_avg_sq"].numpy())
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata()["format"] == "gradcore"


def test_loads_files_written_by_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = str(tmp_path / "plain.safetensors")
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "h": np.array([0.5, -2], dtype=np.float16),
              "i": np.array([1, -2], dtype=np.int32), "u": np.array([7], dtype=np.uint8),
              "m": np.array([True, False]), "d": np.arange(3, dtype=np.float64)}
    st.save_file(arrays, path)
    out = gradcore.load(path)
    assert set(out) == set(arrays)
    expect = {"w": gradcore.float32, "h": gradcore.float16, "i": gradcore.int32, "u": gradcore.uint8,
              "m": gradcore.bool, "d": gradcore.float64}
    for k, a in arrays.items():
        assert out[k].dtype == expect[k]
        np.testing.assert_array_equal(out[k].numpy(), a)


def test_loads_bfloat16_from_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    t = torch.tensor([1.5, -2.25, 3e10], dtype=torch.bfloat16)
    path = str(tmp_path / "bf16.safetensors")
    st_torch.save_file({"t": t}, path)
    loaded = gradcore.load(path)["t"]
    assert loaded.dtype == gradcore.bfloat16
    np.testing.assert_array_equal(loaded.float().numpy(), t.float().numpy())


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
def test_16_bit_tensors_round_trip_and_load_in_pytorch(tmp_path, name):
    dtype = getattr(gradcore, name)
    x = gradcore.tensor([1.5, -2.25, 3.0e4, float("inf"), 1e-3]).to(dtype)
    model = gradcore.nn.Linear(3, 2).to(dtype)
    path = str(tmp_path / "half.safetensors")
    gradcore.save({"x": x, "model": model.state_dict(), "dtype": dtype}, path)
    back = gradcore.load(path)
    assert back["x"].dtype == dtype and back["dtype"] == dtype
    assert back["x"].float().tolist() == x.float().tolist()
    assert back["model"]["weight"].dtype == dtype
    np.testing.assert_array_equal(back["model"]["weight"].float().numpy(), model.weight.detach().float().numpy())
    st_torch = pytest.importorskip("safetensors.torch")  # the file is plain safetensors: PyTorch reads it
    torch = pytest.importorskip("torch")
    theirs = st_torch.load_file(path)
    x_entry = [v for k, v in theirs.items() if k.startswith("x")][0]
    assert x_entry.dtype == getattr(torch, name)
    np.testing.assert_array_equal(x_entry.float().numpy(), x.float().numpy())


DTYPE_VALUES = {
    "float32": [0.0, -0.0, 1.5, -3.25e38, 1e-45, float("inf"), float("-inf"), float("nan")],
    "float64": [0.0, -0.0, 0.1, 1.7976931348623157e308, 5e-324, float("inf"), float("-inf"), float("nan")],
    "int64": [0, -1, 2**63 - 1, -(2**63), 12345678901234],
    "bool": [True, False, True, True, False],
    "bfloat16": [0.0, -0.0, 1.5, -2.25, 3e38, 1e-40, float("inf"), float("-inf"), float("nan")],
    "float16": [0.0, -0.0, 0.5, -1e-3, 65504.0, 6e-8, float("inf"), float("-inf"), float("nan")],
}
ST_NAMES = {"float32": "F32", "float64": "F64", "int64": "I64", "bool": "BOOL", "bfloat16": "BF16", "float16": "F16"}


def bits(t):
    """A tensor's bytes as safetensors stores them (bfloat16: the high half of each float32)."""
    if t.dtype == gradcore.bfloat16:
        return (t.float().numpy().view(np.uint32) >> 16).astype("<u2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


@pytest.mark.parametrize("name", list(DTYPE_VALUES))
@pytest.mark.parametrize("shape", [(-1,), (), (0, 2), "matrix"])
def test_every_dtype_round_trips_bit_for_bit_as_standard_safetensors(tmp_path, name, shape):
    import safetensors
    dtype = getattr(gradcore, name)
    base = gradcore.tensor(DTYPE_VALUES[name], dtype=gradcore.float64 if dtype.is_floating_point else None)
    x = base.to(dtype)
    if shape == ():
        x = x[2]
    elif shape == (0, 2):
        x = x[:0].reshape(0, 1).expand(0, 2)
    elif shape == "matrix":  # a transposed view: saved contiguous
        x = x[:4].reshape(2, 2).t()
    path = str(tmp_path / "dt.safetensors")
    gradcore.save({"x": x, "nested": [{"x": x}], "dtype": dtype}, path)
    back = gradcore.load(path)
    assert back["dtype"] == dtype and back["nested"][0]["x"] is back["x"]
    y = back["x"]
    assert y.dtype == dtype and tuple(y.shape) == tuple(x.shape)
    assert bits(y) == bits(x.contiguous())  # NaN, -0.0 and subnormals kept exactly
    # what safetensors itself reads from the file
    (entry,) = [v for k, v in safetensors.deserialize(open(path, "rb").read()) if k == "x"]
    assert entry["dtype"] == ST_NAMES[name] and entry["shape"] == list(x.shape)
    assert bytes(entry["data"]) == bits(x.contiguous())
    with safetensors.safe_open(path, framework="numpy") as f:
        assert f.metadata()["format"] == "gradcore"
        if name != "bfloat16":  # NumPy has no bfloat16
            np.testing.assert_array_equal(f.get_tensor("x"), x.numpy())
    if name != "bfloat16":
        import safetensors.numpy
        np.testing.assert_array_equal(safetensors.numpy.load_file(path)["x"], x.numpy())


# Written by gradcore.save before it used the safetensors package: files from then keep loading.
OLD_WRITER_FILE = base64.b64decode(
    "EAMAAAAAAAB7ImJmMTYiOnsiZHR5cGUiOiJCRjE2Iiwic2hhcGUiOls0XSwiZGF0YV9vZmZzZXRzIjpbMCw4XX0sImYxNiI6"
    "eyJkdHlwZSI6IkYxNiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzgsMTRdfSwiZjY0Ijp7ImR0eXBlIjoiRjY0Iiwi"
    "c2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMTQsMzBdfSwiaTY0Ijp7ImR0eXBlIjoiSTY0Iiwic2hhcGUiOlsxLDJdLCJk"
    "YXRhX29mZnNldHMiOlszMCw0Nl19LCJiIjp7ImR0eXBlIjoiQk9PTCIsInNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6WzQ2"
    "LDQ4XX0sIm9kLnciOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6W10sImRhdGFfb2Zmc2V0cyI6WzQ4LDUyXX0sIl9fbWV0YWRh"
    "dGFfXyI6eyJmb3JtYXQiOiJncmFkY29yZSIsImdyYWRjb3JlLnZlcnNpb24iOiIxIiwiZ3JhZGNvcmUuc3RydWN0dXJlIjoi"
    "e1wiZGljdFwiOltbXCJiZjE2XCIse1widGVuc29yXCI6XCJiZjE2XCJ9XSxbXCJmMTZcIix7XCJ0ZW5zb3JcIjpcImYxNlwi"
    "fV0sW1wiZjY0XCIse1widGVuc29yXCI6XCJmNjRcIn1dLFtcImk2NFwiLHtcInRlbnNvclwiOlwiaTY0XCJ9XSxbXCJiXCIs"
    "e1widGVuc29yXCI6XCJiXCJ9XSxbXCJvZFwiLHtcIm9kaWN0XCI6W1tcIndcIix7XCJ0ZW5zb3JcIjpcIm9kLndcIn1dXX1d"
    "LFtcInN0YXRlXCIse1wiZGljdFwiOltbMCx7XCJkaWN0XCI6W1tcInN0ZXBcIiwzXV19XV19XSxbXCJ0XCIse1widHVwbGVc"
    "IjpbMSxudWxsLHtcImZsb2F0XCI6XCJuYW5cIn1dfV0sW1wiZHRcIix7XCJkdHlwZVwiOlwiYmZsb2F0MTZcIn1dXX0ifX0g"
    "wD8QwOBQgH8AOBmUU3uamZmZmZm5PwAAAAAAAADAAwAAAAAAAAD8/////////wEAAAAgQA==")


def test_files_from_the_previous_writer_still_load():
    out = gradcore.load(io.BytesIO(OLD_WRITER_FILE))
    assert list(out) == ["bf16", "f16", "f64", "i64", "b", "od", "state", "t", "dt"]
    assert out["bf16"].dtype == gradcore.bfloat16
    assert out["bf16"].float().tolist() == gradcore.tensor([1.5, -2.25, 3e10, math.inf]).bfloat16().float().tolist()
    assert out["f16"].dtype == gradcore.float16
    assert out["f16"].tolist() == gradcore.tensor([0.5, -1e-3, 6e4]).half().tolist()
    assert out["f64"].dtype == gradcore.float64 and out["f64"].tolist() == [0.1, -2.0]
    assert out["i64"].tolist() == [[3, -4]] and out["b"].tolist() == [True, False]
    assert type(out["od"]) is collections.OrderedDict and out["od"]["w"].item() == 2.5
    assert out["state"] == {0: {"step": 3}} and out["t"][:2] == (1, None) and math.isnan(out["t"][2])
    assert out["dt"] == gradcore.bfloat16
    buf = io.BytesIO()  # and the new writer writes the same object back
    gradcore.save(out, buf)
    assert_same(gradcore.load(io.BytesIO(buf.getvalue())), out)


def test_safetensors_is_imported_by_save_and_load_only(tmp_path, monkeypatch):
    code = ("import sys, gradcore; assert 'safetensors' not in sys.modules; "
            "gradcore.save({'w': gradcore.ones(2)}, sys.argv[1]); assert 'safetensors' in sys.modules")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.safetensors")], check=True,
                   env=dict(os.environ, PYTHONPATH=PYTHON_DIR))
    path = tmp_path / "b.safetensors"
    gradcore.save({"w": gradcore.ones(2)}, path)
    monkeypatch.setitem(sys.modules, "safetensors", None)  # as if it were not installed
    with pytest.raises(ImportError, match="gradcore.save needs the safetensors package.*pip install safetensors"):
        gradcore.save({"w": gradcore.ones(2)}, path)
    with pytest.raises(ImportError, match="gradcore.load needs the safetensors package.*pip install safetensors"):
        gradcore.load(path)
    monkeypatch.undo()
    assert gradcore.load(path)["w"].tolist() == [1.0, 1.0]


# ---- map_location ----

def cuda_checkpoint(path):
    """A checkpoint whose tensor was saved from cuda:0 (written by hand: this build has no GPU)."""
    gradcore.save({"w": gradcore.ones(2)}, path)
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    structure = json.loads(header["__metadata__"]["gradcore.structure"])
    structure["dict"][0][1]["device"] = "cuda:0"
    header["__metadata__"]["gradcore.structure"] = json.dumps(structure)
    write_raw(path, header, raw[8 + n:])


def test_map_location(tmp_path):
    path = tmp_path / "ck.safetensors"
    gradcore.save({"w": gradcore.ones(2)}, path)
    for loc in ("cpu", gradcore.device("cpu"), {"cpu": "cpu"}):
        assert gradcore.load(path, map_location=loc)["w"].device.type == "cpu"
    seen = []
    out = gradcore.load(path, map_location=lambda t, loc: seen.append(loc) or t * 2)
    assert seen == ["cpu"] and out["w"].tolist() == [2.0, 2.0]
    cuda_checkpoint(path)
    if not gradcore.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location='cpu'"):
            gradcore.load(path)
    assert gradcore.load(path, map_location="cpu")["w"].device.type == "cpu"
    assert gradcore.load(path, map_location={"cuda:0": "cpu"})["w"].tolist() == [1.0, 1.0]


# ---- refusing pickles ----

def test_pickle_files_are_refused_without_unpickling(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    with open(path, "wb") as f:
        pickle.dump({"w": [1.0, 2.0]}, f)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("gradcore.load unpickled something")

    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "Unpickler", no_unpickling)
    with pytest.raises(RuntimeError, match=r"model\.pt: not a gradcore/safetensors checkpoint: it is a pickle.*"
                                           r"gradcore\.load never unpickles"):
        gradcore.load(path)
    with open(path, "wb") as f:
        f.write(b"(dp0\nS'w'\np1\nI1\ns.")  # protocol 0 pickle
    with pytest.raises(RuntimeError, match="never unpickles"):
        gradcore.load(path)


def test_torch_save_files_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pth"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(RuntimeError, match="zip archive.*never unpickles"):
        gradcore.load(path, weights_only=False)
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="pickle.*never unpickles"):
        gradcore.load(path)
    np.save(tmp_path / "a.npy", np.ones(3))
    with pytest.raises(RuntimeError, match="NumPy .npy file"):
        gradcore.load(tmp_path / "a.npy")


# ---- save errors ----

def test_save_rejects_unsupported_objects_before_touching_the_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    gradcore.save({"v": 1}, path)
    with pytest.raises(TypeError, match=r"object at obj\['a'\]\[1\].*state_dict"):
        gradcore.save({"a": [1, object()]}, path)
    with pytest.raises(TypeError, match="dict key of type frozenset"):
        gradcore.save({frozenset(): 1}, path)
    with pytest.raises(TypeError, match="NumPy array of dtype complex128"):
        gradcore.save({"z": np.zeros(2, dtype=complex)}, path)
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        gradcore.save({"loop": loop}, path)
    assert gradcore.load(path) == {"v": 1} and os.listdir(tmp_path) == ["ck.safetensors"]
    monkeypatch.setattr(serialization, "_MAX_HEADER", 1000)
    with pytest.raises(ValueError, match="more than a safetensors header may hold"):
        gradcore.save({"losses": [0.5] * 1000}, path)
    monkeypatch.undo()
    assert gradcore.load(path) == {"v": 1} and os.listdir(tmp_path) == ["ck.safetensors"]
    with pytest.raises(RuntimeError, match="parent directory .* does not exist"):
        gradcore.save({}, tmp_path / "missing" / "ck.safetensors")
    with pytest.raises(TypeError, match="expected a path or a binary file object"):
        gradcore.save({}, 3)
    with pytest.raises(TypeError, match="expected a path or a binary file object"):
        gradcore.load(3)


# ---- atomic writes ----

def old_and_new(tmp_path):
    path = tmp_path / "ck.safetensors"
    old = {"version": 1, "w": gradcore.zeros(1000)}
    gradcore.save(old, path)
    return path, old, {"version": 2, "w": gradcore.ones(1000)}


def assert_only_old_left(tmp_path, path, old):
    assert_same(gradcore.load(path), old)
    assert os.listdir(tmp_path) == [path.name], "the temporary file was not removed"


@pytest.mark.parametrize("failure", ["replace", "fsync", "write", "interrupt"])
def test_failed_save_leaves_the_previous_file(tmp_path, monkeypatch, failure):
    path, old, new = old_and_new(tmp_path)
    real_write = serialization._write_file

    def half_write(st, specs, metadata, tmp):
        real_write(st, specs, metadata, tmp)
        with open(tmp, "r+b") as f:
            f.truncate(os.path.getsize(tmp) // 2)
        raise OSError(28, "No space left on device")

    def interrupted(st, specs, metadata, tmp):
        real_write(st, specs, metadata, tmp)
        raise KeyboardInterrupt

    def fail(*args, **kwargs):
        raise OSError(5, f"simulated {failure} failure")

    target = {"replace": (os, "replace", fail), "fsync": (os, "fsync", fail),
              "write": (serialization, "_write_file", half_write),
              "interrupt": (serialization, "_write_file", interrupted)}[failure]
    monkeypatch.setattr(*target)
    with pytest.raises(KeyboardInterrupt if failure == "interrupt" else OSError):
        gradcore.save(new, path)
    monkeypatch.undo()
    assert_only_old_left(tmp_path, path, old)
    gradcore.save(new, path)
    assert_same(gradcore.load(path), new)


def test_a_serializer_failure_leaves_the_previous_file(tmp_path, monkeypatch):
    import safetensors
    path, old, new = old_and_new(tmp_path)

    def broken(*args, **kwargs):
        raise safetensors.SafetensorError("simulated failure")

    monkeypatch.setattr(safetensors, "serialize", broken)
    monkeypatch.setattr(safetensors, "serialize_file", broken)
    with pytest.raises(RuntimeError, match="gradcore.save: safetensors could not serialize.*simulated failure"):
        gradcore.save(new, path)
    with pytest.raises(RuntimeError, match="gradcore.save: safetensors could not serialize.*simulated failure"):
        gradcore.save(new, io.BytesIO())
    monkeypatch.undo()
    assert_only_old_left(tmp_path, path, old)


def test_overwrite_keeps_permissions_and_new_files_follow_umask(tmp_path):
    path, _, new = old_and_new(tmp_path)
    os.chmod(path, 0o640)
    gradcore.save(new, path)
    assert os.stat(path).st_mode & 0o777 == 0o640
    umask = os.umask(0o022)
    os.umask(umask)
    gradcore.save(new, tmp_path / "fresh.safetensors")
    assert os.stat(tmp_path / "fresh.safetensors").st_mode & 0o777 == 0o666 & ~umask


SAVER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {python_dir!r})
    import gradcore
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "pause":  # stop inside save, after the data is written and before the rename
        real_fsync = os.fsync
        def slow_fsync(fd):
            real_fsync(fd)
            print("in-fsync", flush=True)
            time.sleep(60)
        os.fsync = slow_fsync
    print("ready", flush=True)
    v = 2
    while True:
        gradcore.save({{"version": v, "w": gradcore.full((4_000_000,), float(v))}}, path)
        v += 1
""")


def run_saver(path, mode):
    return subprocess.Popen([sys.executable, "-c", SAVER.format(python_dir=PYTHON_DIR), str(path), mode],
                            stdout=subprocess.PIPE, text=True)


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL")
def test_sigkill_mid_save_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "ck.safetensors"
    gradcore.save({"version": 1, "w": gradcore.full((4_000_000,), 1.0)}, path)
    proc = run_saver(path, "pause")
    assert proc.stdout.readline().strip() == "ready"
    assert proc.stdout.readline().strip() == "in-fsync"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = gradcore.load(path)
    assert out["version"] == 1 and out["w"].shape == (4_000_000,) and float(out["w"].sum()) == 4_000_000
    # Kills at arbitrary moments of repeated 16 MB saves: the file is always one complete version.
    rng = random.Random(0)
    for _ in range(4):
        proc = run_saver(path, "loop")
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        out = gradcore.load(path)
        w = out["w"].numpy()
        assert w.shape == (4_000_000,) and (w == out["version"]).all()


# ---- truncated and corrupt files ----

def saved_bytes():
    buf = io.BytesIO()
    gradcore.save(checkpoint(), buf)
    return buf.getvalue()


def test_truncated_files_raise_clean_errors(tmp_path):
    raw = saved_bytes()
    path = tmp_path / "cut.safetensors"
    cuts = sorted(set(range(0, 80)) | set(range(0, len(raw), 37)) | {len(raw) - 1})
    for cut in cuts:
        path.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match=r"cut\.safetensors: "):
            gradcore.load(path)
    with pytest.raises(CheckpointError, match="empty or truncated"):
        path.write_bytes(b"")
        gradcore.load(path)


def test_random_corruption_never_escapes_as_another_error(tmp_path):
    raw = saved_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    rng = random.Random(0)
    outcomes = collections.Counter()
    for trial in range(400):
        data = bytearray(raw)
        # Most flips land in the header and its JSON structure, where the parser must cope.
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(8 + n) if trial % 4 else rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        try:
            gradcore.load(io.BytesIO(bytes(data)))
            outcomes["loaded"] += 1
        except CheckpointError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 200


@pytest.mark.parametrize("length", [2**63 + 5, 2**40, 10**9])
def test_huge_header_length_is_refused_without_allocating(tmp_path, length):
    path = tmp_path / "huge.safetensors"
    write_raw(path, {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, length=length)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="header length field says"):
            gradcore.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("header,data,match", [
    ({"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 4]}}, b"\0" * 4, "need another number of bytes than"),
    ({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 2**40]}}, b"\0" * 4, "data_offsets"),
    ({"w": {"dtype": "F8_E5M2", "shape": [8], "data_offsets": [0, 8]}}, b"\0" * 8, "unsupported dtype 'F8_E5M2'"),
    # older safetensors releases do not know C64; newer ones do, and gradcore does not read it
    ({"w": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8,
     "unsupported dtype 'C64'|not a valid safetensors header"),
    ({"w": {"dtype": "XYZ", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8, "not a valid safetensors header"),
    ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "non-negative ints"),
    ({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, b"\0" * 4, "non-negative ints"),
    ({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4, "not a valid safetensors header.*data_offsets"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "overlapping or missing"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8, "data section is 8 bytes"),
    ({"w": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x07", "bytes other than 0 and 1"),
    ({"w": {"dtype": "U64", "shape": [1], "data_offsets": [0, 8]}}, b"\xff" * 8, "do not fit"),
    ({"__metadata__": {"format": 3}}, b"", "must map strings to strings"),
    ({"__metadata__": {"gradcore.structure": "{\"tensor\": \"nope\"}"}}, b"", "does not hold"),
    ({"__metadata__": {"gradcore.structure": "{\"pickle\": \"x\"}"}}, b"", "unexpected 'pickle' entry"),
    ({"__metadata__": {"gradcore.structure": "{\"device\": \"tpu:9\"}"}}, b"", "invalid device"),
    ({"__metadata__": {"gradcore.structure": "{\"dict\": [[[1], 2]]}"}}, b"", "a dict key is a list"),
    ({"__metadata__": {"gradcore.structure": "{\"dict\": [1]}"}}, b"", "not a \\[key, value\\] pair"),
    ({"__metadata__": {"gradcore.structure": "[" * 100000}}, b"", "corrupt|too deeply"),
    ({"__metadata__": {"gradcore.structure": "1", "gradcore.version": "9"}}, b"", "format '9'"),
])
def test_invalid_headers_raise_clean_errors(tmp_path, header, data, match):
    path = tmp_path / "bad.safetensors"
    write_raw(path, header, data)
    with pytest.raises(CheckpointError, match=match):
        gradcore.load(path)


def test_malformed_json_headers(tmp_path):
    path = tmp_path / "bad.safetensors"
    for body, match in [(b"{not json", "not valid JSON"), (b"{\"a\": 1, \"a\": 2}", "not a valid safetensors header"),
                        (b"{\"a\": \xff}", "not valid UTF-8"), (b"[1, 2]", "not a JSON object|not a gradcore")]:
        path.write_bytes(struct.pack("<Q", len(body)) + body)
        with pytest.raises(CheckpointError, match=match):
            gradcore.load(path)


# ---- fuzzed corrupt files: every one is loaded or refused with a CheckpointError naming it ----

def load_or_refuse(data, name="fuzz.safetensors"):
    """Loads ``data``; a refusal must be a CheckpointError that names the file. Returns the loaded
    object, or None when refused."""
    buf = io.BytesIO(data)
    buf.name = name
    try:
        return gradcore.load(buf)
    except CheckpointError as e:
        assert str(e).startswith(f"gradcore.load: {name}: "), str(e)
        assert len(str(e)) > len(name) + 30  # says what is wrong, not just that something is
        return None


def small_checkpoint_bytes():
    buf = io.BytesIO()
    gradcore.save({"w": gradcore.arange(6.0).reshape(2, 3), "h": gradcore.tensor([1.5, -2.0]).bfloat16(),
                   "f": gradcore.tensor([0.5]).half(), "m": gradcore.tensor([True, False]),
                   "i": gradcore.tensor([7, -8]), "opt": {"step": 3, "lr": 0.1, "betas": (0.9, 0.999)}}, buf)
    return buf.getvalue()


SMALL = small_checkpoint_bytes()
SMALL_N = struct.unpack("<Q", SMALL[:8])[0]


def raw_file(header, data=b"", length=None):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + data


@settings(max_examples=EXAMPLES, deadline=None)
@given(hst.integers(0, len(SMALL) - 1))
def test_fuzz_truncated_files(cut):
    assert load_or_refuse(SMALL[:cut]) is None


@settings(max_examples=EXAMPLES * 4, deadline=None)
@given(hst.lists(hst.tuples(hst.integers(0, 8 + SMALL_N - 1), hst.integers(0, 255)), min_size=1, max_size=6))
def test_fuzz_byte_flips_in_the_header(flips):
    data = bytearray(SMALL)
    for pos, value in flips:
        data[pos] = value
    load_or_refuse(bytes(data))


@settings(max_examples=EXAMPLES, deadline=None)
@given(hst.integers(len(SMALL) - 8 + 1, 2**64 - 1))
@example(0x0580)  # pickle protocol 5's magic in the first two bytes
def test_fuzz_header_length_past_the_end(length):
    head = struct.pack("<Q", length)
    # a length whose first bytes are another format's magic (0x0580 starts pickle protocol 5) is
    # named as that format; every other one by the length field
    expected = "it is a" if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05") or \
        head[:4] == b"PK\x03\x04" or head[:6] == b"\x93NUMPY" else "header length field says"
    with pytest.raises(CheckpointError, match=expected):
        gradcore.load(io.BytesIO(head + SMALL[8:]))


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(hst.one_of(hst.binary(max_size=300).map(lambda b: b"{" + b),
                  hst.text(max_size=300).map(lambda t: ("{" + t).encode("utf-8", "surrogatepass")),
                  hst.recursive(hst.none() | hst.booleans() | hst.integers() | hst.floats() | hst.text(max_size=8),
                                lambda kids: hst.lists(kids, max_size=4) | hst.dictionaries(hst.text(max_size=8), kids,
                                                                                            max_size=4),
                                max_leaves=20).map(lambda v: json.dumps({"w": v}).encode())),
       hst.binary(max_size=64))
def test_fuzz_bad_json_headers(header, data):
    out = load_or_refuse(raw_file(header, data))
    assert out is None or isinstance(out, dict)  # the few valid ones (e.g. "{}") load as dicts of tensors


@settings(max_examples=EXAMPLES, deadline=None)
@given(hst.text(min_size=0, max_size=12).filter(lambda d: d not in serialization._ST_TO_NP))
def test_fuzz_wrong_dtype_names(dtype):
    header = {"w": {"dtype": dtype, "shape": [2], "data_offsets": [0, 8]}}
    assert load_or_refuse(raw_file(header, b"\0" * 8)) is None


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(hst.lists(hst.tuples(hst.sampled_from(["F32", "F64", "I64", "BOOL", "BF16", "F16", "U8", "I32"]),
                            hst.lists(hst.integers(-2, 6), max_size=3),
                            hst.integers(-4, 70), hst.integers(-4, 70)), min_size=1, max_size=4),
       hst.integers(0, 64))
def test_fuzz_shapes_and_offsets(entries, data_size):
    """Overlapping, out-of-range, reversed and gapped offsets, and shapes that do not match them: a
    file loads only when its tensors tile the data section exactly, and then with those bytes."""
    data = bytes(random.Random(data_size).randrange(2) for _ in range(data_size))  # 0/1: valid bools
    header = {f"t{i}": {"dtype": d, "shape": shape, "data_offsets": [b, e]} for i, (d, shape, b, e) in enumerate(entries)}
    out = load_or_refuse(raw_file(header, data))
    if out is None:
        return
    spans = sorted(tuple(info["data_offsets"]) for info in header.values())
    assert spans[0][0] == 0 and spans[-1][1] == data_size and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    for tname, info in header.items():
        begin, end = info["data_offsets"]
        assert list(out[tname].shape) == info["shape"]
        if info["dtype"] in ("F32", "F64", "BOOL", "F16"):
            np_dtype = {"F32": "<f4", "F64": "<f8", "BOOL": "|b1", "F16": "<f2"}[info["dtype"]]
            assert out[tname].numpy().tobytes() == np.frombuffer(data[begin:end], np_dtype).tobytes()


def test_a_panic_inside_safetensors_becomes_a_checkpoint_error(monkeypatch):
    import safetensors

    class PanicException(BaseException):  # how a Rust panic reaches Python (pyo3_runtime.PanicException)
        pass

    def panics(data):
        raise PanicException("index out of bounds")

    monkeypatch.setattr(safetensors, "deserialize", panics)
    with pytest.raises(CheckpointError, match="fuzz.safetensors: .*index out of bounds"):
        buf = io.BytesIO(SMALL)
        buf.name = "fuzz.safetensors"
        gradcore.load(buf)
