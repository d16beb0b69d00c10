"""The command line: ``python cli.py fit --config cli.yaml``, then ``test``, ``validate`` or ``predict``.

Models are picked by class path in the config (``lightning_modules.Classifier`` with any ``nets`` network, or
any other LightningModule); the data is always ``MNIST1DDataModule``. See ``lightning_modules/cli.py``.
A user error prints one line and exits 2 (bad input), 3 (I/O) or 4 (too large for memory): see
``mnist1d_hf/errors.py``.
"""

from lightning_modules.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
