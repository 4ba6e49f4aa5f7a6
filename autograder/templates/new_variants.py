"""Typical mistakes (each must lose points) and correct rewrites (each must keep full marks) of
__ID__, one notebook cell each: autograder verify grades them (docs/authoring.md)."""

MISTAKES = {
    "p1_mean_square": ("def mean_square(x):\n    return float(np.mean(x) ** 2)",),
    "p1_columns": ("n_columns = 3",),
}
REWRITES = {
    "p1_mean_square": ("def mean_square(x):\n    return float(x @ x / len(x))",),
    "p1_columns": ("n_columns = int(load_points().shape[1])",),
}
