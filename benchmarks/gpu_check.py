"""GPU check, one command on a machine with a CUDA GPU (about 1-3 minutes; at most 5):

    python benchmarks/gpu_check.py

1. Trains ResNet-20 on CIFAR-shaped synthetic data (4,096 images of 3x32x32, 10 classes, a fixed seed) for
   ``--epochs`` epochs of 28 steps of 128 images (224 steps by default) with one static pruner (ERK) and one dynamic pruner
   (SET) at sparsity 0.9 on CUDA, deterministic kernels on; checks that the pruned weights stay exactly zero and
   that the dynamic pruner keeps its weight count; reports images per second.
2. Interrupts a second run of each after half the epochs and resumes it from its checkpoint: the resumed run must
   end with the same weights and masks, bit for bit, as the uninterrupted one.
3. Computes every topometric of torchvision ResNet-50 (3x224x224, 1,000 classes) pruned by ERK at 0.9 on the
   implicit path, the products of the eigenvalue iterations on the GPU, and prints them with their seconds.

Without CUDA it says so and exits 0 (nothing to check here). Exit code 1 if a check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


class Interrupted(Exception):
    pass


def _data(n: int, seed: int = 0):
    import torch
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    test = max(n // 8, 1)
    return TensorDataset(x[: n - test], y[: n - test]), TensorDataset(x[n - test:], y[n - test:])


def _run(pruner: str, epochs: int, images: int, device, checkpoint=None, stop_after: int | None = None):
    """(model, masks, seconds, images) of one training run; ``stop_after``: interrupt after that epoch."""
    import torch

    from sparsetopo.data import make_loader
    from sparsetopo.models import build_model
    from sparsetopo.pruning import PRUNERS, PruneContext, run_pruner
    from sparsetopo.training import TrainSettings, train

    torch.manual_seed(0)
    model = build_model("resnet20", (3, 32, 32), 10)
    masks = run_pruner(pruner, PruneContext(model=model, sparsity=0.9, seed=0, input_shape=(3, 32, 32),
                                            num_classes=10))
    spec = PRUNERS.get(pruner)
    hook = spec.dynamic(dict(spec.defaults), 0) if spec.dynamic is not None else None
    train_set, test_set = _data(images)
    loaders = make_loader(train_set, 128, True, seed=0, drop_last=True), make_loader(test_set, 256, False)

    def stop(epoch, _model):
        if stop_after is not None and epoch == stop_after + 1:
            raise Interrupted

    t0 = time.perf_counter()
    result = train(model, masks, *loaders, TrainSettings(epochs=epochs, batch_size=128), device=device, hook=hook,
                   on_epoch_end=stop, checkpoint=checkpoint)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return model, result.masks, time.perf_counter() - t0, epochs * len(loaders[0]) * 128


def check_training(pruner: str, epochs: int, images: int, device) -> list[str]:
    import torch

    from sparsetopo.models import prunable_layers
    from sparsetopo.training_state import Checkpoint

    failures = []
    model, masks, seconds, seen = _run(pruner, epochs, images, device)
    kept = sum(int(m.sum()) for m in masks.values())
    leaked = sum(int((layer.weight[~masks[name].to(layer.weight.device)] != 0).sum())
                 for name, layer in prunable_layers(model))
    print(f"  {pruner}: {seen:,} images in {seconds:.1f} s = {seen / seconds:,.0f} images/s; {kept:,} weights "
          f"kept, {leaked} pruned weights nonzero")
    if leaked:
        failures.append(f"{pruner}: {leaked} pruned weights are nonzero after training")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Checkpoint(Path(tmp) / "checkpoint.pt", fingerprint=f"gpu-check-{pruner}")
        try:
            _run(pruner, epochs, images, device, checkpoint=ckpt, stop_after=epochs // 2)
        except Interrupted:
            pass
        resumed, resumed_masks, _, _ = _run(pruner, epochs, images, device, checkpoint=ckpt)
    same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), resumed.state_dict().values())) and \
        all(torch.equal(masks[n], resumed_masks[n]) for n in masks)
    print(f"  {pruner}: interrupted after epoch {epochs // 2} and resumed: "
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
    p.add_argument("--epochs", type=int, default=8, help="epochs per training run (default 8)")
    p.add_argument("--images", type=int, default=4096, help="synthetic images (7/8 for training; default 4096)")
    p.add_argument("--skip-topometrics", action="store_true", help="only the training checks")
    p.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # "cpu": exercise the checks themselves
    args = p.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is available (torch.cuda.is_available() is False): nothing to check on this "
              "machine; run it where a GPU is")
        return 0
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = torch.device(args.device)
    start = time.perf_counter()
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu (checking the checks)"
    print(f"gpu_check on {name} (torch {torch.__version__})")
    failures = []
    for pruner in ("erk", "set"):
        failures += check_training(pruner, args.epochs, args.images, device)
    if not args.skip_topometrics:
        check_topometrics(device.type)
    print(f"gpu_check: {time.perf_counter() - start:.0f} s, " + ("all checks passed" if not failures else
                                                                  "FAILED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
