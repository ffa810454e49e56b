"""`--web-login`: parsing USER:PASSWORD, checking Basic credentials, and the throttle that
slows down guessing (on a fake clock: no test here sleeps)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadhopper._exceptions import ConfigError
from loadhopper.web import WebLogin
from loadhopper.web._login import LoginThrottle


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_parse_keeps_colons_in_the_password() -> None:
    assert WebLogin.parse("admin:a:b") == WebLogin("admin", "a:b")


@pytest.mark.parametrize("text", ["admin", ":secret", "admin:", ""])
def test_parse_refuses_incomplete_credentials(text: str) -> None:
    with pytest.raises(ConfigError, match="USER:PASSWORD"):
        WebLogin.parse(text)


def test_generated_logins_are_random_and_marked() -> None:
    first, second = WebLogin.generate(), WebLogin.generate()
    assert first.generated and first.user == "loadhopper"
    assert first.password != second.password and len(first.password) >= 16


def test_accepts_only_the_exact_credentials() -> None:
    login = WebLogin("admin", "s3cret")
    assert login.accepts(_basic(b"admin:s3cret"))
    assert login.accepts("basic " + base64.b64encode(b"admin:s3cret").decode())
    for wrong in (b"admin:s3cre", b"admin:s3cretX", b"Admin:s3cret", b"admins3cret", b""):
        assert not login.accepts(_basic(wrong))
    assert not login.accepts(None)
    assert not login.accepts("Bearer s3cret")
    assert not login.accepts("Basic !!!not-base64!!!")


def test_accepts_utf8_credentials() -> None:
    login = WebLogin("ünï", "pässwörd")
    assert login.accepts(_basic("ünï:pässwörd".encode()))


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_failures_are_free_then_each_one_doubles_the_wait_up_to_the_cap() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.failed("10.0.0.1")
        assert throttle.retry_after("10.0.0.1") == 0
    waits = []
    for _ in range(9):
        throttle.failed("10.0.0.1")
        wait = throttle.retry_after("10.0.0.1")
        waits.append(wait)
        clock.now += wait - 0.25
        assert throttle.retry_after("10.0.0.1") == 1  # a quarter second left: rounded up
        clock.now += 0.25
        assert throttle.retry_after("10.0.0.1") == 0
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_success_forgets_the_client() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(7):
        throttle.failed("10.0.0.1")
    clock.now += 60
    throttle.succeeded("10.0.0.1")
    assert len(throttle) == 0
    for _ in range(4):
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 0  # four free failures again
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 1


def test_failures_are_forgotten_after_a_quiet_spell() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock, forget_after=600.0)
    for _ in range(8):
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 8
    clock.now += 599.0
    assert throttle.retry_after("10.0.0.1") == 0
    assert len(throttle) == 1  # still counted: the next failure waits 16 s
    clock.now += 1.0
    assert throttle.retry_after("10.0.0.1") == 0
    assert len(throttle) == 0
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 0  # a first failure again


def test_clients_are_counted_apart() -> None:
    throttle = LoginThrottle(clock=FakeClock())
    for _ in range(5):
        throttle.failed("10.0.0.1")
    throttle.failed("10.0.0.2")
    assert throttle.retry_after("10.0.0.1") == 1
    assert throttle.retry_after("10.0.0.2") == 0
    assert throttle.retry_after("10.0.0.3") == 0


def test_the_client_table_is_bounded_and_forgets_the_oldest_failure_first() -> None:
    throttle = LoginThrottle(clock=FakeClock(), max_clients=3)
    for client in ("a", "b", "c"):
        for _ in range(5):
            throttle.failed(client)
    throttle.failed("a")  # "a" failed last now: "b" is the oldest
    throttle.failed("d")
    assert len(throttle) == 3
    assert throttle.retry_after("b") == 0  # forgotten
    assert throttle.retry_after("a") == 2 and throttle.retry_after("c") == 1
    for i in range(10_000):
        throttle.failed(f"10.1.{i // 256}.{i % 256}")
    assert len(throttle) == 3


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", "e"]),
            st.sampled_from(["fail", "succeed", "ask"]),
            st.floats(min_value=0.0, max_value=700.0),
        ),
        max_size=200,
    )
)
def test_any_history_keeps_waits_and_the_table_within_their_caps(
    events: list[tuple[str, str, float]],
) -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock, max_clients=3)
    for client, action, advance in events:
        clock.now += advance
        if action == "fail":
            throttle.failed(client)
        elif action == "succeed":
            throttle.succeeded(client)
            assert throttle.retry_after(client) == 0
        assert 0 <= throttle.retry_after(client) <= 60
        assert len(throttle) <= 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free_failures": 0},
        {"max_clients": 0},
        {"first_delay": 0.0},
        {"first_delay": 10.0, "max_delay": 5.0},
        {"max_delay": 900.0, "forget_after": 600.0},
    ],
)
def test_a_throttle_refuses_settings_that_make_no_sense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        LoginThrottle(**kwargs)  # type: ignore[arg-type]
