"""The ex08 notebook's MNIST loader reads the vendored copy in solutions/ex08/data/mnist (data/mnist
in the release) and refuses bad files.

The loader is taken from the reference solution (``solutions/ex08/ex08.py``) through
``reference_namespace``, so these tests check exactly the code students receive.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from autograder.source import reference_namespace

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "ex08" / "ex08.py"
MNIST_DIR = ROOT / "solutions" / "ex08" / "data" / "mnist"


@pytest.fixture(scope="module")
def ns():
    return reference_namespace(SOURCE)


@pytest.fixture(scope="module")
def train(ns):
    return ns["load_mnist"]("train", root=MNIST_DIR)


@pytest.fixture(scope="module")
def test(ns):
    return ns["load_mnist"]("test", root=MNIST_DIR)


def copy_mnist(tmp_path: Path) -> Path:
    target = tmp_path / "mnist"
    target.mkdir()
    for gz in MNIST_DIR.glob("*.gz"):
        shutil.copyfile(gz, target / gz.name)
    return target


@pytest.mark.parametrize(("split", "count"), [("train", 60_000), ("test", 10_000)])
def test_each_split_has_its_count_of_28x28_uint8_images_and_labels_0_to_9(
    ns, train, test, split, count
):
    images, labels = train if split == "train" else test
    assert images.shape == (count, 28, 28)
    assert labels.shape == (count,)
    assert images.dtype == np.uint8 and labels.dtype == np.uint8
    assert set(np.unique(labels).tolist()) == set(range(10))


def test_train_pixels_have_the_published_mean_and_std_after_scaling(train):
    images, _ = train
    # an exact pixel histogram, in chunks (one bincount over 47M values is slow to allocate)
    counts = sum(np.bincount(chunk.ravel(), minlength=256) for chunk in np.array_split(images, 12))
    values = np.arange(256) / 255.0
    mean = (counts * values).sum() / counts.sum()
    std = np.sqrt((counts * values**2).sum() / counts.sum() - mean**2)
    assert mean == pytest.approx(0.1307, abs=5e-5)
    assert std == pytest.approx(0.3081, abs=5e-5)


def test_notebook_normalisation_constants_match_the_data(ns):
    assert (ns["MNIST_MEAN"], ns["MNIST_STD"]) == (0.1307, 0.3081)


def test_hashes_pinned_in_the_notebook_equal_the_vendored_sha256sums(ns):
    pinned = {}
    for line in (MNIST_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        pinned[name] = digest
    assert ns["MNIST_SHA256"] == pinned


def test_dataset_holds_standardised_float_images_and_int64_labels(ns, test):
    dataset = ns["mnist_dataset"](*test)
    images, labels = dataset.tensors
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    expected_min = (0.0 - 0.1307) / 0.3081
    assert float(images.min()) == pytest.approx(expected_min, abs=1e-5)
    assert float(images.mean()) == pytest.approx(0.0, abs=0.05)  # test split: close to 0


def test_loader_is_found_from_the_assignment_folder(ns, monkeypatch):
    monkeypatch.chdir(SOURCE.parent)  # the release's layout: data/mnist beside the notebook
    assert ns["find_mnist_dir"]() == Path("data/mnist")


def test_no_mnist_folder_anywhere_is_a_clear_file_not_found_error(ns, tmp_path, monkeypatch):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    with pytest.raises(FileNotFoundError, match="data/mnist"):
        ns["load_mnist"]("train")


def test_a_missing_file_is_named_in_the_error(ns, tmp_path):
    folder = copy_mnist(tmp_path)
    (folder / "train-labels.idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"train-labels\.idx1-ubyte\.gz") as info:
        ns["load_mnist"]("train", root=folder)
    assert "missing" in str(info.value) and "data/mnist" in str(info.value)


def test_a_corrupted_file_is_refused_with_its_name_and_hash(ns, tmp_path):
    folder = copy_mnist(tmp_path)
    victim = folder / "t10k-images.idx3-ubyte.gz"
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # flip one bit in the middle
    victim.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"t10k-images\.idx3-ubyte\.gz") as info:
        ns["load_mnist"]("test", root=folder)
    message = str(info.value)
    assert "SHA-256" in message and ns["MNIST_SHA256"][victim.name] in message


def test_a_truncated_file_is_refused(ns, tmp_path):
    folder = copy_mnist(tmp_path)
    victim = folder / "t10k-labels.idx1-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(ValueError, match="corrupt"):
        ns["load_mnist"]("test", root=folder)


def test_an_unknown_split_is_rejected(ns):
    with pytest.raises(ValueError, match="split"):
        ns["load_mnist"]("validation", root=MNIST_DIR)
