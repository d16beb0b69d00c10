"""``import mnist1d_hf.compat.alias``: one line, and code written for the reference package runs on the compat.

The client here is shaped like the reference repository's ``notebooks/train.py`` (which six of its notebooks
import) and a notebook that uses it: every import form of the reference package, a training loop after
``set_seed``. It runs in fresh interpreters, once on the reference and once with the line added; the outputs
must be the same, number for number.
"""

import json
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
ALIAS_LINE = "import mnist1d_hf.compat.alias\n"

TRAIN_PY = '''
"""Model arguments and a training loop, as the reference repository's notebooks/train.py."""
import time, copy
import numpy as np
import torch
import torch.nn as nn

from mnist1d.utils import ObjectView


def get_model_args(as_dict=False):
    arg_dict = {"input_size": 40, "output_size": 10, "hidden_size": 64, "learning_rate": 1e-1, "batch_size": 100,
                "total_steps": 200, "print_every": 100, "eval_every": 50, "checkpoint_every": 100, "device": "cpu",
                "seed": 42}
    return arg_dict if as_dict else ObjectView(arg_dict)


def accuracy(model, inputs, targets):
    preds = model(inputs).argmax(-1).cpu().numpy()
    return 100 * sum(preds == targets.cpu().numpy()) / len(targets)


def sgd_step(model, learning_rate):
    """Plain SGD by hand: torch.optim's first use imports torch._dynamo, seconds per fresh interpreter."""
    with torch.no_grad():
        for p in model.parameters():
            p -= learning_rate * p.grad
            p.grad = None


def train_model(dataset, model, args):
    criterion = nn.CrossEntropyLoss()
    x_train, x_test = torch.Tensor(dataset["x"]), torch.Tensor(dataset["x_test"])
    y_train, y_test = torch.LongTensor(dataset["y"]), torch.LongTensor(dataset["y_test"])
    results = {"checkpoints": [], "train_losses": [], "test_losses": [], "train_acc": [], "test_acc": []}
    for step in range(args.total_steps + 1):
        bix = (step * args.batch_size) % len(x_train)
        x, y = x_train[bix:bix + args.batch_size], y_train[bix:bix + args.batch_size]
        loss = criterion(model(x), y)
        results["train_losses"].append(loss.item())
        loss.backward(); sgd_step(model, args.learning_rate)
        if step % args.eval_every == 0:
            results["test_losses"].append(criterion(model(x_test), y_test).item())
            results["train_acc"].append(float(accuracy(model, x_train, y_train)))
            results["test_acc"].append(float(accuracy(model, x_test, y_test)))
        if step > 0 and step % args.print_every == 0:
            print("step {}, train_loss {:.3e}, test_acc {:.1f}".format(step, loss.item(), results["test_acc"][-1]))
        if step % args.checkpoint_every == 0:
            results["checkpoints"].append(copy.deepcopy(model))
    return results
'''

NOTEBOOK_PY = '''
import json, sys
import numpy as np
import torch
torch.set_num_threads(1)  # two threads on two shared cores are many times slower

import mnist1d
from mnist1d.data import get_dataset, get_dataset_args
from mnist1d.utils import ObjectView, set_seed, to_pickle, from_pickle
from mnist1d.transform import interpolate
import mnist1d.data
from train import get_model_args, train_model

torch.manual_seed(1)
args = get_dataset_args()
args.num_samples = 500
data = get_dataset(args, path="./mnist1d_data.pkl", download=False, regenerate=True)
data = get_dataset(args, path="./mnist1d_data.pkl", download=False)
model_args = get_model_args()
set_seed(model_args.seed)
model = torch.nn.Sequential(torch.nn.Linear(40, model_args.hidden_size), torch.nn.ReLU(),
                            torch.nn.Linear(model_args.hidden_size, 10))
results = train_model(data, model, model_args)
to_pickle({"args": args, "train_losses": results["train_losses"]}, "results.pkl")
back = from_pickle("results.pkl")
view = ObjectView({"a": 1})
report = {
    "train_losses": back["train_losses"], "test_acc": results["test_acc"], "num_samples": back["args"].num_samples,
    "x_sum": float(np.sum(data["x"])), "y": data["y"][:20].tolist(), "t": data["t"].tolist(),
    "interpolated": interpolate(data["x"][:3], N=7).tolist(), "numpy_next": np.random.rand(2).tolist(),
    "transform": mnist1d.transform(data["templates"]["x"][0], data["templates"]["t"], args)[0].tolist(),
    "view": view.a, "same_data_module": mnist1d.data.get_dataset is get_dataset,
}
print(json.dumps(report))
print(mnist1d.__file__, mnist1d.data.__name__, type(view).__module__, file=sys.stderr)
'''


def run_client(folder: Path, with_alias: bool) -> subprocess.Popen:
    folder.mkdir()
    (folder / "train.py").write_text(TRAIN_PY)
    (folder / "notebook.py").write_text((ALIAS_LINE if with_alias else "") + NOTEBOOK_PY)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return subprocess.Popen([sys.executable, "notebook.py"], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finished(process: subprocess.Popen) -> tuple[str, str]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out, err


def test_a_train_py_client_runs_unchanged_after_the_one_line(tmp_path):
    # both interpreters at once: each spends most of its time importing torch
    theirs, ours = run_client(tmp_path / "reference", False), run_client(tmp_path / "compat", True)
    (ref_out, ref_err), (our_out, our_err) = finished(theirs), finished(ours)
    assert "site-packages/mnist1d/__init__.py mnist1d.data mnist1d.utils" in ref_err
    assert "mnist1d_hf/compat/__init__.py mnist1d_hf.compat.data mnist1d_hf.compat.utils" in our_err
    assert our_out == ref_out  # every printed line: the messages, the progress and the report
    lines = our_out.splitlines()
    assert lines[:2] == ["Did or could not load data from ./mnist1d_data.pkl. Rebuilding dataset...",
                         "Successfully loaded data from ./mnist1d_data.pkl"]
    report = json.loads(lines[-1])
    assert len(report["train_losses"]) == 201 and report["train_losses"][-1] < report["train_losses"][0]
    assert report["num_samples"] == 500 and report["view"] == 1 and report["same_data_module"]
    assert (tmp_path / "compat" / "mnist1d_data.pkl.config.json").is_file()


def test_the_line_refuses_when_the_reference_is_already_imported():
    code = "import mnist1d\nimport mnist1d_hf.compat.alias\n"
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: mnist1d is already imported (from ")
    assert "import mnist1d_hf.compat.alias before anything imports mnist1d" in last


IMPORT_FORMS = """
import mnist1d
import mnist1d.data as d
assert d.__name__ == "mnist1d_hf.compat.data" and mnist1d.data is d
from mnist1d.transform import pad, shear, translate, corr_noise_like, iid_noise_like, interpolate, transform
from mnist1d import get_dataset, get_dataset_args, get_templates, to_pickle, from_pickle, ObjectView, set_seed
from mnist1d import plot_signals, transform
import mnist1d_hf.compat.alias  # a second time: nothing changes
import mnist1d.utils as u
assert u.set_seed.__module__ == "mnist1d_hf.compat.utils" and mnist1d.utils is u
import sys
assert sys.modules["mnist1d.transform"].interpolate is interpolate
assert "matplotlib.pyplot" not in sys.modules, "the alias imported pyplot"
print("ok")
"""


def test_every_import_form_resolves_to_the_compat():
    result = subprocess.run([sys.executable, "-c", ALIAS_LINE + IMPORT_FORMS],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
