"""The ray backend against a real Ray cluster started on loopback: a quick study equals the local backend, a killed
driver resumes with only the missing runs, and without Ray the command says how to install it. The cluster is
stopped afterwards and no Ray process is left."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import free_port
from resume_helpers import a_killed_sweep_resumes, results_by_key

from experiments.ray_backend import LOOPBACK_ONLY
from experiments.runner import run_study
from experiments.runs import ROOT
from experiments.table1 import Table1

ray = pytest.importorskip("ray", reason='the cluster extra: pip install -e ".[cluster]"')
TESTS = Path(__file__).resolve().parent
# The test cluster lives on loopback only: Ray must not resolve 127.0.0.1 to the machine's network address, and
# needs no token between processes of one machine.
ENV = dict(os.environ, HF_HUB_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled",
           **{LOOPBACK_ONLY: "0"})


def ray_processes() -> list[str]:
    listed = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    return [p for p in listed if "raylet" in p or "gcs_server" in p]


@pytest.fixture
def cluster():
    """A one-node Ray cluster with 2 CPUs on 127.0.0.1; its address. Test processes take turns through a lock
    file: pytest-xdist's ``xdist_group`` does not keep tests on one process under pytest 9.2."""
    with open(Path(tempfile.gettempdir()) / "mnist1d-hf-ray-tests.lock", "w") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        assert not ray_processes(), "a Ray cluster is already running on this machine"
        port, temp = free_port(), tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are long
        ray_cli = [sys.executable, "-m", "ray.scripts.scripts"]
        started = subprocess.run([*ray_cli, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                                  "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                                  "--object-store-memory=100000000", f"--temp-dir={temp}"],
                                 env=ENV, capture_output=True, text=True, timeout=180)
        try:
            assert started.returncode == 0, started.stderr[-2000:]
            yield f"127.0.0.1:{port}"
        finally:
            subprocess.run([*ray_cli, "stop", "--force"], env=ENV, capture_output=True, timeout=120)
            deadline = time.monotonic() + 30
            while ray_processes() and time.monotonic() < deadline:
                time.sleep(0.5)
            shutil.rmtree(temp, ignore_errors=True)
            assert not ray_processes(), "Ray processes left running"


@pytest.mark.slow  # the default run covers Ray = local through the killed-driver and the staged-runs tests
def test_quick_study_on_a_ray_cluster_equals_the_local_backend(cluster, tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "experiments"), "run", "table1", "--quick", "--backend", "ray",
                           "--address", cluster, "--no-progress", "--out", str(tmp_path / "ray")],
                          cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ran 8, skipped 0" in done.stdout
    run_study(Table1(), quick=True, workers=2, out=tmp_path / "local", progress=False)
    on_ray, local = results_by_key(tmp_path / "ray"), results_by_key(tmp_path / "local")
    assert len(on_ray) == 8 and on_ray == local


def test_without_ray_the_command_says_how_to_install_it(tmp_path):
    hide_ray = ("import runpy, sys; sys.modules['ray'] = None; sys.argv = ['experiments', 'run', 'table1', "
                f"'--quick', '--backend', 'ray', '--out', {str(tmp_path)!r}]; runpy.run_path({str(ROOT / 'experiments')!r}, "
                "run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", hide_ray], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == 'error: the ray backend needs Ray: pip install -e ".[cluster]"'
    assert not (tmp_path / "runs").exists()


STAGED = textwrap.dedent("""
    import sys
    sys.path[:0] = [{tests!r}, {root!r}]
    from staged_tasks import Staged
    from experiments.runner import run_study
    counts = run_study(Staged(), seeds=[0], out={out!r}, backend="ray", address={address!r}, workers=2,
                       progress=False)
    print("ran {{ran}}, skipped {{skipped}}".format(**counts))
""")


def staged_runs_get_their_upstream_through_the_driver(address: str, tmp_path: Path) -> None:
    """Workers run in Ray's copy of the checkout, not the driver's folder, and read no store: each ``use`` run
    gets its ``make`` run's artifact from the driver, and the store equals the local backend's."""
    from staged_tasks import Staged

    script = STAGED.format(tests=str(TESTS), root=str(ROOT), out=str(tmp_path / "ray"), address=address)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ran 3, skipped 0" in done.stdout
    run_study(Staged(), seeds=[0], workers=1, out=tmp_path / "local", progress=False)
    on_ray, local = results_by_key(tmp_path / "ray"), results_by_key(tmp_path / "local")
    assert on_ray.keys() == local.keys() and len(on_ray) == 3
    for key, result in on_ray.items():
        assert {k: v for k, v in result.items() if k != "cwd"} == {k: v for k, v in local[key].items() if k != "cwd"}
        assert Path(result["cwd"]) not in (tmp_path, ROOT)  # the worker's own folder
    made = next(p for p in (tmp_path / "ray" / "runs").iterdir() if p.is_dir())
    assert (made / "blob.bin").read_bytes() == (tmp_path / "local" / "runs" / made.name / "blob.bin").read_bytes()


def test_a_killed_driver_resumes_and_staged_runs_get_their_upstream_on_the_cluster(cluster, tmp_path):
    """Two drivers' jobs on one cluster (a cluster takes seconds to start, and test processes take turns with
    it): a driver killed after its first stored run resumes with the missing runs only, and equals the local
    backend; then a two-stage study gets each upstream artifact through the driver."""
    (tmp_path / "killed").mkdir()
    a_killed_sweep_resumes(tmp_path / "killed", ENV, backend="ray", address=cluster)
    (tmp_path / "staged").mkdir()
    staged_runs_get_their_upstream_through_the_driver(cluster, tmp_path / "staged")
