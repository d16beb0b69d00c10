"""Code written against the reference ``mnist1d`` package, run through ``from mnist1d_hf import compat``.

Each test is shaped like real client code (the book's and the paper's notebooks) and compares with the reference
package itself, run on the same arguments.
"""

import functools
import warnings

import mnist1d as reference
import numpy as np
import pytest

from mnist1d_hf import compat as mnist1d
from mnist1d_hf.compat.data import MNIST1DCompatWarning, sidecar_path

KEYS = ("x", "x_test", "y", "y_test", "t")
SMALL = 1000  # examples, for the cache tests: the reference package takes a second per 5000


@functools.lru_cache(maxsize=None)
def _reference_cached(changes):
    """One run of the reference per config in this module, with the next numbers its global generator gives."""
    args = reference.get_dataset_args()
    for name, value in changes:
        setattr(args, name, value)
    data = reference.data.make_dataset(args)
    return data, np.random.rand(3)


def reference_run(**changes):
    """The reference package's output for its defaults with ``changes`` (a fresh copy of a cached run), and the
    next three numbers of numpy's global generator after it."""
    changes = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}
    data, after = _reference_cached(tuple(sorted(changes.items())))
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in data.items()}, after


def reference_data(**changes):
    return reference_run(**changes)[0]


def small_args(**changes):
    args = mnist1d.get_dataset_args()
    args.num_samples = SMALL
    for name, value in changes.items():
        setattr(args, name, value)
    return args


def assert_same_dataset(ours, theirs):
    assert set(ours) == set(theirs) == {*KEYS, "templates"}
    for key in KEYS:
        assert ours[key].dtype == theirs[key].dtype and ours[key].shape == theirs[key].shape, key
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    assert ours["x"].dtype == np.float64 and ours["y"].dtype == np.int64
    for key in ("x", "t", "y"):
        np.testing.assert_array_equal(ours["templates"][key], theirs["templates"][key])


def both(edit):
    """The same edit applied to both packages' default args."""
    ours, theirs = mnist1d.get_dataset_args(), reference.get_dataset_args()
    edit(ours)
    edit(theirs)
    return ours, theirs


def changes_of(edit):
    """The knobs an edit changes, as keyword arguments for ``reference_run``."""
    edited, defaults = mnist1d.get_dataset_args(as_dict=True), mnist1d.get_dataset_args(as_dict=True)
    edit(mnist1d.ObjectView(edited))
    return {k: v for k, v in edited.items() if v != defaults[k]}


def _half_split(a):
    a.num_samples = 1500
    a.train_split = 0.5


def _hundred_test(a):
    a.num_samples = 1200
    a.train_split = 1 - 100 / a.num_samples  # a float split whose product rounds down


def _shuffled(a):
    a.num_samples = 1000
    a.shuffle_seq = True


def _small_and_odd(a):
    a.num_samples, a.final_seq_length, a.padding, a.seed, a.template_len = 1234, 23, [3, 40], 7, 20


@pytest.mark.parametrize("edit", [lambda a: None, _half_split, _hundred_test, _shuffled, _small_and_odd],
                         ids=["defaults", "half-split", "100-test", "shuffled", "odd-knobs"])
def test_make_dataset_equals_the_reference_bit_for_bit(edit):
    ours = mnist1d.get_dataset_args()
    edit(ours)
    got = mnist1d.data.make_dataset(ours)
    after_ours = np.random.rand(3)
    want, after_reference = reference_run(**changes_of(edit))
    assert_same_dataset(got, want)
    # the global generator is left where the reference leaves it: code that keeps drawing gets the same numbers
    np.testing.assert_array_equal(after_ours, after_reference)


def test_any_object_with_the_attributes_works_and_extras_are_ignored():
    class MyArgs:  # a user's own class, with fields the generator does not know
        num_samples, train_split, template_len, padding = 600, 0.75, 12, (36, 60)
        scale_coeff, max_translation, corr_noise_scale, iid_noise_scale = 0.4, 48, 0.25, 0.02
        shear_scale, shuffle_seq, final_seq_length, seed = 0.75, False, 40, 3
        learning_rate, device = 1e-2, "cpu"

    want = reference_data(num_samples=600, train_split=0.75, seed=3)
    assert_same_dataset(mnist1d.make_dataset(MyArgs()), want)
    view = mnist1d.ObjectView({k: v for k, v in vars(MyArgs).items() if not k.startswith("__")})
    assert_same_dataset(mnist1d.make_dataset(view), want)
    assert_same_dataset(mnist1d.make_dataset(vars(view)), want)  # a plain dict of the knobs too


