"""Training Mask-CornerNet (Yang, Fan and Guo 2020), single process or data-parallel.

* ``config``        ``TrainConfig`` and the recipes ``PAPER``, ``BOOK`` and ``TINY`` (``get_config``)
* ``schedule``      Adam and the learning-rate schedule (``build_training``)
* ``loop``          ``train``: the loop from top to bottom
* ``resume``        continuing a run from its last checkpoint
* ``guard``         stopping a diverging run before it saves broken weights
* ``keep``          keeping the last N checkpoints (``--keep``)
* ``average``       the mean of a run's saved weights (``average_checkpoints``, ``mcn average``)
* ``log``           the per-iteration log and its loss curves (``plot_losses``)
* ``validation``    scoring the validation set as the run says
* ``distributed``   the process group of torchrun

The data a run reads comes from ``mcn.data.sources`` (``build_dataset``) through the
stateless stream of ``mcn.data.stream`` (``make_train_loader``); both are listed here
too, since chapter 9 walks through a run with them. Taught in chapter 9.
"""

from mcn.data.sources import build_dataset, synthetic_seeds
from mcn.data.stream import make_train_loader
from mcn.train.config import BOOK, PAPER, PRESETS, TINY, TrainConfig, get_config
from mcn.train.average import average_checkpoints
from mcn.train.log import plot_losses, read_log
from mcn.train.guard import TrainingDiverged
from mcn.train.loop import TrainResult, seed_everything, train
from mcn.train.schedule import build_training, learning_rate_factor
from mcn.train.validation import mask_module_summary, validation_metrics

__all__ = [
    "BOOK", "PAPER", "PRESETS", "TINY", "TrainConfig", "TrainResult", "TrainingDiverged",
    "average_checkpoints", "build_dataset", "build_training", "get_config", "learning_rate_factor",
    "make_train_loader", "plot_losses", "read_log", "seed_everything", "synthetic_seeds",
    "train", "mask_module_summary", "validation_metrics",
]
