"""The churn truth: each user's exact probability of going quiet after a cutoff.

The world draws each user's quiet day from a known daily hazard, and a day's sessions are Poisson
with a known mean, so at any cutoff an oracle that knows whether the user is still around can say:

- ``p_quit``: probability the user goes quiet for good within the horizon,
- ``p_inactive``: probability the user has no event at all in ``[cutoff, cutoff + horizon)`` (what
  a 14-day inactivity label measures): quitting, or simply not visiting.

Scoring ``p_inactive`` against the observed labels gives the best achievable churn AUC.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from pipelines.simulate.calendar import activity_multiplier
from pipelines.simulate.world import World

HORIZON_DAYS = 14


def quiet_probabilities(world: World, cutoff_index: int, origin: date,
                        horizon: int = HORIZON_DAYS) -> dict[str, np.ndarray]:
    """Per user at the cutoff (start of day ``cutoff_index``): gone already, p_quit, p_inactive."""
    h = world.user_hazard
    gone = world.user_quiet_day <= cutoff_index
    mult = np.array([activity_multiplier(origin + timedelta(days=cutoff_index + j))
                     for j in range(horizon)])
    # P(no session on day j) for users that are still around; joiners after the cutoff start later
    day_idx = cutoff_index + np.arange(horizon)
    around = world.user_join_day[:, None] <= day_idx[None, :]
    no_visit = np.exp(-world.user_rate[:, None] * mult[None, :] * around)
    none_before = np.concatenate([np.ones((world.n_users, 1)), np.cumprod(no_visit, axis=1)], axis=1)
    k = np.arange(horizon + 1)
    # quiet day = cutoff + k with probability (1-h)^k h for k < horizon; still around after: (1-h)^horizon
    survive = (1.0 - h)[:, None] ** k[None, :]
    weight = survive * np.where(k < horizon, h[:, None], 1.0)
    p_inactive = (weight * none_before).sum(axis=1)
    p_quit = 1.0 - (1.0 - h) ** horizon
    return {
        "gone": gone,
        "p_quit": np.where(gone, 1.0, p_quit),
        "p_inactive": np.where(gone, 1.0, p_inactive),
        "quits_within": world.user_quiet_day < cutoff_index + horizon,
    }
