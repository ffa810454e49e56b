"""The CLI against a hostile target: one run per misbehaviour (see hostile_server.py).

Each test checks its run with `assert_sound` (ended on time, every output written, short
grouped failures, no user-code exceptions, the right exit code, peak RSS under its bound)
and then what the behaviour itself calls for. Requests are named by their target
(`name="/reset"`), so the summary's rows and the server's counts use the same keys.

Where the server answers each request or fails it after reading its whole head, and the
connection a request goes out on is new or healthy, nothing may send a request twice: the
summary's count must equal the server's exactly. The exceptions are said where they apply.
"""

from __future__ import annotations

import pytest

from hostile.checks import assert_counted_once, assert_rows, assert_sound
from hostile.cli_run import Outcome, Scenario
from hostile.hostile_server import BODY

pytestmark = pytest.mark.timeout(120)  # a run bounds itself well below this; a hang fails

MAX_REDIRECTS = 30  # HttpSession's default, as requests'


def call(method: str, target: str, extra: str = "") -> str:
    """A request statement for a task, named by its target."""
    options = f", {extra}" if extra else ""
    return f'self.client.{method.lower()}("{target}", name="{target}"{options})'


def get(target: str, extra: str = "") -> str:
    return call("GET", target, extra)


def with_ok(target: str) -> str:
    """The hostile request, then a plain one: the user must carry on after the failure."""
    return get(target) + "\n" + get("/ok")


def each(scenario: Scenario) -> object:
    """A parameter that is a scenario and names it as the run its test checks."""
    return pytest.param(scenario, id=scenario.name, marks=pytest.mark.scenario(scenario))


def failures(outcome: Outcome, method: str, name: str) -> tuple[int, int]:
    row = outcome.row(method, name)
    return row["num_failures"], row["num_requests"]


def assert_all_failed(outcome: Outcome, method: str, name: str) -> None:
    failed, requests = failures(outcome, method, name)
    assert failed == requests, f"{method} {name}: {failed} of {requests} failed, expected all"


def assert_none_failed(outcome: Outcome, method: str, name: str) -> None:
    failed, requests = failures(outcome, method, name)
    errors = [f["error"] for f in outcome.summary["failures"] if f["name"] == name]
    assert failed == 0, f"{method} {name}: {failed} of {requests} failed: {errors}"


def assert_body_length(outcome: Outcome, name: str, length: int) -> None:
    assert outcome.row("GET", name)["avg_content_length"] == length


OK = Scenario("ok", get("/ok"))


@pytest.mark.scenario(OK)
def test_ok_is_counted_once_and_never_fails(outcome: Outcome) -> None:
    # The baseline: if this fails, the harness is broken, not the client.
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/ok")])
    assert_counted_once(outcome, ("GET", "/ok"))
    assert_none_failed(outcome, "GET", "/ok")
    assert_body_length(outcome, "/ok", len(BODY))


RESET = Scenario("reset", get("/reset"))


@pytest.mark.scenario(RESET)
def test_reset_fails_each_request_once(outcome: Outcome) -> None:
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/reset")])
    assert_counted_once(outcome, ("GET", "/reset"))  # a reset connection is never reused
    assert_all_failed(outcome, "GET", "/reset")


CLOSE = Scenario("close", get("/close"))


@pytest.mark.scenario(CLOSE)
def test_close_without_answer_fails_each_request_once(outcome: Outcome) -> None:
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/close")])
    assert_counted_once(outcome, ("GET", "/close"))
    assert_all_failed(outcome, "GET", "/close")


POST_RESET = Scenario("post-reset", get("/ok") + "\n" + call("POST", "/reset", "data=b'x'"))


@pytest.mark.scenario(POST_RESET)
def test_post_is_never_sent_twice(outcome: Outcome) -> None:
    # The POST goes out on the connection GET /ok just used, and is reset before any byte
    # of a response: an idle-close retry would be safe for GET, but a POST may have had its
    # effect, so it must fail instead of being sent again.
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/ok"), ("POST", "/reset")])
    assert_counted_once(outcome, ("GET", "/ok"), ("POST", "/reset"))
    assert_none_failed(outcome, "GET", "/ok")
    assert_all_failed(outcome, "POST", "/reset")


