"""Sequences shaped like the clients' notebooks, run on the reference package and on the compat, bit for bit.

A notebook loads the data, tweaks args, regenerates, reloads, converts to tensors, seeds with ``set_seed``,
trains, plots and pickles its results; every number it sees, every line it prints, the figure it saves and the
global random generators it leaves behind must be the reference's.
"""

import contextlib
import inspect
import io
import random

import matplotlib.image
import matplotlib.pyplot as plt
import mnist1d as reference
import numpy as np
import pytest
import torch

from mnist1d_hf import compat
from mnist1d_hf.compat.data import MNIST1DCompatWarning

PACKAGES = {"reference": reference, "compat": compat}
STEPS = 300
KEYS = ("x", "x_test", "y", "y_test", "t")


def notebook(m, folder, monkeypatch):
    """A textbook notebook's life, on package ``m``; returns what it saw and printed."""
    monkeypatch.chdir(folder)
    plt.close("all")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        torch.manual_seed(0)                                       # the notebook seeds torch itself, early
        args = m.get_dataset_args()
        args.num_samples = 1000
        first = m.get_dataset(args, download=False, regenerate=True)      # ./mnist1d_data.pkl
        args.shuffle_seq, args.seed = True, 3                             # tweak, regenerate elsewhere, reload
        m.get_dataset(args, path="./shuffled.pkl", download=False, regenerate=True)
        data = m.get_dataset(args, path="./shuffled.pkl", download=False)
        first_args = m.get_dataset_args()                                 # and the first file, reloaded
        first_args.num_samples = 1000
        again = m.get_dataset(first_args, path="./mnist1d_data.pkl", download=False)
        m.set_seed(42)                                             # before the model, as the book's notebooks
        x, x_test = torch.Tensor(data["x"]), torch.Tensor(data["x_test"])
        y, y_test = torch.LongTensor(data["y"]), torch.LongTensor(data["y_test"])
        model = torch.nn.Sequential(torch.nn.Linear(40, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
        optimizer = torch.optim.Adam(model.parameters(), 1e-2)
        losses = []
        for _ in range(STEPS):
            batch = torch.as_tensor(np.random.choice(len(x), 100))    # numpy-drawn batches follow set_seed
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        accuracy = (model(x_test).argmax(-1) == y_test).float().mean().item()
        fig = m.plot_signals(data["x"], data["t"], labels=data["y"])
        figures = plt.get_fignums()
        png = io.BytesIO()
        plt.savefig(png, format="png")
        plt.close("all")
        m.to_pickle({"args": vars(args), "losses": np.asarray(losses), "accuracy": accuracy}, "results.pkl")
    return {"first": first, "data": data, "again": again, "losses": losses, "accuracy": accuracy,
            "weights": [p.detach().clone() for p in model.parameters()], "figures": figures, "fig": fig,
            "png": png.getvalue(), "printed": out.getvalue(), "after": (np.random.rand(3), random.random())}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The notebook on both packages, once per module (each trains a model, on one thread: two threads on two
    shared cores run it ten times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            return {name: (notebook(m, tmp_path_factory.mktemp(name), monkeypatch), m)
                    for name, m in PACKAGES.items()}
    finally:
        torch.set_num_threads(threads)


def test_the_data_it_sees_are_the_references(runs):
    ours, theirs = runs["compat"][0], runs["reference"][0]
    for name in ("first", "data", "again"):  # "again" is "first" reloaded from its file
        for key in KEYS:
            assert ours[name][key].dtype == theirs[name][key].dtype
            np.testing.assert_array_equal(ours[name][key], theirs[name][key], err_msg=f"{name}[{key}]")
    assert ours["data"]["x"].shape == (800, 40)


def test_training_after_set_seed_gives_the_references_numbers(runs):
    ours, theirs = runs["compat"][0], runs["reference"][0]
    assert len(ours["losses"]) == STEPS and ours["losses"] == theirs["losses"]  # every step's loss, exactly
    assert ours["losses"][-1] < 0.5 * ours["losses"][0]  # it did learn
    assert ours["accuracy"] == theirs["accuracy"]
    for mine, ref in zip(ours["weights"], theirs["weights"]):
        assert torch.equal(mine, ref)
    np.testing.assert_array_equal(ours["after"][0], theirs["after"][0])
    assert ours["after"][1] == theirs["after"][1]


def test_it_prints_the_references_messages(runs):
    printed = runs["compat"][0]["printed"]
    assert printed == runs["reference"][0]["printed"]
    assert printed.splitlines()[0] == "Did or could not load data from ./mnist1d_data.pkl. Rebuilding dataset..."
    assert "Successfully loaded data from ./shuffled.pkl" in printed
    assert inspect.signature(compat.get_dataset).parameters["verbose"].default is True


def test_the_plot_is_registered_with_pyplot_and_saved_as_the_references(runs):
    ours, theirs = runs["compat"][0], runs["reference"][0]
    assert ours["figures"] == theirs["figures"] == [1]
    assert ours["fig"].number == 1 and len(ours["fig"].axes) == 10
    image = matplotlib.image.imread(io.BytesIO(ours["png"]))
    assert image.min() < 0.2 and image.max() > 0.8, "plt.savefig wrote a blank image"
    np.testing.assert_array_equal(image, matplotlib.image.imread(io.BytesIO(theirs["png"])))


@pytest.mark.parametrize("writer,reader", [("reference", "compat"), ("compat", "reference")])
def test_a_results_pickle_written_by_one_package_is_read_by_the_other(runs, tmp_path_factory, writer, reader):
    folder = tmp_path_factory.getbasetemp()
    written = sorted(folder.glob(f"{writer}*/results.pkl"))[0]
    got = PACKAGES[reader].from_pickle(str(written))
    np.testing.assert_array_equal(got["losses"], runs[writer][0]["losses"])
    assert got["args"]["shuffle_seq"] is True and got["accuracy"] == runs[writer][0]["accuracy"]
    dataset_file = written.with_name("shuffled.pkl")
    data = PACKAGES[reader].from_pickle(str(dataset_file))
    for key in KEYS:
        np.testing.assert_array_equal(data[key], runs[reader][0]["data"][key])


def test_a_dataset_file_written_by_the_reference_loads_through_get_dataset(runs, tmp_path_factory):
    written = sorted(tmp_path_factory.getbasetemp().glob("reference*/shuffled.pkl"))[0]
    args = compat.get_dataset_args()
    args.num_samples, args.shuffle_seq, args.seed = 1000, True, 3
    with contextlib.redirect_stdout(io.StringIO()) as out:
        data = compat.get_dataset(args, path=str(written), download=False)
    assert out.getvalue() == f"Successfully loaded data from {written}\n"
    np.testing.assert_array_equal(data["x"], runs["reference"][0]["data"]["x"])


# seeding and the global generators ---------------------------------------------------------------------------
def generator_states():
    numpy_state = np.random.get_state()
    return random.getstate(), numpy_state[1].copy(), numpy_state[2], torch.get_rng_state()


def assert_states_equal(a, b):
    assert a[0] == b[0], "random's state"
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2], "numpy's state"
    assert torch.equal(a[3], b[3]), "torch's state"


def test_set_seed_is_the_references():
    for seed in (0, 42, 2**32 - 1):
        torch.manual_seed(7)
        reference.set_seed(seed)
        theirs = generator_states()
        torch.manual_seed(7)
        compat.set_seed(seed)
        assert_states_equal(generator_states(), theirs)  # torch's generator included: left where it was


@pytest.fixture
def paper_file(tmp_path):
    """A dataset pickle without a record beside it, as the frozen file or one the reference wrote."""
    path = tmp_path / "mnist1d_data.pkl"
    reference.utils.to_pickle(compat.make_dataset(), str(path))
    return path


def test_loading_and_checking_a_file_leave_the_generators_as_found(paper_file):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    before = generator_states()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        ours = compat.get_dataset(compat.get_dataset_args(), path=str(paper_file))        # checked, then loaded
    assert_states_equal(generator_states(), before)
    with contextlib.redirect_stdout(io.StringIO()) as printed_by_reference:
        theirs = reference.get_dataset(reference.get_dataset_args(), path=str(paper_file))
    assert_states_equal(generator_states(), before)                                       # the reference's too
    assert printed.getvalue() == printed_by_reference.getvalue()
    assert printed.getvalue().splitlines() == ["File already exists. Skipping download.",
                                               f"Successfully loaded data from {paper_file}"]
    for key in KEYS:
        np.testing.assert_array_equal(ours[key], theirs[key])


def test_making_the_papers_data_in_place_of_a_download_leaves_the_generators_as_found(tmp_path):
    before = generator_states()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        data = compat.get_dataset(compat.get_dataset_args(), path=str(tmp_path / "new.pkl"))
    assert_states_equal(generator_states(), before)
    lines = printed.getvalue().splitlines()
    assert lines[1:] == [f"Saving to {tmp_path / 'new.pkl'}", f"Successfully loaded data from {tmp_path / 'new.pkl'}"]
    assert "nothing is downloaded" in lines[0]
    assert data["x"].shape == (4000, 40)


def test_a_file_of_another_config_leaves_the_generators_as_found(paper_file):
    args = compat.get_dataset_args()
    args.num_samples = 300
    before = generator_states()
    with pytest.warns(MNIST1DCompatWarning, match="not those of the requested config"):
        data = compat.get_dataset(args, path=paper_file, download=False, verbose=False)
    assert_states_equal(generator_states(), before)
    assert data["x"].shape == (240, 40)


def test_custom_templates_seed_as_the_reference_and_leave_torch_alone():
    tpl = reference.get_templates()
    tpl["x"] = tpl["x"][:, ::-1].copy()
    states = []
    for m in (reference, compat):
        args = m.get_dataset_args()
        args.num_samples = 100
        torch.manual_seed(5)
        m.data.make_dataset(args, template=tpl)
        states.append(generator_states())
    assert_states_equal(*states)
    torch.manual_seed(5)
    assert torch.equal(states[1][3], torch.get_rng_state())
