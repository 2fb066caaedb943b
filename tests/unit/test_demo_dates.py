import datetime as dt

import pytest

from pipelines.demo import demo_dates


def test_the_last_nightly_cycle_is_yesterday():
    start, initial_end, extra = demo_dates(30, 2, today=dt.date(2026, 11, 29))
    assert extra == [dt.date(2026, 11, 27), dt.date(2026, 11, 28)]
    assert initial_end == dt.date(2026, 11, 26)
    assert (initial_end - start).days + 1 == 30


def test_no_extra_cycles():
    start, initial_end, extra = demo_dates(5, 0, today=dt.date(2026, 1, 10))
    assert extra == [] and initial_end == dt.date(2026, 1, 9) and start == dt.date(2026, 1, 5)


def test_too_few_days_is_refused():
    with pytest.raises(ValueError, match="at least 2 days"):
        demo_dates(1, 2, today=dt.date(2026, 1, 10))
