"""Stopping a sweep as users and schedulers do: Ctrl-C (SIGINT to the whole process group) exits 130 and SIGTERM
to the driver alone exits 143, each with one line and no worker left running. (That the same command then resumes
with the missing runs only is ``test_runner``'s killed-sweep test.)

The sweep is ``python -m experiments run`` of ``tiny_study.Waiting``, whose runs wait for minutes: the signal
always finds both workers mid-run, however loaded the machine, and the test costs no training."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tiny_study import WAIT

from experiments import backends
from experiments.runs import ROOT, Job, Run

# ``python -m experiments run waiting ...`` with the test study registered: the command's own main and exit code
# Ctrl-C's default handler first: a shell without job control starts background jobs with SIGINT ignored, and
# a suite run from one would pass that on, making the sweep deaf to the test's Ctrl-C
SWEEP = textwrap.dedent("""
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path[:0] = [{root!r}]
    from experiments import STUDIES
    STUDIES["waiting"] = "tests.tiny_study:Waiting"
    from experiments.__main__ import main
    sys.exit(main(["run", "waiting", "--workers", "2", "--no-progress", "--out", {out!r}]))
""")


def start_sweep(out: Path, **options) -> subprocess.Popen:
    """The waiting sweep in a process group of its own, storing into ``out``."""
    return subprocess.Popen([sys.executable, "-c", SWEEP.format(root=str(ROOT), out=str(out))], cwd=out,
                            env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT)), start_new_session=True,
                            **options)


def wait_for_workers(sweep: subprocess.Popen) -> set[int]:
    """The sweep's processes once its two workers and the resource tracker are up (the workers then run)."""
    deadline = time.monotonic() + 240
    while len(children(sweep.pid)) < 4:  # the fork server, two workers and the resource tracker
        assert sweep.poll() is None and time.monotonic() < deadline, sweep.communicate()[1][-2000:]
        time.sleep(0.2)
    time.sleep(1)  # the workers have started their runs
    return children(sweep.pid)


def children(pid: int) -> set[int]:
    """Every live descendant of ``pid``."""
    listed = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.split()
    parents = dict(zip(map(int, listed[0::2]), map(int, listed[1::2])))
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.is_file() and state.read_text().split()[2] == "Z")


@pytest.mark.parametrize(("signum", "group", "code", "message"), [
    (signal.SIGTERM, False, 143, "error: terminated (SIGTERM): the workers are stopped"),
    (signal.SIGINT, True, 130, "error: interrupted: the finished runs are stored"),
])
def test_a_stopped_sweep_leaves_no_process_behind(tmp_path, signum, group, code, message):
    sweep = start_sweep(tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workers = wait_for_workers(sweep)
        if group:
            os.killpg(sweep.pid, signum)
        else:
            os.kill(sweep.pid, signum)
        _, stderr = sweep.communicate(timeout=60)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
            sweep.wait()
    assert sweep.returncode == code, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(message) and "Traceback" not in stderr, stderr[-2000:]
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)], "worker processes left running"

    assert "leaked" not in stderr, stderr[-2000:]  # the pool's semaphores were released
    assert not list((tmp_path / "runs").glob(".*.tmp"))  # nothing half-written; a rerun resumes (test_runner)


def test_workers_end_with_a_driver_killed_outright(tmp_path):
    """SIGKILL cannot be handled: the workers asked the kernel to end them with their parent."""
    sweep = start_sweep(tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        workers = wait_for_workers(sweep)
        sweep.kill()
        sweep.wait()
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if alive(pid)], "worker processes outlived their driver"
    finally:
        for pid in children(sweep.pid) | (workers if "workers" in locals() else set()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_pool_stopped_early_is_wound_down_before_the_driver_goes_on():
    """Leaving ``local`` early ends the executor's own thread, which closes its wake-up pipe: Python's exit hook
    writes to every open one without a lock, and a pipe closed under it printed "OSError: Bad file descriptor"
    after the driver's last line. (Without the wait, the thread outlived the pool in 12 of 15 tries.)"""
    from concurrent.futures.process import _threads_wakeups

    quick, waiting = (Job.of(Run({"seed": s}, {"seed": s, "seconds": t}, WAIT)) for s, t in ((0, 0), (1, 600)))
    for _ in range(5):  # cheap once the fork server runs
        outcomes = backends.local([quick, waiting], workers=2)
        assert next(outcomes)[0] == quick  # the other run is mid-run
        outcomes.close()
        assert not [thread for thread in _threads_wakeups if thread.is_alive()]
        assert all(wakeup._closed for wakeup in _threads_wakeups.values())
