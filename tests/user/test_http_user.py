# Locustfile-style mutable class attributes (`tasks = [...]`) are the API under test.
# ruff: noqa: RUF012
from typing import Any

import pytest

from loadhopper import FastHttpUser, HttpUser, StopTest, StopUser, User, task
from loadhopper.http import BodyLimits
from loadhopper.user._http_user import NO_HOST_MESSAGE
from user.helpers import make_env, run_user
from user.loopback_server import LoopbackServer


def _rows(env: Any) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (row.method, row.name): (row.num_requests, row.num_failures)
        for row in env.stats.snapshot(0).rows
    }


def test_http_user_requests_are_recorded_with_templated_names(server: LoopbackServer) -> None:
    class U(HttpUser):
        host = server.url

        @task
        def t(self) -> None:
            self.client.get("/")
            pk = self.client.post("/create", data={"name": "x"}).text
            self.client.post(f"/{pk}/update", data={"name": "y"})
            self.client.get(f"/{pk}/delete")
            self.client.get("/status/500")
            raise StopUser()

    env = make_env(U)
    run_user(U(env))
    assert _rows(env) == {
        ("GET", "/"): (1, 0),
        ("POST", "/create"): (1, 0),
        ("POST", "/[id]/update"): (1, 0),
        ("GET", "/[id]/delete"): (1, 0),
        ("GET", "/status/[id]"): (1, 1),
    }


def test_template_names_off_keeps_raw_paths(server: LoopbackServer) -> None:
    class U(HttpUser):
        host = server.url

        @task
        def t(self) -> None:
            self.client.get("/5/delete")
            raise StopUser()

    env = make_env(U, template_names=False)
    run_user(U(env))
    assert list(_rows(env)) == [("GET", "/5/delete")]


def test_host_option_overrides_the_class_without_mutating_it(server: LoopbackServer) -> None:
    class U(HttpUser):
        host = "http://192.0.2.1:9"  # TEST-NET: never reached

        @task
        def t(self) -> None:
            self.client.get("/")
            raise StopUser()

    env = make_env(U, host=server.url)
    user = U(env)
    run_user(user)
    assert U.host == "http://192.0.2.1:9"
    assert user.effective_host == server.url
    assert _rows(env) == {("GET", "/"): (1, 0)}


def test_no_host_and_a_relative_url_stops_the_test_with_a_clear_message() -> None:
    class U(HttpUser):
        @task
        def t(self) -> None:
            self.client.get("/")

    with pytest.raises(StopTest, match="no host: set `host` on the User class or pass -H"):
        run_user(U(make_env(U)))
    assert NO_HOST_MESSAGE == "no host: set `host` on the User class or pass -H/--host"


def test_no_host_but_absolute_urls_work(server: LoopbackServer) -> None:
    class U(HttpUser):
        @task
        def t(self) -> None:
            self.client.get(server.url + "/json")
            raise StopUser()

    env = make_env(U)
    run_user(U(env))
    assert _rows(env) == {("GET", "/json"): (1, 0)}


def test_async_def_task_awaits_the_client(server: LoopbackServer) -> None:
    bodies: list[str] = []

    class U(HttpUser):
        host = server.url

        @task
        async def t(self) -> None:
            response = await self.client.aget("/")
            bodies.append(response.text)
            raise StopUser()

    env = make_env(U)
    run_user(U(env))
    assert bodies == ["hello"]
    assert _rows(env) == {("GET", "/"): (1, 0)}


def test_each_user_has_its_own_session(server: LoopbackServer) -> None:
    class U(HttpUser):
        host = server.url

    env = make_env(U)
    assert U(env).client is not U(env).client


def test_request_event_gets_the_user_context_merged(server: LoopbackServer) -> None:
    seen: list[dict[str, Any]] = []

    class U(HttpUser):
        host = server.url

        def context(self) -> dict[str, Any]:
            return {"user": "u1", "shared": "from-user"}

        @task
        def t(self) -> None:
            self.client.get("/", context={"shared": "from-request"})
            raise StopUser()

    env = make_env(U)
    env.events.request.add_listener(lambda context, **_: seen.append(context))
    run_user(U(env))
    assert seen == [{"user": "u1", "shared": "from-request"}]


