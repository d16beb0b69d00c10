"""Publishing: the exact commit sent to the Hub (new repo, added config, overwrite) and every refusal, against an
in-memory Hub; plus the real HfApi against a closed loopback port."""

import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import httpx2
import huggingface_hub
import numpy as np
import pytest
from conftest import free_port, refusing_hub
from datasets import load_dataset
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from mnist1d_hf import VARIANTS, generate, variant_config
from mnist1d_hf.cli import main
from mnist1d_hf.export import export
from mnist1d_hf.publish import PublishError, publish, resolve_token

REPO = "someone/mnist1d"
ENDPOINT = "https://hub.invalid"


def http_error(cls, status):
    request = httpx2.Request("GET", f"{ENDPOINT}/api/datasets/{REPO}")
    return cls(f"{status} Client Error", response=httpx2.Response(status, request=request))


class FakeHub:
    """An in-memory dataset repo with HfApi's method names; ``files is None`` means the repo does not exist."""

    endpoint = ENDPOINT

    def __init__(self, files=None, download_dir=None, fail=None):
        self.files, self.download_dir, self.fail, self.calls = files, download_dir, fail or {}, []

    def _call(self, name, **kwargs):
        self.calls.append((name, kwargs))
        if name in self.fail:
            raise self.fail[name]

    def repo_info(self, repo_id, repo_type):
        self._call("repo_info", repo_id=repo_id, repo_type=repo_type)
        if self.files is None:
            raise http_error(RepositoryNotFoundError, 404)
        return SimpleNamespace(sha="parent-sha")

    def list_repo_files(self, repo_id, repo_type, revision):
        self._call("list_repo_files", repo_id=repo_id, revision=revision)
        return sorted(self.files)

    def hf_hub_download(self, repo_id, filename, repo_type, revision):
        self._call("hf_hub_download", filename=filename, revision=revision)
        path = Path(self.download_dir) / filename
        path.write_bytes(self.files[filename])
        return str(path)

    def create_repo(self, repo_id, repo_type, private):
        self._call("create_repo", repo_id=repo_id, repo_type=repo_type, private=private)
        self.files = {}

    def delete_repo(self, repo_id, repo_type):
        self._call("delete_repo", repo_id=repo_id, repo_type=repo_type)
        self.files = None

    def create_commit(self, repo_id, operations, repo_type, parent_commit, commit_message):
        operations = list(operations)
        self._call("create_commit", repo_id=repo_id, operations=operations, parent_commit=parent_commit)
        for op in operations:
            if isinstance(op, CommitOperationDelete):
                del self.files[op.path_in_repo]
            else:
                content = op.path_or_fileobj
                self.files[op.path_in_repo] = content if isinstance(content, bytes) else Path(content).read_bytes()
        return SimpleNamespace(commit_url=f"{ENDPOINT}/datasets/{repo_id}/commit/1")

    def materialize(self, folder: Path) -> Path:
        for path, content in self.files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(content)
        return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hf-datasets-cache"))


@pytest.fixture(scope="module")
def first_export(tmp_path_factory, cache):
    configs = {name: VARIANTS[name] for name in ("standard", "shuffled")}
    return export(configs, tmp_path_factory.mktemp("first") / "out", cache_dir=cache)


@pytest.fixture(scope="module")
def custom_export(tmp_path_factory, cache):
    configs = {"no_translation": variant_config("standard", max_translation=1)}
    return export(configs, tmp_path_factory.mktemp("custom") / "out", cache_dir=cache)


def export_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def operation_contents(operations) -> dict[str, bytes]:
    out = {}
    for op in operations:
        assert isinstance(op, CommitOperationAdd)
        content = op.path_or_fileobj
        out[op.path_in_repo] = content if isinstance(content, bytes) else Path(content).read_bytes()
    return out


def card_configs(readme: bytes) -> list[str]:
    return [c["config_name"] for c in DatasetCard(readme.decode()).data.to_dict()["configs"]]


def published(hub, name):
    return [kwargs for call, kwargs in hub.calls if call == name]


