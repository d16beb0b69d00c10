"""The real HTTP paths on loopback: load_dataset("owner/mnist1d", ...) from a Hub-compatible server (the olah
mirror serving a git repo of an export, read-only), and publish's real client meeting a Hub that refuses it."""

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import ThreadingHTTPServer

import numpy as np
import pytest
from conftest import free_port, refusing_hub

from mnist1d_hf import VARIANTS, load
from mnist1d_hf.export import export

REPO = "owner/mnist1d"

needs_olah = pytest.mark.skipif(importlib.util.find_spec("olah") is None,
                                reason="the loopback Hub server needs olah (pip install olah, in the [test] extra)")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hf-datasets-cache"))


def hub_env(endpoint: str, home) -> dict[str, str]:
    """A client that talks only to ``endpoint``: online, but every Hub URL points at loopback."""
    return {**os.environ, "HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0",
            "HF_HOME": str(home), "HF_HUB_DISABLE_TELEMETRY": "1"}


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=mnist1d", "-c", "user.email=mnist1d@localhost", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def olah_endpoint(tmp_path_factory, cache):
    """olah on a free loopback port, offline, serving the export as the git repo datasets/owner/mnist1d."""
    root = tmp_path_factory.mktemp("olah")
    (root / "mirrors" / "datasets" / "owner").mkdir(parents=True)  # export never creates an output's parents
    repo = export({name: VARIANTS[name] for name in ("standard", "shuffled")},
                  root / "mirrors" / "datasets" / "owner" / "mnist1d", repo_id=REPO, cache_dir=cache)
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "MNIST-1D export", cwd=repo)
    port = free_port()
    (root / "olah.toml").write_text(f'[basic]\nhost = "127.0.0.1"\nport = {port}\nrepos-path = "{root / "repos"}"\n'
                                    f'mirrors-path = ["{root / "mirrors"}"]\n[accessibility]\noffline = true\n')
    log = open(root / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-c", "from olah.server import cli; cli()", "-c",
                               str(root / "olah.toml"), "--log-path", str(root / "logs")],
                              cwd=root, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{endpoint}/api/datasets/{REPO}/revision/main", server, root / "server.log")
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def wait_until_serving(url, server, log_path, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"olah exited with {server.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"olah did not serve {url} within {timeout} s:\n{log_path.read_text()[-2000:]}")


CLIENT = """
import json, sys
import numpy as np
from datasets import get_dataset_config_names, load_dataset

ds = load_dataset("owner/mnist1d", "shuffled")
cols = {split: ds[split].with_format("numpy")[:] for split in ("train", "test")}
np.savez(sys.argv[1], **{f"{split}_{k}": v for split, c in cols.items() for k, v in c.items()})
print(json.dumps({"configs": get_dataset_config_names("owner/mnist1d"), "features": str(ds["train"].features)}))
"""


@needs_olah
def test_load_dataset_through_a_hub_compatible_server(olah_endpoint, cache, tmp_path):
    out = tmp_path / "shuffled.npz"
    run = subprocess.run([sys.executable, "-c", CLIENT, str(out)], env=hub_env(olah_endpoint, tmp_path / "hf"),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    ours = load("shuffled", cache_dir=cache)
    assert report["configs"] == ["shuffled", "standard"]
    assert report["features"] == str(ours["train"].features)
    got = np.load(out)
    for split in ("train", "test"):
        want = ours[split].with_format("numpy")[:]
        np.testing.assert_array_equal(got[f"{split}_x"], want["x"])
        np.testing.assert_array_equal(got[f"{split}_y"], want["y"])


def test_publish_with_a_refused_token_exits_with_one_line(tmp_path, cache):
    server = ThreadingHTTPServer(("127.0.0.1", 0), refusing_hub())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        run = subprocess.run([sys.executable, "-m", "mnist1d_hf", "publish", "--repo-id", "someone/mnist1d",
                              "--variants", "standard", "--token", "hf_bad", "--cache-dir", cache],
                             env=hub_env(endpoint, tmp_path / "hf"), capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert run.returncode == 5
    assert run.stderr.strip().splitlines()[-1] == ("error: the Hub refused the token for someone/mnist1d (HTTP 401): "
                                                   "use a token with write access to that namespace")