def test_missing_attribute_names_the_field():
    args = mnist1d.get_dataset_args(as_dict=True)
    del args["shear_scale"]
    with pytest.raises(AttributeError, match="shear_scale"):
        mnist1d.make_dataset(mnist1d.ObjectView(args))


def test_results_are_fresh_arrays_the_caller_may_edit(tmp_path):
    args = small_args()
    path = tmp_path / "data.pkl"
    data = mnist1d.get_dataset(args, path=path, download=False, regenerate=True)
    clean_labels = data["y"].copy()
    data["y"][data["y"] == 3] = 0                 # in-place label edits, as label-noise notebooks do
    data["x"] = data["x"].T                       # transposes and reassignments
    data["x_test"] *= 2
    again = mnist1d.get_dataset(args, path=path, download=False)
    np.testing.assert_array_equal(again["y"], clean_labels)
    assert_same_dataset(again, reference_data(num_samples=SMALL))
    assert again["x"].flags.writeable and again["y"].flags.writeable
    fresh = mnist1d.make_dataset(args)
    fresh["y"][:] = 0
    assert mnist1d.make_dataset(args)["y"].any()


def test_regenerate_then_reuse_the_cache(tmp_path):
    path = tmp_path / "mnist1d_data.pkl"
    args = small_args()
    first = mnist1d.get_dataset(args, path=path, download=False, regenerate=True)
    stamp = path.stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = mnist1d.get_dataset(args, path=path, download=False, regenerate=False)
    assert path.stat().st_mtime_ns == stamp, "a cache hit must not rewrite the file"
    assert_same_dataset(second, first)
    assert_same_dataset(second, reference_data(num_samples=SMALL))
    # the file itself is the reference's layout: the reference package reads it
    assert_same_dataset(reference.utils.from_pickle(str(path)), first)


