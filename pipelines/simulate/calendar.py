"""Seasonality and weekly rhythm of the sample shop: how busy a day and an hour are.

Pure functions of the date, so a day's activity never depends on which other days were generated.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np

# Monday .. Sunday: quiet early week, busy weekend
WEEKDAY_FACTOR: tuple[float, ...] = (0.90, 0.85, 0.90, 0.95, 1.05, 1.20, 1.25)
SEASONAL_AMPLITUDE = 0.25  # +25% around mid-December (gifts, dark evenings), -25% in mid-June
SEASONAL_PEAK_DAY_OF_YEAR = 350

# relative weight of a session starting in each hour (UTC); no session starts after 22:00 so that a
# day's sessions stay inside its day
HOUR_WEIGHTS: np.ndarray = np.array(
    [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 4, 4, 3, 3, 3, 4, 6, 8, 9, 8, 5, 0], dtype=np.float64)
HOUR_WEIGHTS = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()


def seasonal_factor(day: date) -> float:
    doy = day.timetuple().tm_yday
    return 1.0 + SEASONAL_AMPLITUDE * math.cos(2.0 * math.pi * (doy - SEASONAL_PEAK_DAY_OF_YEAR) / 365.25)


def activity_multiplier(day: date) -> float:
    """How busy ``day`` is relative to an average day (weekly rhythm x season)."""
    return WEEKDAY_FACTOR[day.weekday()] * seasonal_factor(day)
