"""Seconds for notebook 07's recipe to reach 99 % MNIST test accuracy: on the CPU, and on CUDA when there is one.

The network is the solution notebook's own ``MNISTConvNet`` (loaded with
``autograder.solutions.solution_namespace``), trained with the notebook's recipe
(``cnnlab.training.RECIPE``: Adam, one-cycle to 1e-2, batches of 128, 3 epochs) from in-memory
tensors. The test set is evaluated every quarter epoch; the clock counts training only
(evaluations and the first warm-up step are excluded). A benchmark, not a test::

    .venv/bin/python bench/mnist_time_to_99.py [--devices cpu,cuda] [--target 0.99]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as in the notebook: waiting threads sleep

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from autograder.exercises.mnist_convnet import count_correct  # noqa: E402
from autograder.solutions import solution_namespace  # noqa: E402
from cnnlab.data import DataMissing, TensorLoader, mnist_tensors  # noqa: E402
from cnnlab.device import describe  # noqa: E402
from cnnlab.training import RECIPE  # noqa: E402

CHECKS_PER_EPOCH = 4
NOTEBOOK = "07_mnist_convnet"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_to_target(network: type, device: torch.device, target: float) -> dict:
    """Train with the recipe on ``device``; return when (epochs, seconds) the test accuracy first reached ``target``."""
    x_train, y_train = mnist_tensors(train=True, device=device)
    x_test, y_test = mnist_tensors(train=False, device=device)
    torch.manual_seed(RECIPE.seed)
    model = network().to(device)
    loader = TensorLoader(x_train, y_train, batch_size=RECIPE.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(RECIPE.seed))
    steps = len(loader)
    optimizer = torch.optim.Adam(model.parameters(), lr=RECIPE.max_lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=RECIPE.max_lr, epochs=RECIPE.epochs,
                                                    steps_per_epoch=steps)
    # warm-up: one forward and backward pass on a throwaway copy (CUDA context, cuDNN, allocator)
    warm = network().to(device)
    F.cross_entropy(warm(x_train[:RECIPE.batch_size]), y_train[:RECIPE.batch_size]).backward()
    _sync(device)
    checkpoints = {round(steps * k / CHECKS_PER_EPOCH) for k in range(1, CHECKS_PER_EPOCH + 1)}
    trained, accuracy, rows = 0.0, 0.0, []
    for epoch in range(RECIPE.epochs):
        model.train()
        start = time.perf_counter()
        for step, (x, y) in enumerate(loader, start=1):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
            if step in checkpoints:
                _sync(device)
                trained += time.perf_counter() - start
                model.eval()
                accuracy = count_correct(model, x_test, y_test, RECIPE.test_batch_size) / len(y_test)
                model.train()
                epochs = epoch + step / steps
                rows.append((epochs, trained, accuracy))
                print(f"  {device.type}: epoch {epochs:4.2f}  {trained:6.1f} s of training  "
                      f"test accuracy {accuracy:.2%}", flush=True)
                if accuracy >= target:
                    return {"reached": True, "epochs": epochs, "seconds": trained, "accuracy": accuracy}
                start = time.perf_counter()
    return {"reached": False, "epochs": float(RECIPE.epochs), "seconds": trained, "accuracy": accuracy}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", default="cpu,cuda", help="comma-separated, e.g. cpu or cpu,cuda")
    parser.add_argument("--target", type=float, default=0.99, help="test accuracy to reach (default 0.99)")
    args = parser.parse_args(argv)
    print(f"notebook 07 recipe: {RECIPE}; target {args.target:.1%}; torch {torch.__version__}")
    network = solution_namespace(NOTEBOOK).MNISTConvNet
    for name in [d.strip() for d in args.devices.split(",") if d.strip()]:
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            print(f"{name}: skipped: no CUDA")
            continue
        print(f"{name}: {describe(device)}")
        try:
            result = time_to_target(network, device, args.target)
        except DataMissing as err:
            print(f"MNIST is missing: {err}")
            return 1
        if result["reached"]:
            print(f"{name}: {result['seconds']:.1f} s to {args.target:.1%} "
                  f"({result['epochs']:.2f} epochs, test accuracy {result['accuracy']:.2%})")
        else:
            print(f"{name}: did not reach {args.target:.1%} in {RECIPE.epochs} epochs "
                  f"({result['seconds']:.1f} s, final test accuracy {result['accuracy']:.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