def test_a_second_config_at_the_same_path_never_gets_the_old_data(tmp_path):
    path = tmp_path / "mnist1d_data.pkl"
    args = small_args()
    mnist1d.get_dataset(args, path=path, download=False, regenerate=True)
    before = path.read_bytes()
    args.num_samples, args.train_split = 1200, 0.5     # the notebook changes its args and runs the cell again
    with pytest.warns(MNIST1DCompatWarning, match="another config.*num_samples"):
        data = mnist1d.get_dataset(args, path=path, download=False)
    assert data["x"].shape == (600, 40) and data["x_test"].shape == (600, 40)
    assert_same_dataset(data, reference_data(num_samples=1200, train_split=0.5))
    assert path.read_bytes() == before, "the file holding the other config was overwritten"
    # regenerate=True is the explicit way to replace it
    mnist1d.get_dataset(args, path=path, download=False, regenerate=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mnist1d.get_dataset(args, path=path, download=False)["x"].shape == (600, 40)


def test_download_makes_the_papers_data_locally_and_warns_about_ignored_args(tmp_path):
    path = tmp_path / "mnist1d_data.pkl"
    paper = reference_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_dataset(mnist1d.get_dataset(mnist1d.get_dataset_args(), path=path), paper)
    args = mnist1d.get_dataset_args()
    args.shuffle_seq = True
    with pytest.warns(MNIST1DCompatWarning, match="ignores args.*shuffle_seq"):
        data = mnist1d.get_dataset(args=args, path=path)
    assert_same_dataset(data, paper)


def test_a_file_written_by_the_reference_package_is_read_and_checked(tmp_path):
    path = tmp_path / "theirs.pkl"
    reference.utils.to_pickle(reference_data(num_samples=SMALL, shuffle_seq=True), str(path))
    before = path.read_bytes()
    ours = small_args(shuffle_seq=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = mnist1d.get_dataset(ours, path=path, download=False)
    assert_same_dataset(data, reference_data(num_samples=SMALL, shuffle_seq=True))
    ours.shuffle_seq = False                        # that file is not the data of these args
    with pytest.warns(MNIST1DCompatWarning, match="not those of the requested config"):
        data = mnist1d.get_dataset(ours, path=path, download=False)
    assert_same_dataset(data, reference_data(num_samples=SMALL))
    assert path.read_bytes() == before and not sidecar_path(path).exists()


def test_a_replaced_pickle_is_not_trusted_by_its_old_record(tmp_path):
    path = tmp_path / "data.pkl"
    mnist1d.get_dataset(small_args(), path=path, download=False, regenerate=True)
    reference.utils.to_pickle(reference_data(num_samples=SMALL, shuffle_seq=True), str(path))  # record now stale
    with pytest.warns(MNIST1DCompatWarning, match="not those of the requested config"):
        data = mnist1d.get_dataset(small_args(), path=path, download=False)
    assert_same_dataset(data, reference_data(num_samples=SMALL))


def test_failures_raise_and_never_regenerate_over_the_file(tmp_path):
    path = tmp_path / "data.pkl"
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(Exception):
        mnist1d.get_dataset(small_args(), path=path, download=False)
    assert path.read_bytes() == b"not a pickle at all"
    mnist1d.to_pickle({"weights": [1, 2, 3]}, path)
    with pytest.raises(ValueError, match="not an MNIST-1D dataset"):
        mnist1d.get_dataset(mnist1d.get_dataset_args(), path=path, download=False)
    with pytest.raises(ValueError, match="download=False"):
        mnist1d.get_dataset(mnist1d.get_dataset_args(), path=path, regenerate=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        mnist1d.get_dataset(mnist1d.get_dataset_args(), path=path, download=False, tempalte=None)


def test_custom_templates_follow_the_reference_loop():
    tpl = reference.get_templates()
    tpl["x"] = tpl["x"][:, ::-1].copy()           # digits drawn mirrored
    ours, theirs = both(lambda a: setattr(a, "num_samples", 300))
    assert_same_dataset(mnist1d.make_dataset(ours, template=tpl), reference.data.make_dataset(theirs, template=tpl))


def test_transform_is_the_reference_transform():
    args = reference.get_dataset_args()
    tpl = reference.get_templates()
    for label in (0, 7):
        mnist1d.set_seed(11)
        ours = mnist1d.transform(tpl["x"][label], tpl["t"], args)
        reference.set_seed(11)
        theirs = reference.transform(tpl["x"][label], tpl["t"], args)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)
    assert mnist1d.utils.transform is mnist1d.transform and mnist1d.data.transform is mnist1d.transform


def test_the_reference_names_exist_where_clients_look_for_them():
    for name in ("get_dataset", "get_dataset_args", "get_templates", "to_pickle", "from_pickle", "ObjectView",
                 "set_seed", "plot_signals", "transform"):
        assert callable(getattr(mnist1d, name)), name
    for name in ("get_dataset", "get_dataset_args", "get_templates", "make_dataset"):
        assert getattr(mnist1d.data, name) is getattr(mnist1d, name)
    for name in ("set_seed", "to_pickle", "from_pickle", "ObjectView", "plot_signals"):
        assert getattr(mnist1d.utils, name) is getattr(mnist1d, name)
    tpl = mnist1d.get_templates()
    for key in ("x", "t", "y"):
        np.testing.assert_array_equal(tpl[key], reference.get_templates()[key])
    assert mnist1d.get_dataset_args(as_dict=True) == reference.get_dataset_args(as_dict=True) | {
        "url": mnist1d.get_dataset_args().url}


def test_download_ignores_custom_templates_as_the_reference_does(tmp_path):
    tpl = reference.get_templates()
    tpl["x"] = tpl["x"][:, ::-1].copy()
    with pytest.warns(MNIST1DCompatWarning, match="ignores template"):
        data = mnist1d.get_dataset(mnist1d.get_dataset_args(), path=tmp_path / "paper.pkl", template=tpl)
    assert_same_dataset(data, reference_data())
