"""Pickles are read without running code: MNIST-1D files load, anything that calls code is refused."""

import collections
import pickle

import mnist1d as reference
import numpy as np
import pytest

from mnist1d_hf import compat as mnist1d
from mnist1d_hf.compat.safe_pickle import safe_loads


class RunsCode:
    """What a malicious file does: ask the unpickler to call a function with arguments of its choosing."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_a_pickle_that_would_run_code_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "mnist1d_data.pkl"
    path.write_bytes(pickle.dumps({"x": np.zeros(3), "payload": RunsCode(marker)}, protocol=3))
    with pytest.raises(pickle.UnpicklingError, match="builtins.exec"):
        mnist1d.from_pickle(path)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        mnist1d.get_dataset(mnist1d.get_dataset_args(), path=path, download=False)
    assert not marker.exists(), "the payload ran"
    pickle.loads(path.read_bytes())  # the control: the plain unpickler does run it
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("target", ["os.system", "subprocess.Popen", "numpy.load", "numpy.testing._private.utils.runstring"])
def test_every_other_global_is_refused(target):
    module, name = target.rsplit(".", 1)
    payload = f"c{module}\n{name}\n(S'true'\ntR.".encode()
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to load {module}.{name}"):
        safe_loads(payload)


def test_only_latin1_codec_calls_are_allowed():
    payload = b"c_codecs\nencode\n(S'x'\nS'rot13'\ntR."
    with pytest.raises(pickle.UnpicklingError, match="latin1"):
        safe_loads(payload)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_files_of_the_reference_layout_load_at_every_protocol(protocol, tmp_path):
    args = reference.get_dataset_args()
    args.num_samples = 200
    data = reference.data.make_dataset(args)
    data["extras"] = collections.OrderedDict(n=np.int64(3), f=np.float32(1.5), s={1, 2}, c=1 + 2j, b=b"\x00\xff")
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    got = mnist1d.from_pickle(path)
    for key in ("x", "x_test", "y", "y_test", "t"):
        np.testing.assert_array_equal(got[key], data[key])
        assert got[key].dtype == data[key].dtype
    for key in ("x", "t", "y"):
        np.testing.assert_array_equal(got["templates"][key], data["templates"][key])
    assert got["extras"] == data["extras"]


def test_to_pickle_writes_what_the_reference_reads(tmp_path):
    path = tmp_path / "out.pkl"
    results = {"train_losses": [0.5, 0.25], "acc": np.arange(3.0)}   # the notebooks pickle their results too
    mnist1d.to_pickle(results, path)
    theirs = reference.utils.from_pickle(str(path))
    assert theirs["train_losses"] == [0.5, 0.25]
    np.testing.assert_array_equal(theirs["acc"], results["acc"])
    assert not list(tmp_path.glob(".*.tmp")), "the temporary file was left behind"


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_object_views_of_both_packages_load_as_ours(protocol, tmp_path):
    """Results pickles keep their args: the reference's ObjectView and ours both load, without running code."""
    path = tmp_path / "results.pkl"
    theirs = reference.utils.ObjectView({"num_samples": 5000, "padding": [36, 60]})
    ours = mnist1d.ObjectView({"learning_rate": 1e-2})
    path.write_bytes(pickle.dumps({"args": theirs, "model_args": ours, "acc": np.arange(3.0)}, protocol=protocol))
    got = mnist1d.from_pickle(path)
    for name, original in (("args", theirs), ("model_args", ours)):
        assert type(got[name]) is mnist1d.ObjectView and vars(got[name]) == vars(original)
    assert got["args"].padding == [36, 60]
    np.testing.assert_array_equal(got["acc"], np.arange(3.0))
    # and the reference reads ours (its pickle.load imports this package's ObjectView)
    mnist1d.to_pickle({"args": ours}, path)
    assert vars(reference.utils.from_pickle(str(path))["args"]) == {"learning_rate": 1e-2}


def test_the_reconstructor_of_protocols_0_and_1_builds_nothing_but_object_views():
    payload = b"ccopy_reg\n_reconstructor\n(cnumpy\nndarray\nc__builtin__\nobject\nNtR."
    with pytest.raises(pickle.UnpicklingError, match="only ObjectView"):
        safe_loads(payload)


def test_a_results_pickle_holding_a_model_names_the_trusted_opt_in(tmp_path):
    """The lottery notebook pickles torch models with its results: they need torch's code to load."""
    import torch
    path = tmp_path / "lottery_results.pkl"
    model = torch.nn.Linear(3, 2)
    reference.utils.to_pickle({"models": [model], "stats": np.zeros(4), "args": mnist1d.get_dataset_args()},
                              str(path))
    with pytest.raises(pickle.UnpicklingError) as refused:
        mnist1d.from_pickle(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "trusted=True" in message and "torch" in message
    loaded = mnist1d.from_pickle(path, trusted=True)
    assert torch.equal(loaded["models"][0].weight, model.weight)
    assert loaded["args"].seed == 42
