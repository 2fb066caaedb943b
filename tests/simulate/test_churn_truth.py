"""The churn truth's closed form agrees with simulating the same process many times."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from pipelines.simulate.calendar import activity_multiplier
from pipelines.simulate.churn import quiet_probabilities
from pipelines.simulate.world import build_world

ORIGIN = date(2026, 3, 1)


def test_closed_form_matches_monte_carlo():
    world = build_world(21, 40, 10)
    cutoff = 50
    probs = quiet_probabilities(world, cutoff, ORIGIN, horizon=14)
    mult = np.array([activity_multiplier(ORIGIN + timedelta(days=cutoff + j)) for j in range(14)])
    rng = np.random.default_rng(0)
    n = 40_000
    for u in np.flatnonzero(~probs["gone"] & (world.user_join_day < cutoff))[:12]:
        h, rate = world.user_hazard[u], world.user_rate[u]
        quiet_after = rng.geometric(h, size=n) - 1          # days still active from the cutoff
        active = np.arange(14)[None, :] < quiet_after[:, None]
        sessions = rng.poisson(rate * mult[None, :] * active)
        empirical = (sessions.sum(axis=1) == 0).mean()
        assert abs(empirical - probs["p_inactive"][u]) < 0.012, (u, empirical, probs["p_inactive"][u])
        assert abs((quiet_after < 14).mean() - probs["p_quit"][u]) < 0.01


def test_users_already_quiet_are_certain():
    world = build_world(22, 300, 10)
    cutoff = 60
    probs = quiet_probabilities(world, cutoff, ORIGIN)
    gone = world.user_quiet_day <= cutoff
    assert gone.any()
    assert (probs["p_inactive"][gone] == 1.0).all() and (probs["p_quit"][gone] == 1.0).all()
    alive = ~gone
    # quitting on the cutoff day itself is one way to be inactive
    assert (probs["p_inactive"][alive] >= world.user_hazard[alive] - 1e-12).all()
    assert (probs["p_inactive"][alive] < 1.0).all()
