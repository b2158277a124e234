"""One side of ``mcn.benchmarks.train_step``: times full training steps on request.

Run as a script (``python step_worker.py SPEC_JSON``), with ``PYTHONPATH`` pointing at
the ``mcn`` package to measure: the current one, or an older revision exported by
``train_step``. It builds one model and one real batch (synthetic scenes, targets,
the detection loss, Adam, gradient clipping), then answers each line "STEPS" on stdin
with the seconds each step took, as one JSON list on stdout. Only names that every
revision of ``mcn`` has are used, so old and new code run the very same recipe. Taught
in chapter 9.
"""

import json
import sys
import time


def build_step(spec: dict):
    import dataclasses

    import numpy as np
    import torch

    from mcn.data import SyntheticSigns, collate, eval_transform
    from mcn.losses import LossWeights, detection_loss
    from mcn.models import build_model, get_preset
    from mcn.targets import build_targets

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    base = get_preset("tiny")
    known = {f.name for f in dataclasses.fields(base)}
    sizes = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["model_config"].items() if k in known}
    config = base.replace(**sizes)
    classes = spec["classes"]
    model = build_model(spec["variant"], len(classes), config).train()
    scenes = SyntheticSigns(spec["batch"], config.input_size, 0, tuple(classes), signs_per_image=8.0)
    transform = eval_transform(config.input_size)
    images, targets = collate([transform(*scenes[i], rng=np.random.default_rng(i))
                               for i in range(spec["batch"])])
    targets = [{k: t[k] for k in ("boxes", "labels", "masks")} for t in targets]
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    weights = LossWeights(pull=1.0, push=1.0)

    def step() -> None:
        goal = build_targets(targets, len(classes), tuple(images.shape[-2:]), model.stride,
                             model.mask_stride)
        losses = detection_loss(model(images), goal, weights)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()

    return step


def main() -> None:
    step = build_step(json.loads(sys.argv[1]))
    step()  # warm-up: first-call allocations
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        print(json.dumps(times), flush=True)


if __name__ == "__main__":
    main()