def test_fast_http_user_honours_its_class_attributes(server: LoopbackServer) -> None:
    class Default(FastHttpUser):
        host = server.url

    class Tuned(FastHttpUser):
        host = server.url
        insecure = True
        network_timeout = 5.0
        connection_timeout = 2.0
        max_redirects = 3
        default_headers = {"X-Test": "yes"}

    env = make_env(Default, Tuned)
    assert Default.insecure is False
    assert Default(env)._session_options()["verify"] is True
    tuned = Tuned(env)
    options = tuned._session_options()
    assert options["verify"] is False
    assert options["timeout"] == (2.0, 5.0)
    assert tuned.client.max_redirects == 3
    assert tuned.client.headers["X-Test"] == "yes"


def test_http_user_verifies_tls_certificates(server: LoopbackServer) -> None:
    class U(HttpUser):
        host = server.url

    assert U(make_env(U))._session_options()["verify"] is True


def test_fast_http_user_rest_parses_json_and_records_failures(server: LoopbackServer) -> None:
    results: list[Any] = []

    class U(FastHttpUser):
        host = server.url

        @task
        def t(self) -> None:
            with self.rest("POST", "/json", json={"a": 1}) as resp:
                results.append(resp.js["ok"])
            with self.rest("GET", "/", name="not-json"):
                pass
            with self.rest_("GET", "/json") as resp:
                results.append(resp.js["ok"])
            raise StopUser()

    env = make_env(U)
    run_user(U(env))
    rows = _rows(env)
    assert results == [True, True]
    assert rows[("POST", "/json")] == (1, 0)
    assert rows[("GET", "not-json")] == (1, 1)
    assert rows[("GET", "/json?_=...")] == (1, 0)


def test_abstract_is_true_on_bases_and_false_on_subclasses() -> None:
    assert User.abstract and HttpUser.abstract and FastHttpUser.abstract

    class Mine(HttpUser):
        pass

    class Base(User):
        abstract = True

    class Concrete(Base):
        pass

    assert not Mine.abstract and Base.abstract and not Concrete.abstract


def test_user_class_defaults_match_locust() -> None:
    class U(User):
        pass

    assert U.weight == 1 and U.fixed_count == 0 and U.host is None
    assert U.wait_time is not None and U.wait_time(None) == 0
    assert U.fullname() == f"{__name__}.test_user_class_defaults_match_locust.<locals>.U"


def test_body_limits_come_from_the_run_unless_the_class_sets_them(server: LoopbackServer) -> None:
    class Default(HttpUser):
        host = server.url

    class OwnBody(HttpUser):
        host = server.url
        max_body_size = 10

    class OwnDecoded(FastHttpUser):
        host = server.url
        max_decoded_size = 5

    run_limits = BodyLimits(max_body_size=1000, max_decoded_size=2000)
    env = make_env(Default, OwnBody, OwnDecoded, body_limits=run_limits)
    assert Default.max_body_size is None and Default.max_decoded_size is None
    assert Default(env).client.body_limits is run_limits  # one shared object, the run's
    assert OwnBody(env).client.body_limits == BodyLimits(10, 2000)
    assert OwnDecoded(env).client.body_limits == BodyLimits(1000, 5)
    assert HttpUser.max_body_size is None  # the classes themselves are not changed


def test_a_response_over_the_users_body_bound_is_a_failure_and_the_user_goes_on(
    server: LoopbackServer,
) -> None:
    class U(HttpUser):
        host = server.url
        max_body_size = 50

        @task
        def t(self) -> None:
            self.client.post("/json", data="x" * 200)  # echoed back: over 50 bytes
            self.client.get("/")
            raise StopUser()

    env = make_env(U)
    run_user(U(env))
    assert _rows(env) == {("POST", "/json"): (1, 1), ("GET", "/"): (1, 0)}
    (failure,) = env.stats.snapshot(0).failures
    assert "larger than 50 bytes (max_body_size)" in failure.error


def test_fast_http_user_deadline_bounds_the_whole_response(server: LoopbackServer) -> None:
    class U(FastHttpUser):
        host = server.url
        deadline = 0.1
        network_timeout = 5.0  # per read: a slow answer within it is fine...

        @task
        def t(self) -> None:
            self.client.get("/slow?ms=400", name="slow")  # ...but not past the deadline
            self.client.get("/slow?ms=400", name="lifted", deadline=None)
            raise StopUser()

    env = make_env(U)
    user = U(env)
    assert user._session_options()["deadline"] == 0.1 and user.client.deadline == 0.1
    run_user(user)
    assert _rows(env) == {("GET", "slow"): (1, 1), ("GET", "lifted"): (1, 0)}
    (failure,) = env.stats.snapshot(0).failures
    assert "within the deadline of 0.1 s" in failure.error