def test_new_repo_is_created_then_filled_in_one_commit(first_export, tmp_path):
    hub = FakeHub(files=None, download_dir=tmp_path)
    url = publish(first_export, REPO, token="hf_test", private=True, api=hub)
    assert url.endswith("/commit/1")
    assert [call for call, _ in hub.calls] == ["repo_info", "create_repo", "create_commit"]
    assert published(hub, "create_repo") == [{"repo_id": REPO, "repo_type": "dataset", "private": True}]
    (commit,) = published(hub, "create_commit")
    assert commit["parent_commit"] is None
    sent = operation_contents(commit["operations"])
    local = export_files(first_export)
    assert sorted(sent) == sorted(local) and [op.path_in_repo for op in commit["operations"]][-1] == "README.md"
    assert all(sent[path] == local[path] for path in local if path != "README.md")
    # the card is re-rendered for the real repo id; its YAML is the export's
    assert b'load_dataset("someone/mnist1d", "standard")' in sent["README.md"]
    assert card_configs(sent["README.md"]) == card_configs(local["README.md"]) == ["shuffled", "standard"]


def test_adding_a_variant_keeps_the_configs_on_the_hub_and_merges_the_card(first_export, custom_export, tmp_path,
                                                                           cache):
    hub = FakeHub(files=None, download_dir=tmp_path)
    publish(first_export, REPO, token="hf_test", api=hub)
    before = dict(hub.files)
    hub.calls.clear()

    publish(custom_export, REPO, token="hf_test", api=hub)
    (commit,) = published(hub, "create_commit")
    assert commit["parent_commit"] == "parent-sha"
    assert "create_repo" not in [call for call, _ in hub.calls]
    sent = operation_contents(commit["operations"])
    local = export_files(custom_export)
    assert sorted(sent) == sorted(local) == ["README.md", "mnist1d.png", "no_translation/mnist1d.json",
                                             "no_translation/test-00000-of-00001.parquet",
                                             "no_translation/train-00000-of-00001.parquet"]
    assert all(sent[path] == local[path] for path in local if path != "README.md")

    merged = DatasetCard(sent["README.md"].decode())
    assert card_configs(sent["README.md"]) == ["no_translation", "shuffled", "standard"]
    infos = {i["config_name"]: i for i in merged.data.to_dict()["dataset_info"]}
    assert sorted(infos) == ["no_translation", "shuffled", "standard"]
    for name in ("standard", "shuffled", "no_translation"):
        assert f"| `{name}` | 4,000 | 1,000 |" in merged.text
    assert all(hub.files[path] == content for path, content in before.items() if path != "README.md")

    # what is now on the Hub loads every config, old and new
    folder = hub.materialize(tmp_path / "repo")
    for name, cfg in (("standard", VARIANTS["standard"]), ("no_translation", variant_config("standard", max_translation=1))):
        ds = load_dataset(str(folder), name, cache_dir=str(tmp_path / "c"))
        np.testing.assert_array_equal(ds["test"].with_format("numpy")[:]["x"], generate(cfg).x_test.astype("f4"))


def test_a_config_already_on_the_hub_is_refused_without_overwrite(first_export, tmp_path):
    hub = FakeHub(files=None, download_dir=tmp_path)
    publish(first_export, REPO, token="hf_test", api=hub)
    hub.calls.clear()
    with pytest.raises(PublishError, match=r"^config\(s\) shuffled, standard already on someone/mnist1d; "
                                           r"pass --overwrite"):
        publish(first_export, REPO, token="hf_test", api=hub)
    assert not published(hub, "create_commit") and not published(hub, "create_repo")


def test_overwrite_replaces_a_config_and_deletes_its_stale_files_in_the_same_commit(first_export, tmp_path):
    hub = FakeHub(files=None, download_dir=tmp_path)
    publish(first_export, REPO, token="hf_test", api=hub)
    hub.files["standard/train-00001-of-00002.parquet"] = b"stale shard"
    hub.calls.clear()
    publish(first_export, REPO, token="hf_test", overwrite=True, api=hub)
    (commit,) = published(hub, "create_commit")
    deletes = [op.path_in_repo for op in commit["operations"] if isinstance(op, CommitOperationDelete)]
    assert deletes == ["standard/train-00001-of-00002.parquet"]
    assert "standard/train-00001-of-00002.parquet" not in hub.files


