"""What `detector train` shows while it works: a progress bar over the epochs (tqdm), with the
losses and the time left at most (early stopping usually ends sooner)."""

from __future__ import annotations

import sys
from typing import Any

BAR_FORMAT = ("{desc}: {n_fmt}/{total_fmt} epochs |{bar}| {elapsed} elapsed, at most "
              "{remaining} left{postfix}")


def epoch_bar(epochs: int, desc: str = "training") -> Any:
    """A Keras callback drawing one tqdm bar over `epochs` epochs on stderr."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    from detector.core.quiet import import_keras

    keras = import_keras()

    class EpochBar(keras.callbacks.Callback):  # type: ignore[name-defined]
        """The bar: one step per epoch, the last losses after it."""

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.bar = tqdm(total=epochs, desc=desc, unit="epoch", file=sys.stderr,
                            bar_format=BAR_FORMAT, dynamic_ncols=True, mininterval=0.5)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            shown = {k: f"{logs[k]:.4g}" for k in ("loss", "val_loss") if k in logs}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs: dict | None = None) -> None:
            self.bar.close()

    return EpochBar()
