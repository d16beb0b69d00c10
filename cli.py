"""The command line: ``python cli.py fit --config cli.yaml``, then ``test``, ``validate`` or ``predict``.

Models are picked by class path in the config (``lightning_modules.Classifier`` with any ``nets`` network, or
any other LightningModule); the data is always ``MNIST1DDataModule``. See ``lightning_modules/cli.py``.
"""

from lightning_modules.cli import build_cli

if __name__ == "__main__":
    build_cli()