@pytest.fixture
def no_login(monkeypatch, tmp_path):
    """No ``HF_TOKEN`` and no saved login, whatever the machine running the tests has."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))
    return Path(huggingface_hub.constants.HF_TOKEN_PATH)


def test_no_token_fails_before_any_hub_call(first_export, tmp_path, no_login):
    hub = FakeHub(files=None, download_dir=tmp_path)
    with pytest.raises(PublishError, match="^no Hugging Face token: pass --token, set HF_TOKEN or log in with "
                                           "`hf auth login`"):
        publish(first_export, REPO, token=None, api=hub)
    assert hub.calls == []


def test_the_token_is_found_as_every_hugging_face_tool_finds_it(no_login, monkeypatch):
    """``--token``, else ``HF_TOKEN``, else the file ``hf auth login`` saved."""
    no_login.parent.mkdir()
    no_login.write_text("hf_from_login\n")
    assert resolve_token(None) == "hf_from_login"
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    assert resolve_token(None) == "hf_from_env"
    assert resolve_token("hf_given") == "hf_given"


@pytest.mark.parametrize("status, failing_call", [(401, "repo_info"), (403, "create_commit"),
                                                  (403, "create_repo")])
def test_permission_errors_are_one_line_and_upload_nothing(first_export, tmp_path, status, failing_call):
    hub = FakeHub(files=None, download_dir=tmp_path, fail={failing_call: http_error(HfHubHTTPError, status)})
    with pytest.raises(PublishError) as err:
        publish(first_export, REPO, token="hf_test", api=hub)
    assert str(err.value) == (f"the Hub refused the token for {REPO} (HTTP {status}): use a token with write access "
                              "to that namespace")
    assert hub.files is None  # no repo left behind, not even an empty one
    assert ("delete_repo" in [call for call, _ in hub.calls]) == (failing_call == "create_commit")


def test_a_failed_commit_to_an_existing_repo_deletes_nothing(first_export, tmp_path):
    hub = FakeHub(files={"other/file.txt": b"theirs"}, download_dir=tmp_path,
                  fail={"create_commit": http_error(HfHubHTTPError, 500)})
    with pytest.raises(PublishError, match="HTTP 500"):
        publish(first_export, REPO, token="hf_test", api=hub)
    assert hub.files == {"other/file.txt": b"theirs"} and "delete_repo" not in [c for c, _ in hub.calls]


def test_unreachable_hub_is_one_line(first_export, tmp_path):
    hub = FakeHub(files=None, download_dir=tmp_path, fail={"repo_info": httpx2.ConnectError("Connection refused")})
    with pytest.raises(PublishError, match=f"^cannot reach the Hub at {ENDPOINT}: Connection refused$"):
        publish(first_export, REPO, token="hf_test", api=hub)


def test_not_an_export_folder(tmp_path):
    with pytest.raises(PublishError, match="is not an export: it has no README.md"):
        publish(tmp_path, REPO, token="hf_test", api=FakeHub())


def test_cli_without_token_exits_nonzero_with_one_line(no_login, capsys):
    assert main(["publish", "--repo-id", REPO, "--variants", "standard"]) == 5
    assert capsys.readouterr().err == ("error: no Hugging Face token: pass --token, set HF_TOKEN or log in with "
                                       "`hf auth login` (a token with write access)\n")


def test_cli_publishes_with_the_token_of_hf_auth_login(tmp_path, cache):
    """The token file in HF_HOME (what ``hf auth login`` writes), no --token and no HF_TOKEN: the real client sends
    that token to the (loopback) Hub."""
    home = tmp_path / "hf-home"
    home.mkdir()
    (home / "token").write_text("hf_from_login")
    hub = refusing_hub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {key: value for key, value in os.environ.items() if key not in ("HF_TOKEN", "HF_TOKEN_PATH")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}", HF_HUB_OFFLINE="0", HF_HOME=str(home),
               HF_HUB_DISABLE_TELEMETRY="1")
    try:
        run = subprocess.run([sys.executable, "-m", "mnist1d_hf", "publish", "--repo-id", REPO, "--variants",
                              "standard", "--cache-dir", cache], capture_output=True, text=True, env=env, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert run.returncode == 5
    assert run.stderr.strip().splitlines()[-1] == (f"error: the Hub refused the token for {REPO} (HTTP 401): use a "
                                                   "token with write access to that namespace")
    assert hub.authorizations and set(hub.authorizations) == {"Bearer hf_from_login"}


def test_cli_with_the_real_client_and_no_hub_listening(tmp_path, cache):
    port = free_port()  # bound and released: nothing listens there
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "mnist1d_hf", "publish", "--repo-id", REPO, "--variants", "standard",
                          "--token", "hf_test", "--cache-dir", cache], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 5
    (line,) = run.stderr.strip().splitlines()  # one line: no progress bars, no traceback
    assert line.startswith(f"error: cannot reach the Hub at http://127.0.0.1:{port}: ")
