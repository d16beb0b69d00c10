"""Publish an export to a Hub dataset repo in ONE commit, so a failure leaves the repo exactly as it was.

Adding configs to a repo keeps the configs already there: the card's YAML is merged and the card re-rendered.
Every failure becomes a ``PublishError`` with a one-line message, raised before anything is uploaded; a repo
created here is deleted again when its first commit fails, so the Hub is left exactly as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard, DatasetCardData, HfApi, get_token
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

from .builder import VERSION
from .card import config_names, merge_card_data, render_card
from .errors import HubError

Operation = CommitOperationAdd | CommitOperationDelete


class PublishError(HubError):
    """A one-line reason why nothing was published."""


def publish(export_dir: Path, repo_id: str, *, token: str | None = None, private: bool = False,
            overwrite: bool = False, api: HfApi | None = None) -> str:
    """Upload the export folder's configs to ``repo_id`` (created if missing); returns the commit URL.

    Configs already on the Hub under the same name are refused unless ``overwrite``. The token comes from
    ``token``, else from where every Hugging Face tool finds it (``resolve_token``).
    """
    token = resolve_token(token)
    api = api or HfApi(token=token)
    card_path = Path(export_dir) / "README.md"
    if not card_path.is_file():
        raise PublishError(f"{export_dir} is not an export: it has no README.md")
    local = DatasetCard.load(card_path).data
    with hub_errors(repo_id, api.endpoint):
        try:
            parent = api.repo_info(repo_id, repo_type="dataset").sha
        except RepositoryNotFoundError:
            parent = None
        remote_files = api.list_repo_files(repo_id, repo_type="dataset", revision=parent) if parent else []
        remote_card = remote_card_data(api, repo_id, parent) if "README.md" in remote_files else None
        operations = commit_operations(Path(export_dir), local, repo_id, remote_files, remote_card, overwrite)
        message = f"Add MNIST-1D configs {', '.join(config_names(local))} (generator {VERSION})"
        if parent is not None:
            return api.create_commit(repo_id, operations, repo_type="dataset", parent_commit=parent,
                                     commit_message=message).commit_url
        api.create_repo(repo_id, repo_type="dataset", private=private)
        try:
            return api.create_commit(repo_id, operations, repo_type="dataset", parent_commit=None,
                                     commit_message=message).commit_url
        except BaseException:
            _delete_created_repo(api, repo_id)
            raise


def _delete_created_repo(api: HfApi, repo_id: str) -> None:
    """Remove the repo this publish created, after its commit failed; a failure here must not hide the first."""
    try:
        api.delete_repo(repo_id, repo_type="dataset")
    except Exception as err:  # noqa: BLE001 - the commit's error is the one to report
        print(f"warning: could not delete the empty repo {repo_id} created for this publish: "
              f"{(str(err).strip().splitlines() or [type(err).__name__])[0]}", file=sys.stderr)


def resolve_token(token: str | None) -> str:
    """``token``, else ``huggingface_hub.get_token()`` (``HF_TOKEN``, then the file ``hf auth login`` saved):
    checked before any work so a missing token fails at once."""
    token = token or get_token()
    if not token:
        raise PublishError("no Hugging Face token: pass --token, set HF_TOKEN or log in with `hf auth login` "
                           "(a token with write access)")
    return token


def commit_operations(export_dir: Path, local: DatasetCardData, repo_id: str, remote_files: list[str],
                      remote_card: DatasetCardData | None, overwrite: bool) -> list[Operation]:
    """Every file of the export, with README.md merged into the card on the Hub; with ``overwrite``, the
    replaced configs' stale files are deleted in the same commit."""
    names = config_names(local)
    remote_names = set(config_names(remote_card) if remote_card else []) | {
        path.split("/", 1)[0] for path in remote_files if "/" in path}
    clashes = sorted(set(names) & remote_names)
    if clashes and not overwrite:
        raise PublishError(f"config(s) {', '.join(clashes)} already on {repo_id}; pass --overwrite to replace them")

    files = sorted(p for p in export_dir.rglob("*") if p.is_file() and p.name != "README.md")
    uploads = {p.relative_to(export_dir).as_posix(): p for p in files}
    merged = merge_card_data(local, into=remote_card)
    operations: list[Operation] = [
        CommitOperationDelete(path_in_repo=path) for path in sorted(remote_files)
        if path.split("/", 1)[0] in clashes and path not in uploads]
    operations += [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(p)) for path, p in uploads.items()]
    operations.append(CommitOperationAdd(path_in_repo="README.md",
                                         path_or_fileobj=render_card(merged, repo_id).encode()))
    return operations


def remote_card_data(api: HfApi, repo_id: str, revision: str) -> DatasetCardData:
    path = api.hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=revision)
    return DatasetCard.load(path).data


@contextmanager
def hub_errors(repo_id: str, endpoint: str) -> Iterator[None]:
    """Turn the Hub's exceptions into one-line PublishErrors that say what to do."""
    try:
        yield
    except HfHubHTTPError as err:
        status = err.response.status_code
        if status in (401, 403):
            raise PublishError(f"the Hub refused the token for {repo_id} (HTTP {status}): use a token with write "
                               "access to that namespace") from err
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise PublishError(f"the Hub answered HTTP {status} for {repo_id}: {first_line}") from err
    except OfflineModeIsEnabled as err:
        raise PublishError("offline mode is on (HF_HUB_OFFLINE=1): unset it to publish") from err
    except (httpx2.TransportError, ConnectionError) as err:
        raise PublishError(f"cannot reach the Hub at {endpoint}: {err}") from err