STALL = Scenario("stall", get("/stall", "timeout=1"))


@pytest.mark.scenario(STALL)
def test_stall_fails_at_the_read_timeout(outcome: Outcome) -> None:
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/stall")])
    assert_counted_once(outcome, ("GET", "/stall"))  # each one ended within the stop timeout
    assert_all_failed(outcome, "GET", "/stall")


STALL_FOREVER = Scenario("stall-forever", get("/stall?forever"), stop_timeout=1)


@pytest.mark.scenario(STALL_FOREVER)
def test_stall_without_timeout_ends_with_the_run(outcome: Outcome) -> None:
    # No timeout: each user's first request hangs until the stop timeout ends the user.
    # The run must still end on time and write its outputs; a request cut short at the
    # stop is not a sample (as in Locust), so the summary may count fewer than were sent.
    assert_sound(outcome)
    received = outcome.received.get(("GET", "/stall?forever"), 0)
    assert received == outcome.scenario.users
    assert outcome.summary["aggregated"]["num_requests"] <= received


DRIP_HEADERS = Scenario("drip-headers", get("/drip-headers", "timeout=1"))


@pytest.mark.scenario(DRIP_HEADERS)
def test_headers_dripped_byte_by_byte_arrive_whole(outcome: Outcome) -> None:
    # One byte every 50 ms for 1.9 s: `timeout=1` bounds each read, not the whole response,
    # so the request succeeds, and the parser puts the head together from 38 reads.
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/drip-headers")])
    assert_counted_once(outcome, ("GET", "/drip-headers"))
    assert_none_failed(outcome, "GET", "/drip-headers")
    assert_body_length(outcome, "/drip-headers", 5)


DRIP_BODY = Scenario(
    "drip-body",
    get("/drip-body", "timeout=1") + "\n" + get("/drip-body?deadline", "timeout=1, deadline=0.5"),
)


@pytest.mark.scenario(DRIP_BODY)
def test_body_dripped_slowly_meets_timeout_but_not_deadline(outcome: Outcome) -> None:
    # 30 body bytes over 1.5 s: within a 1 s per-read timeout, beyond a 0.5 s deadline.
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/drip-body"), ("GET", "/drip-body?deadline")])
    assert_counted_once(outcome, ("GET", "/drip-body"), ("GET", "/drip-body?deadline"))
    assert_none_failed(outcome, "GET", "/drip-body")
    assert_body_length(outcome, "/drip-body", 30)
    assert_all_failed(outcome, "GET", "/drip-body?deadline")


SHORT = Scenario("short", get("/short"))


@pytest.mark.scenario(SHORT)
def test_short_body_fails(outcome: Outcome) -> None:
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/short")])
    assert_counted_once(outcome, ("GET", "/short"))
    assert_all_failed(outcome, "GET", "/short")


BAD_STATUS = Scenario("bad-status", get("/bad-status"))


@pytest.mark.scenario(BAD_STATUS)
def test_garbage_status_line_fails_without_waiting_for_close(outcome: Outcome) -> None:
    # The server keeps the connection open after the garbage (for 30 s): only a client that
    # gives up on the bytes themselves finishes its requests within the stop timeout.
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/bad-status")])
    assert_counted_once(outcome, ("GET", "/bad-status"))
    assert_all_failed(outcome, "GET", "/bad-status")


@pytest.mark.parametrize(
    "scenario",
    [
        each(Scenario(name, with_ok(f"/{name}")))
        for name in ("huge-header", "many-headers", "huge-body", "endless", "bomb")
    ],
)
def test_oversized_response_fails_within_memory_bound(outcome: Outcome, scenario: Scenario) -> None:
    # A 1 MiB header, 10,000 headers, a 2 GiB body, an endless chunked body, a 10 GiB gzip
    # bomb: each must fail on a bound (header size or count, --max-body-size,
    # --max-decoded-size) before it costs memory, and the user carries on with GET /ok.
    target = f"/{scenario.name}"
    assert_sound(outcome)  # includes the peak RSS bound
    assert_rows(outcome, [("GET", target), ("GET", "/ok")])
    assert_counted_once(outcome, ("GET", target), ("GET", "/ok"))
    assert_all_failed(outcome, "GET", target)
    assert_none_failed(outcome, "GET", "/ok")


