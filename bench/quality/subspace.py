"""A linear-subspace detector of window levels: PCA's residual Q and Hotelling's T² (pure NumPy).

The AE sees each window with its slow channels centred and scores how badly it rebuilds it; what
it gives up is where the channels stand. Here each window is its vector of channel means, scaled
by the fitting windows' means and deviations; PCA of the fitting windows keeps the fewest
components that explain `VARIANCE` of their variance. Q is the squared norm of what lies outside
that subspace (a relation between channels broken), T² the squared distance inside it, each
component over its variance (levels moved along the usual directions, further than usual), as in
the benchmark's T²+Q. Each statistic is calibrated as the AE's error is: POT on the held-out
windows at its share of the false-alarm budget, times its own held-out gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.core.calibration import calibrate
from detector.core.windows import windows_by_device

VARIANCE = 0.9  # the share of the fitting windows' variance the subspace keeps
STATISTICS = ("q", "t2")


@dataclass(frozen=True)
class Subspace:
    """A PCA of scaled window means: the scaling, the kept components and their variances."""

    mean: np.ndarray  # (d,)
    std: np.ndarray  # (d,)
    components: np.ndarray  # (d, k), orthonormal columns
    variances: np.ndarray  # (k,)

    def statistics(self, levels: np.ndarray) -> dict[str, np.ndarray]:
        """Q and T² of (n, d) window means."""
        z = (levels - self.mean) / self.std
        inside = z @ self.components
        outside = z - inside @ self.components.T
        return {"q": np.einsum("ij,ij->i", outside, outside),
                "t2": (inside**2 / self.variances).sum(axis=1)}


def fit_subspace(levels: np.ndarray, variance: float = VARIANCE) -> Subspace:
    """The subspace of the fitting windows' (n, d) means: 1 to d − 1 components."""
    mean = levels.mean(axis=0)
    std = levels.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    z = (levels - mean) / std
    eigenvalues, vectors = np.linalg.eigh(np.cov(z, rowvar=False).reshape(z.shape[1], -1))
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, vectors = np.clip(eigenvalues[order], 1e-12, None), vectors[:, order]
    explained = np.cumsum(eigenvalues) / eigenvalues.sum()
    k = int(np.clip(np.searchsorted(explained, variance) + 1, 1, max(1, z.shape[1] - 1)))
    return Subspace(mean, std, vectors[:, :k], eigenvalues[:k])


def level_scores(stat: str, fit: np.ndarray, window: int, *others: np.ndarray) -> list[np.ndarray]:
    """Q or T² (`stat`) of the fitting rows' window means on their subspace, then of each of
    `others`' (each windowed on its own rows only), as skab_select's round 1 scores them."""
    levels = [windows_by_device(v, window)[0].mean(axis=1) for v in (fit, *others)]
    space = fit_subspace(levels[0])
    return [space.statistics(x)[stat] for x in levels]


def threshold(fit: np.ndarray, held: np.ndarray, target_far: float, window: int) -> float:
    """POT at `target_far` on the held-out scores, times their gap over the fitting ones (≥ 1)."""
    return calibrate(held, "pot", target_far, 1.0, window, fit, gap_power=1.0).threshold
