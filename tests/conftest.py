"""Test-wide settings: no network, ever; and a suite that leaves the checkout exactly as it found it."""

import json
import os
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
CHECKOUT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refusing_hub() -> type[BaseHTTPRequestHandler]:
    """A new HTTP handler class that answers every request as the Hub answers a token it refuses (401), and
    records each request's Authorization header in its own ``authorizations`` list."""

    class RefusingHub(BaseHTTPRequestHandler):
        authorizations: list[str | None] = []

        def _refuse(self):
            self.authorizations.append(self.headers.get("Authorization"))
            body = json.dumps({"error": "Invalid credentials in Authorization header"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = _refuse

        def log_message(self, *args):
            pass

    return RefusingHub


def _checkout_state() -> str | None:
    """``git status --porcelain`` of the checkout (untracked files included); None outside a git checkout."""
    try:
        done = subprocess.run(["git", "-C", str(CHECKOUT), "status", "--porcelain", "--untracked-files=all"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def pytest_sessionstart(session):
    session.config.stash[_STATE] = _checkout_state()


def pytest_sessionfinish(session, exitstatus):
    """Tests write only to temporary folders: a file of the checkout changed, added or removed fails the suite."""
    before, after = session.config.stash.get(_STATE, None), _checkout_state()
    if before is None or after is None or before == after or hasattr(session.config, "workerinput"):
        return
    changed = sorted(set(before.splitlines()) ^ set(after.splitlines()))
    session.config.get_terminal_writer().line(
        "the tests changed the checkout (git status --porcelain):\n  " + "\n  ".join(changed), red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


_STATE = pytest.StashKey[str | None]()


@pytest.fixture
def cli_main(monkeypatch):
    """``cli_main(*args, cwd=folder)``: ``python cli.py ARGS`` run from ``folder`` in this process, through
    ``lightning_modules.cli.main`` (all that ``cli.py`` runs), without the seconds a new process spends importing
    torch and Lightning; returns the exit code. The working directory and torch's thread count are restored."""
    import torch

    from lightning_modules.cli import main

    def run(*args: str, cwd: Path) -> int:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["cli.py"])
        threads = torch.get_num_threads()
        try:
            return main(list(args))
        finally:
            torch.set_num_threads(threads)

    return run


@pytest.fixture
def one_torch_thread():
    """Small models and full-batch solves run several times faster on one thread when the cores are shared."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
