"""GPU check, one command on a machine with a CUDA GPU (target: at most 5 minutes on one GPU):

    python benchmarks/gpu_check.py

1. Trains ResNet-20 on CIFAR-shaped synthetic data (3x32x32, 10 classes, a fixed seed) for ``--steps`` optimiser
   steps of ``--batch`` images (224 steps of 128 images in 8 epochs by default) with one static pruner (ERK) and
   one dynamic pruner (SET, which moves weights after every epoch but the last) at sparsity 0.9 on CUDA,
   deterministic kernels on. Checks that the masks hold: every pruned weight is exactly zero after training, the
   static masks are the initial ones, the dynamic pruner keeps each layer's weight count (and moved some weights).
   Reports images per second.
2. Interrupts a second run of each after half the epochs and resumes it from its checkpoint: the resumed run must
   end with the same weights and masks, bit for bit, as the uninterrupted one.
3. Computes every topometric of torchvision ResNet-50 (3x224x224, 1,000 classes) pruned by ERK at 0.9 on the
   implicit path, the products of the eigenvalue iterations on the GPU, and prints them with their seconds.

Without CUDA it says so and exits 0 (nothing to check there). Exit code 1 if a check fails. The checks themselves
run on the CPU too, in seconds (tests/test_implicit.py does this):

    python benchmarks/gpu_check.py --device cpu --steps 6 --epochs 3 --batch 16 --skip-imagenet
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

#: Seconds the whole check should take on one GPU.
TARGET_SECONDS = 300


class Interrupted(Exception):
    pass


def _data(train: int, test: int, seed: int = 0):
    """CIFAR-shaped synthetic (train, test) datasets: Gaussian images, uniform labels, a fixed seed."""
    import torch
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(train + test, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (train + test,), generator=g)
    return TensorDataset(x[:train], y[:train]), TensorDataset(x[train:], y[train:])


def _run(pruner: str, args, device, checkpoint=None, stop_after: int | None = None):
    """(model, initial masks, final masks, seconds, images seen) of one training run; ``stop_after``: interrupt
    after that epoch."""
    import torch

    from sparsetopo.data import make_loader
    from sparsetopo.models import build_model
    from sparsetopo.pruning import PRUNERS, PruneContext, run_pruner
    from sparsetopo.training import TrainSettings, train
    from sparsetopo.training_settings import dense_weight_decay

    torch.manual_seed(0)
    model = build_model("resnet20", (3, 32, 32), 10)
    masks = run_pruner(pruner, PruneContext(model=model, sparsity=0.9, seed=0, input_shape=(3, 32, 32),
                                            num_classes=10))
    initial = {n: m.clone() for n, m in masks.items()}
    spec = PRUNERS.get(pruner)
    hook = spec.dynamic(dict(spec.defaults), 0) if spec.dynamic is not None else None
    per_epoch = args.steps // args.epochs
    train_set, test_set = _data(per_epoch * args.batch, 2 * args.batch)
    loaders = (make_loader(train_set, args.batch, True, seed=0, drop_last=True),
               make_loader(test_set, 2 * args.batch, False))

    def stop(epoch, _model):
        if stop_after is not None and epoch == stop_after + 1:
            raise Interrupted

    settings = TrainSettings(weight_decay=dense_weight_decay("resnet20"), epochs=args.epochs, batch_size=args.batch)
    t0 = time.perf_counter()
    result = train(model, masks, *loaders, settings, device=device, hook=hook, on_epoch_end=stop,
                   checkpoint=checkpoint)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return model, initial, result.masks, time.perf_counter() - t0, args.epochs * per_epoch * args.batch


def mask_problems(pruner: str, model, initial: dict, final: dict, dynamic: bool) -> list[str]:
    """What breaks the masks: pruned weights not zero, a static mask changed, a dynamic layer's count changed (or,
    for a dynamic pruner, no weight moved at all)."""
    from sparsetopo.models import prunable_layers

    problems = []
    leaked = sum(int((layer.weight.detach().cpu()[~final[name].cpu()] != 0).sum())
                 for name, layer in prunable_layers(model))
    if leaked:
        problems.append(f"{pruner}: {leaked} pruned weights are nonzero after training")
    changed = sum(int((initial[n].cpu() != final[n].cpu()).sum()) for n in initial)
    if not dynamic and changed:
        problems.append(f"{pruner}: the static masks changed at {changed} positions")
    if dynamic:
        counts = [n for n in initial if int(initial[n].sum()) != int(final[n].sum())]
        if counts:
            problems.append(f"{pruner}: the weight count of {len(counts)} layers changed ({counts[0]} first)")
        if not changed:
            problems.append(f"{pruner}: the dynamic pruner moved no weight")
    return problems


def check_training(pruner: str, args, device) -> list[str]:
    """Mask and resume checks of one pruner (prints what it finds); the failures found."""
    import torch

    from sparsetopo.pruning import PRUNERS
    from sparsetopo.training_state import Checkpoint

    dynamic = PRUNERS.get(pruner).dynamic is not None
    model, initial, masks, seconds, seen = _run(pruner, args, device)
    kept = sum(int(m.sum()) for m in masks.values())
    moved = sum(int((initial[n].cpu() != masks[n].cpu()).sum()) for n in initial) // 2
    failures = mask_problems(pruner, model, initial, masks, dynamic)
    print(f"  {pruner}: {seen:,} images in {seconds:.1f} s = {seen / seconds:,.0f} images/s; {kept:,} weights kept"
          f"{f', {moved:,} moved' if dynamic else ''}; masks {'hold' if not failures else 'BROKEN'}")
    half = args.epochs // 2
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Checkpoint(Path(tmp) / "checkpoint.pt", fingerprint=f"gpu-check-{pruner}")
        try:
            _run(pruner, args, device, checkpoint=ckpt, stop_after=half)
        except Interrupted:
            pass
        resumed, _, resumed_masks, _, _ = _run(pruner, args, device, checkpoint=ckpt)
    same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), resumed.state_dict().values())) and \
        all(torch.equal(masks[n], resumed_masks[n]) for n in masks)
    print(f"  {pruner}: interrupted after epoch {half} of {args.epochs} and resumed: "
          f"{'identical weights and masks' if same else 'DIFFERENT from the uninterrupted run'}")
    if not same:
        failures.append(f"{pruner}: the resumed run differs from the uninterrupted one")
    return failures


def check_topometrics(device: str) -> None:
    import torch

    from sparsetopo.metrics.implicit import network_topometrics
    from sparsetopo.models import build_model
    from sparsetopo.pruning import PruneContext, apply_masks, run_pruner

    torch.manual_seed(0)
    net = build_model("resnet50", (3, 224, 224), 1000)
    masks = run_pruner("erk", PruneContext(model=net, sparsity=0.9, seed=0, input_shape=(3, 224, 224),
                                           num_classes=1000))
    with torch.no_grad():
        apply_masks(net, masks)
    values, info = network_topometrics(net.eval(), (3, 224, 224), method="implicit", device=device,
                                       motif_budget_seconds=30.0)
    print(f"  ResNet-50 ERK 0.9: {int(values['edges']):,} edges, {info['method']} path, {info['seconds']:.1f} s")
    for k, v in values.items():
        print(f"    {k:<22} {v:.10g}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=224, help="optimiser steps per training run (default 224)")
    p.add_argument("--epochs", type=int, default=8, help="epochs the steps are spread over (default 8; >= 2)")
    p.add_argument("--batch", type=int, default=128, help="images per step (default 128)")
    p.add_argument("--skip-imagenet", action="store_true", help="leave out the ResNet-50 topometrics (step 3)")
    p.add_argument("--device", default="cuda", help="cuda (default), or cpu to exercise the checks themselves")
    args = p.parse_args(argv)
    if args.epochs < 2 or args.steps < args.epochs:
        p.error(f"--epochs must be at least 2 and --steps at least --epochs (got {args.epochs} and {args.steps}): "
                "the resume check interrupts a run after half its epochs")
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is available (torch.cuda.is_available() is False): nothing to check on this "
              "machine; run it where a GPU is")
        return 0
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = torch.device(args.device)
    start = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (checking the checks)"
    print(f"gpu_check on {name} (torch {torch.__version__}): {args.steps} steps of {args.batch} images in "
          f"{args.epochs} epochs per run")
    failures = []
    for pruner in ("erk", "set"):
        failures += check_training(pruner, args, device)
    if not args.skip_imagenet:
        check_topometrics(device.type)
    seconds = time.perf_counter() - start
    target = f" (target {TARGET_SECONDS} s on one GPU: {'met' if seconds <= TARGET_SECONDS else 'NOT met'})" \
        if device.type == "cuda" else ""
    print(f"gpu_check: {seconds:.0f} s{target}, " + ("all checks passed" if not failures else
                                                     "FAILED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
