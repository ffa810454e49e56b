"""The iteration dispatcher in a run on the fake clock: free users, backlog, lag, pacing.

Each task records one 10 ms request through the environment's request sink at its start
(so its lag is the iteration's) and then holds its user for a while on the fake clock.
"""

from typing import Any

from loadhopper import User, constant_pacing, task
from loadhopper.runtime import Environment, FakeClock
from loadhopper.runtime._arrival import ArrivalPlan
from runtime.conftest import drive, run_bounded

_peak = 0


def _record(user: User) -> None:
    global _peak
    env: Any = user.environment
    env.request_sink("GET", "/it", 10.0, 0, None, {}, None, 0.0, "")
    _peak = max(_peak, env.runner.user_count)


class _Busy(User):
    """Each iteration holds its user 1 s."""

    @task
    async def work(self) -> None:
        _record(self)
        await self.environment.clock.sleep(1.0)  # type: ignore[attr-defined]


def _run(plan: ArrivalPlan, users: int, seconds: float) -> Environment:
    global _peak
    _peak = 0
    clock = FakeClock()
    env = Environment(user_classes=[_Busy], clock=clock)
    env.arrival_plan = plan
    runner = env.create_local_runner()

    async def main() -> None:
        await drive(clock, runner.run(users, 100.0, seconds), step=0.05)

    run_bounded(main)
    return env


def test_arrivals_go_to_free_users_then_wait_in_order_and_the_rest_is_dropped() -> None:
    # 4/s for 3 s (12 due); two users at most, each busy 1 s per iteration. Users start on
    # demand for the first two arrivals (0 and 0.25 s: not late). From then each user
    # takes the oldest waiting arrival when it frees up: at 1.0 and 2.0 (user 1) the ones
    # due at 0.5 and 1.0, at 1.25 and 2.25 (user 2) those due at 0.75 and 1.25: four late
    # iterations, each 0.5 s or 1 s behind. The 6 still waiting at the stop are dropped.
    env = _run(ArrivalPlan(4.0, max_users=2, backlog_timeout=10.0), 0, 3.0)
    now = env.clock.time()
    totals = env.stats.snapshot(now).arrivals
    assert (totals.due, totals.late, totals.dropped) == (12, 4, 6)
    assert _peak == 2
    stats = env.stats
    assert stats.percentile("GET", "/it", 1.0) == 10.0
    lags = [stats.percentile("GET", "/it", q, corrected=True) for q in (0.0, 0.5, 1.0)]
    assert lags[0] is not None and abs(lags[0] - 10.0) < 1.0
    assert lags[2] is not None and abs(lags[2] - 1010.0) < 10.0
    row = env.stats.snapshot(now).total
    assert row.corrected_count == 6


def test_an_arrival_waits_at_most_the_backlog_timeout() -> None:
    # One user, busy 1 s, at 4/s with a 0.6 s bound: it starts the arrivals due at 0, 0.5
    # and 1.5 (taken at 0, 1.0 and 2.0, each 0.5 s late but the first); every other one
    # has waited 0.6 s before a user frees up and is dropped: 12 due, 2 late, 9 dropped.
    env = _run(ArrivalPlan(4.0, max_users=1, backlog_timeout=0.6), 0, 3.0)
    totals = env.stats.snapshot(env.clock.time()).arrivals
    assert (totals.due, totals.late, totals.dropped) == (12, 2, 9)
    worst = env.stats.percentile("GET", "/it", 1.0, corrected=True)
    assert worst is not None and 500.0 <= worst <= 610.0


def test_pre_started_users_are_used_first_and_never_exceed_the_maximum() -> None:
    # -u 3 with at most 3: every one of 2/s arrivals finds a free user (1 s each, 3 users).
    env = _run(ArrivalPlan(2.0, max_users=3), 3, 4.0)
    totals = env.stats.snapshot(env.clock.time()).arrivals
    assert (totals.due, totals.late, totals.dropped) == (8, 0, 0)
    assert _peak <= 3
    worst = env.stats.percentile("GET", "/it", 1.0, corrected=True)
    assert worst is not None and abs(worst - 10.0) < 1.0


class _Paced(User):
    """Paced at 1 s, but every task takes 1.5 s: each next one starts 0.5 s late."""

    def on_start(self) -> None:
        # constant_pacing's first wait is a whole period (Locust's rule), on the real
        # clock of the users' waits; telling it the first task started at 0 makes every
        # wait of this test 0, so the fake clock alone drives the run.
        self._loadhopper_pacing = (0.0, 0.0)

    @task
    async def work(self) -> None:
        _record(self)
        await self.environment.clock.sleep(1.5)  # type: ignore[attr-defined]


def test_pacing_gives_each_task_the_intended_start_of_last_start_plus_period() -> None:
    clock = FakeClock()
    _Paced.wait_time = constant_pacing(1.0, clock=clock.monotonic)
    env = Environment(user_classes=[_Paced], clock=clock)
    runner = env.create_local_runner()

    async def main() -> None:
        await drive(clock, runner.run(1, 1.0, 4.0), step=0.05)

    run_bounded(main)
    # Tasks start at 0, 1.5 and 3.0; the last two were intended at 1.0 and 2.5.
    stats = env.stats
    assert env.stats.snapshot(clock.time()).total.corrected_count == 3
    low = stats.percentile("GET", "/it", 0.0, corrected=True)
    high = stats.percentile("GET", "/it", 1.0, corrected=True)
    assert low is not None and abs(low - 10.0) < 1.0
    assert high is not None and abs(high - 510.0) < 5.0
    assert env.stats.snapshot(clock.time()).arrivals.due == 0


def test_without_a_schedule_no_lag_is_recorded() -> None:
    env = _run_closed()
    assert env.stats.snapshot(env.clock.time()).total.corrected_count == 0
    assert env.stats.percentile("GET", "/it", 1.0, corrected=True) is None


def _run_closed() -> Environment:
    clock = FakeClock()
    env = Environment(user_classes=[_Busy], clock=clock)
    runner = env.create_local_runner()

    async def main() -> None:
        await drive(clock, runner.run(2, 100.0, 2.0), step=0.05)

    run_bounded(main)
    return env
