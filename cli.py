"""The command line: ``python cli.py fit --config cli.yaml``, then ``test``, ``validate`` or ``predict``.

Models are picked by class path in the config (``lightning_modules.Classifier`` with any ``nets`` network, or
any other LightningModule); the data is always ``MNIST1DDataModule``. See ``lightning_modules/cli.py``.
A user error prints one line and exits 2 (bad input), 3 (I/O, a missing checkpoint included) or 4 (too large
for memory); Ctrl-C exits 130 and SIGTERM 143, a fit after saving its last step: see ``mnist1d_hf/errors.py``
and ``docs/reliability.md``.
"""

import sys

if __name__ == "__main__":
    try:
        from lightning_modules.cli import main  # torch and Lightning take seconds to import
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(main())
