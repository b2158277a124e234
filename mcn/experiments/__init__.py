"""The paper's experiments at book scale (Yang, Fan and Guo 2020, section 4).

Each module redoes one table or figure with tiny models trained on synthetic scenes
on a CPU and returns its numbers as rows; ``mcn experiment NAME`` writes them, with
provenance, to ``data/results/experiment_NAME.json``, which chapter 11 of the book
reads:

* ``ablation``: Table 1, the five variants trained alike and scored alike.
* ``seeds``: Table 1 repeated with several training seeds: each variant's spread, and
  which differences exceed it.
* ``stacks``: Table 2, detecting from stack 1, stack 2 and their sum.
* ``proposals``: Fig. 8, the number K of corners kept per heatmap.
* ``speed``: Table 3 and Fig. 9, model size, and time and recall against input size.
* ``scales``: not in the paper: multi-scale testing, its setting chosen on validation
  scenes and scored on the test scenes.
* ``operating_point``: a trained model's accuracy and recall at one score threshold
  chosen on validation scenes (the book-scale models against the goal).
* ``corner_confusion_row``: what each class channel says at the corners of each
  class's signs (which classes a model cannot tell apart).
* ``feature_probe_row``: linear probes of a model's features at several depths (where
  what tells those classes apart is lost).
* ``false_detections_row``: a model's false boxes and missed signs at the operating
  point, sorted by cause (which errors keep it from the goal).
* ``error_costs_row``: the operating point again with each cause of false boxes taken
  out at every score (what fixing it could buy at most).
* ``paper_comparison``: the committed results of all of these beside the paper's
  figures, for every variant and preset.

``common`` holds what they share: held-out test scenes, finding and loading the
trained runs, scoring a model by the TT100K protocol.
"""

from mcn.experiments.ablation import ablation_rows, ablation_table, train_variants
from mcn.checkpoint import save_weights
from mcn.experiments.common import TEST_SEED, find_checkpoints, load_run, score, test_scenes
from mcn.experiments.corner_confusion import corner_confusion, corner_confusion_row
from mcn.experiments.error_costs import error_cost_rows, error_costs_row
from mcn.experiments.false_detections import false_detections_row, sort_errors
from mcn.experiments.feature_probe import feature_probe_row, linear_probe
from mcn.experiments.operating_point import operating_point
from mcn.experiments.paper_comparison import PAPER, paper_comparison
from mcn.experiments.proposals import plot_proposals, proposal_rows
from mcn.experiments.scales import best_setting, scale_rows, scales_experiment
from mcn.experiments.speed import plot_speed, size_rows, speed_rows, stem_stride_rows
from mcn.experiments.seeds import (differences, find_seed_checkpoints, seed_rows, spread_rows,
                                   spread_table, train_seeds)
from mcn.experiments.stacks import stack_rows, stack_table

__all__ = [
    "PAPER", "TEST_SEED", "ablation_rows", "ablation_table", "best_setting", "differences",
    "corner_confusion", "corner_confusion_row", "error_cost_rows", "error_costs_row",
    "false_detections_row", "feature_probe_row",
    "find_checkpoints", "find_seed_checkpoints", "linear_probe", "load_run", "operating_point",
    "paper_comparison", "plot_proposals", "plot_speed", "proposal_rows", "save_weights",
    "scale_rows", "scales_experiment", "score", "seed_rows", "size_rows", "sort_errors",
    "speed_rows", "spread_rows", "spread_table", "stack_rows", "stack_table",
    "stem_stride_rows", "test_scenes", "train_seeds", "train_variants",
]
