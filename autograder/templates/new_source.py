# %% [markdown]
# # __ID__ — a new assignment (edit this text)
#
# Replace every `raise NotImplementedError(...)` with your code, keeping the names of functions
# and variables: the grader calls them with other inputs than the notebook's. After a question,
# run `grader.check("<question id>")`: the public checks are quick sanity checks, your grade comes
# from hidden tests. Keep this notebook next to the `data/` and `tests/` folders.

# %%
from pathlib import Path

import numpy as np

# %% [markdown]
# ## Given code
#
# `load_points` reads `data/points.csv` (two columns, x and y), relative to the notebook's folder.

# %%
def load_points() -> np.ndarray:
    """The points of data/points.csv as an (N, 2) array."""
    return np.loadtxt(Path("data") / "points.csv", delimiter=",", skiprows=1)


# %% [markdown]
# A demo cell (tagged `otter_ignore`): students run it, grading skips it.

# %% tags=["otter_ignore"]
points = load_points()
print("points:", points.shape)

# %% [raw]
# # BEGIN QUESTION
# name: p1_mean_square

# %% [markdown]
# **Question (p1_mean_square).** Implement `mean_square(x)`: the mean of the squares of the
# entries of a 1-d array `x`, as one Python float.

# %% [raw]
# # BEGIN SOLUTION

# %%
def mean_square(x: np.ndarray) -> float:
    """The mean of the squared entries of x."""
    # BEGIN SOLUTION NO PROMPT
    return float(np.mean(x**2))
    # END SOLUTION
    """ # BEGIN PROMPT
    raise NotImplementedError("p1_mean_square: the mean of the squares of x")
    """ # END PROMPT


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_mean_square_small(mean_square):
    import numpy as np

    assert abs(mean_square(np.array([1.0, 3.0])) - 5.0) < 1e-12, "mean_square of [1, 3]"
    assert isinstance(mean_square(np.zeros(3)), float), "return a Python float"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p1_columns

# %% [markdown]
# **Question (p1_columns).** Set `n_columns` to the number of columns of `data/points.csv` (an
# int; count them in the file).

# %% [raw]
# # BEGIN SOLUTION

# %%
n_columns = 2  # SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_p1_columns_is_an_int(n_columns):
    assert isinstance(n_columns, int) and n_columns > 0, "n_columns should be a positive int"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: p1_explain
# manual: true

# %% [markdown]
# **Question (p1_explain).** In one sentence: why is a mean of squares never negative?

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# Each square is at least zero, and so is their mean.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Submission
#
# Save the notebook, then run the cell below: it runs the public checks and writes a zip to
# upload.

# %% tags=["otter_ignore"]
import warnings  # noqa: E402

# otter shows what the kernel running the checks printed as a warning; when that is only
# the kernel's own notice (it talks to otter over TCP without encryption), it is hidden
warnings.filterwarnings("ignore", r"(\[IPKernelApp\] WARNING \| .*\n?)+\Z", RuntimeWarning)
grader.export(pdf=False, run_tests=True)  # noqa: F821