REDIRECT_LOOP = Scenario("redirect-loop", get("/redirect-loop"))


@pytest.mark.scenario(REDIRECT_LOOP)
def test_redirect_loop_is_one_failure_per_request(outcome: Outcome) -> None:
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/redirect-loop")])
    assert_all_failed(outcome, "GET", "/redirect-loop")
    reported = outcome.row("GET", "/redirect-loop")["num_requests"]
    # Each reported request is the first request plus MAX_REDIRECTS redirects followed.
    assert outcome.server_idle
    assert outcome.received[("GET", "/redirect-loop")] == reported * (MAX_REDIRECTS + 1)


REDIRECT_CHAIN = Scenario("redirect-chain", with_ok("/redirect-chain/5"))


@pytest.mark.scenario(REDIRECT_CHAIN)
def test_redirect_chain_is_followed_and_counted_once(outcome: Outcome) -> None:
    assert_sound(outcome)
    assert_rows(outcome, [("GET", "/redirect-chain/5"), ("GET", "/ok")])
    assert_counted_once(outcome, ("GET", "/redirect-chain/5"), ("GET", "/ok"))
    assert_none_failed(outcome, "GET", "/redirect-chain/5")
    reported = outcome.row("GET", "/redirect-chain/5")["num_requests"]
    hops = {hop: outcome.received.get(("GET", f"/redirect-chain/{hop}"), 0) for hop in range(5)}
    assert hops == dict.fromkeys(range(5), reported)  # every hop once per request
    assert_body_length(outcome, "/redirect-chain/5", len(b"end of the chain"))


@pytest.mark.parametrize(
    "scenario",
    [each(Scenario(name, with_ok(f"/{name}"))) for name in ("http10", "continue", "junk")],
)
def test_odd_but_complete_response_succeeds(outcome: Outcome, scenario: Scenario) -> None:
    # An HTTP/1.0 body ended by the close, a 100 Continue before the 200, stray bytes after
    # a complete 200: each is a complete response, returned as such; the connection it came
    # on is not reused when it cannot be (closed, or out of step), so GET /ok succeeds too.
    target = f"/{scenario.name}"
    assert_sound(outcome)
    assert_rows(outcome, [("GET", target), ("GET", "/ok")])
    assert_counted_once(outcome, ("GET", target), ("GET", "/ok"))
    assert_none_failed(outcome, "GET", target)
    assert_none_failed(outcome, "GET", "/ok")
    assert_body_length(outcome, target, len(BODY))


RANDOM = Scenario(
    "random",
    call("POST", "/random", "data=b'x', timeout=1") + "\n" + get("/random", "timeout=1"),
    users=3,
    run_time=4,
)


@pytest.mark.scenario(RANDOM)
def test_random_mix_of_misbehaviours(outcome: Outcome) -> None:
    # Every behaviour at random on the same keep-alive connections, three users. The mix has
    # a dozen ways to fail, so up to 16 distinct messages (still each one short line).
    assert_sound(outcome, max_messages=16)
    assert_rows(outcome, [("POST", "/random"), ("GET", "/random")])
    # A POST is never sent twice, so its count is exact. A GET may be sent once more on a
    # fresh connection when a reused one fails before any byte of the response (the server
    # closed it while idle, as far as the client can tell): between 1 and 2 heads per GET.
    assert_counted_once(outcome, ("POST", "/random"))
    get_reported = outcome.row("GET", "/random")["num_requests"]
    get_received = outcome.received[("GET", "/random")]
    assert get_reported <= get_received <= 2 * get_reported
    for method in ("POST", "GET"):
        failed, requests = failures(outcome, method, "/random")
        assert 0 < failed < requests, f"{method}: {failed} of {requests} failed: not a mix"
