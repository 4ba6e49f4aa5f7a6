"""Train the ex08 reference MNIST model as the notebook does and report its test accuracy.

Runs the notebook's own ``run_mnist_training`` (reference solution, vendored data in
solutions/ex08/data/mnist) with the notebook's settings: learning rate 5e-3, batch size 128,
2 epochs, CPU, seed 0. Prints
the test accuracy after each epoch and the wall time, and exits with status 1 when the final
accuracy is below the 96 % the exercise promises.

Usage (from the repository root): ``python scripts/mnist_accuracy.py [--epochs N] [--threads T]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.source import reference_namespace  # noqa: E402

REQUIRED_ACCURACY = 0.96


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--verbose", action="store_true", help="show the per-batch log")
    args = parser.parse_args()

    folder = ROOT / "solutions" / "ex08"
    os.chdir(folder)  # the notebook finds data/mnist relative to the working directory
    start = time.perf_counter()
    ns = reference_namespace(folder / "ex08.py")
    torch = ns["torch"]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")

    log = io.StringIO()
    train_start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stdout if args.verbose else log):
        result = ns["run_mnist_training"](
            num_epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            device="cpu",
            seed=args.seed,
        )
    train_time = time.perf_counter() - train_start

    for epoch, (loss, accuracy) in enumerate(
        zip(result["val_loss"], result["val_accuracy"], strict=True), start=1
    ):
        print(f"epoch {epoch}: test accuracy {100 * accuracy:.2f} %  (test loss {loss:.4f})")
    final = result["test_accuracy"]
    print(f"final test accuracy {100 * final:.2f} % (required >= {100 * REQUIRED_ACCURACY:.0f} %)")
    print(f"wall time: training {train_time:.1f} s, total {time.perf_counter() - start:.1f} s")
    return 0 if final >= REQUIRED_ACCURACY else 1


if __name__ == "__main__":
    sys.exit(main())
