"""``python -m mnist1d_hf``: generate, inspect and plot any variant from the shell.

A user error prints one line, ``error: ...``, and exits with the code of its kind (2 bad input, 3 I/O (a
missing folder for ``--out`` included), 4 too large for memory, 5 publishing refused, 130 Ctrl-C, 143 SIGTERM;
see ``mnist1d_hf.errors``); nothing partial is left behind.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import require_parent_folder, write_folder
from .config import MNIST1DConfig, field_names
from .errors import ConfigError, Terminated, exit_code, one_line, terminate_on_sigterm
from .generate import MNIST1DData, check_fits_in_memory, generate
from .variants import VARIANTS, variant_config

def parse_override(text: str) -> tuple[str, Any]:
    """``name=value`` with a JSON value (``padding=[30,50]``, ``shuffle_seq=true``) or a bare string."""
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--set {text!r}: expected name=value")
    if name not in field_names():
        raise argparse.ArgumentTypeError(f"--set {text!r}: unknown field {name!r}; known: {', '.join(field_names())}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name, value


def add_config_arguments(parser: argparse.ArgumentParser, variant_help: str = "named variant") -> None:
    parser.add_argument("--variant", default="standard", choices=list(VARIANTS), help=variant_help)
    parser.add_argument("--set", dest="overrides", metavar="NAME=VALUE", type=parse_override, action="append",
                        default=[], help="override one knob (repeatable), e.g. --set max_translation=20")


def config_from_args(args: argparse.Namespace) -> MNIST1DConfig:
    return variant_config(args.variant, **dict(args.overrides))


def save(data: MNIST1DData, folder: Path, fmt: str) -> list[Path]:
    """``config.json`` plus ``mnist1d.npz`` or, for the reference package's loaders, ``mnist1d_data.pkl``."""
    (folder / "config.json").write_text(json.dumps(data.config.to_dict(), indent=2) + "\n")
    if fmt == "npz":
        path = folder / "mnist1d.npz"
        np.savez(path, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test,
                 t=data.t, templates=data.templates)
    else:
        path = folder / "mnist1d_data.pkl"
        with open(path, "wb") as f:
            pickle.dump(data.as_legacy_dict(), f, protocol=3)
    return [folder / "config.json", path]


def cmd_generate(args: argparse.Namespace) -> None:
    cfg = config_from_args(args)
    check_fits_in_memory(cfg)

    def fill(tmp: Path) -> None:  # generated inside the new folder's build, so a bad --out fails first
        data = generate(cfg) if cfg.mode == "reference" else generate(cfg, workers=args.workers)
        save(data, tmp, args.format)

    write_folder(args.out, fill)
    print(f"wrote {cfg.num_train} train / {cfg.num_test} test examples of length "
          f"{cfg.final_seq_length} to {args.out}")


def cmd_show(args: argparse.Namespace) -> None:
    cfg = config_from_args(args)
    print(json.dumps({**cfg.to_dict(), "num_train": cfg.num_train, "num_test": cfg.num_test}, indent=2))


def cmd_plot(args: argparse.Namespace) -> None:
    from .plot import plot_examples

    cfg = config_from_args(args)
    require_parent_folder(args.out)
    plot_examples(generate(cfg), args.out)
    print(f"wrote {args.out}")


def selected_configs(args: argparse.Namespace) -> dict[str, MNIST1DConfig]:
    """``--variants a b`` (default: all named variants), or one config from ``--variant``/``--set``/``--name``."""
    single = args.variant is not None or args.overrides or args.name
    if single and args.variants:
        raise ConfigError("--variants takes named variants; for one custom config use --variant, --set and --name "
                         "without --variants")
    if not single:
        return {name: variant_config(name) for name in args.variants or VARIANTS}
    args.variant = args.variant or "standard"
    name = args.name or (None if args.overrides else args.variant)
    if name is None:
        raise ConfigError("--set makes a custom config: name it with --name (e.g. --name no_translation)")
    return {name: config_from_args(args)}


def add_hub_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, variant_help="base variant of one custom config (with --set and --name)")
    parser.set_defaults(variant=None)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), metavar="NAME",
                        help=f"named variants (default: all of {', '.join(VARIANTS)})")
    parser.add_argument("--name", help="config name of the custom variant made by --variant and --set")
    parser.add_argument("--cache-dir", help="datasets cache (default: the Hugging Face cache)")


def cmd_export(args: argparse.Namespace) -> None:
    from .export import export

    configs = selected_configs(args)
    export(configs, args.out, repo_id=args.repo_id, cache_dir=args.cache_dir)
    print(f"exported {', '.join(configs)} to {args.out}")


def cmd_publish(args: argparse.Namespace) -> None:
    from .export import write_export
    from .publish import publish, resolve_token

    import datasets

    configs = selected_configs(args)
    token = resolve_token(args.token)
    datasets.disable_progress_bars()  # a failure is then the one line on stderr, not bars and a line
    with tempfile.TemporaryDirectory(prefix="mnist1d-export-") as tmp:
        write_export(configs, Path(tmp), repo_id=args.repo_id, cache_dir=args.cache_dir)
        url = publish(Path(tmp), args.repo_id, token=token, private=args.private, overwrite=args.overwrite)
    print(f"published {', '.join(configs)} to {args.repo_id}: {url}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist1d_hf", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="generate a variant and save it as .npz (or the legacy .pkl)")
    add_config_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="new folder to write (its parent must exist)")
    p.add_argument("--format", choices=["npz", "pkl"], default="npz")
    p.add_argument("--workers", type=int, default=None, help="threads for mode=fast (default: all cores)")
    p.set_defaults(run=cmd_generate)

    p = sub.add_parser("show", help="print the resolved config of a variant")
    add_config_arguments(p)
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("plot", help="plot templates and transformed examples per class (the paper's Figure 1)")
    add_config_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="PNG file to write (its folder must exist)")
    p.set_defaults(run=cmd_plot)

    p = sub.add_parser("export", help="write variants as a folder laid out like a Hub dataset repo")
    add_hub_arguments(p)
    p.add_argument("--out", type=Path, default=Path("mnist1d"),
                   help="new folder to write, in an existing folder (default: mnist1d, so "
                        "load_dataset(\"mnist1d\", ...) reads it)")
    p.add_argument("--repo-id", default="OWNER/mnist1d", help="repo named in the card's loading example")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("publish", help="upload variants to a Hub dataset repo in one commit")
    add_hub_arguments(p)
    p.add_argument("--repo-id", required=True, help="OWNER/NAME of the dataset repo (created if missing)")
    p.add_argument("--token", help="Hugging Face token with write access (default: as every Hugging Face tool "
                                   "finds it: $HF_TOKEN, then the token saved by `hf auth login`)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--overwrite", action="store_true", help="replace configs already on the Hub")
    p.set_defaults(run=cmd_publish)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user error becomes ``error: <one line>`` on stderr and its exit code (a bug raises)."""
    args = build_parser().parse_args(argv)
    try:
        with terminate_on_sigterm():
            args.run(args)
    except (Exception, KeyboardInterrupt, Terminated) as err:
        code = exit_code(err)
        if code is None:
            raise
        print(f"error: {one_line(err)}", file=sys.stderr)
        return code
    return 0
