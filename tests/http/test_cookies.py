"""The cookie jar: parsing, matching, expiry, deletion; and the session sending cookies."""

from __future__ import annotations

from urllib.parse import quote

from _loopback import Recorder, Server, run_blocking

from loadhopper.http import HttpSession
from loadhopper.http._cookies import CookieJar

NOW = 1_700_000_000.0


def test_a_cookie_is_sent_back_to_its_host_and_path() -> None:
    jar = CookieJar()
    assert jar.extract([b"sid=abc; Path=/app"], "example.com", "/login", NOW) == {"sid": "abc"}
    assert jar.header_for("example.com", "/app/page", False, NOW) == "sid=abc"
    assert jar.header_for("example.com", "/app", False, NOW) == "sid=abc"
    assert jar.header_for("example.com", "/application", False, NOW) is None
    assert jar.header_for("other.com", "/app", False, NOW) is None
    assert jar.header_for("sub.example.com", "/app", False, NOW) is None  # host-only


def test_the_default_path_is_the_request_directory() -> None:
    jar = CookieJar()
    jar.extract([b"a=1"], "h", "/dir/page", NOW)
    assert jar.header_for("h", "/dir/other", False, NOW) == "a=1"
    assert jar.header_for("h", "/", False, NOW) is None


def test_a_domain_cookie_covers_subdomains_but_not_other_domains() -> None:
    jar = CookieJar()
    jar.extract([b"a=1; Domain=.example.com; Path=/"], "www.example.com", "/", NOW)
    assert jar.header_for("api.example.com", "/", False, NOW) == "a=1"
    assert jar.header_for("example.com", "/", False, NOW) == "a=1"
    assert jar.header_for("badexample.com", "/", False, NOW) is None
    jar.extract([b"evil=1; Domain=other.com"], "www.example.com", "/", NOW)
    assert "evil" not in jar


def test_secure_cookies_only_go_over_https() -> None:
    jar = CookieJar()
    jar.extract([b"s=1; Secure; HttpOnly; Path=/"], "h", "/", NOW)
    assert jar.header_for("h", "/", False, NOW) is None
    assert jar.header_for("h", "/", True, NOW) == "s=1"


def test_max_age_and_expires() -> None:
    jar = CookieJar()
    jar.extract(
        [
            b"short=1; Max-Age=10; Path=/",
            b"dated=2; Expires=Wed, 21 Oct 2099 07:28:00 GMT; Path=/",
            b"both=3; Max-Age=10; Expires=Wed, 21 Oct 2099 07:28:00 GMT; Path=/",
            b"bad=4; Expires=not a date; Path=/",
        ],
        "h",
        "/",
        NOW,
    )
    assert jar.header_for("h", "/", False, NOW) == "short=1; dated=2; both=3; bad=4"
    # Max-Age wins over Expires; a session cookie (bad date) never expires.
    assert jar.header_for("h", "/", False, NOW + 11) == "dated=2; bad=4"
    assert len(jar) == 2  # expired cookies are purged


def test_deletion_by_max_age_zero_or_a_past_expiry() -> None:
    jar = CookieJar()
    jar.extract([b"a=1; Path=/", b"b=2; Path=/"], "h", "/", NOW)
    jar.extract([b"a=; Max-Age=0; Path=/"], "h", "/", NOW)
    jar.extract([b"b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"], "h", "/", NOW)
    assert len(jar) == 0


def test_longer_paths_come_first_and_quotes_are_removed() -> None:
    jar = CookieJar()
    jar.extract([b"a=1; Path=/", b'b="2"; Path=/x'], "h", "/", NOW)
    assert jar.header_for("h", "/x/y", False, NOW) == "b=2; a=1"


def test_malformed_set_cookie_values_are_ignored() -> None:
    jar = CookieJar()
    assert jar.extract([b"novalue", b"=nameless", b""], "h", "/", NOW) == {}
    assert len(jar) == 0


def test_the_jar_is_a_mapping_by_name() -> None:
    jar = CookieJar()
    jar["token"] = "t"
    jar.set("scoped", "s", domain="example.com", path="/api")
    assert jar["token"] == "t" and jar.get_dict() == {"token": "t", "scoped": "s"}
    assert jar.header_for("anything", "/", False, NOW) == "token=t"
    assert jar.header_for("example.com", "/api", False, NOW) == "scoped=s; token=t"
    del jar["token"]
    assert list(jar) == ["scoped"]
    assert [c.name for c in jar.cookies()] == ["scoped"]
    jar.clear()
    assert len(jar) == 0


def test_the_session_stores_and_sends_cookies(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    set_two = "/setcookie?c=" + quote("sid=abc; Path=/") + "&c=" + quote("theme=dark; Path=/")

    def task() -> list[object]:
        set_response = session.get(set_two)
        sent = session.get("/echo").json()["headers"]
        with_extra = session.get("/echo", cookies={"extra": "1"}).json()["headers"]
        session.get("/setcookie?c=" + quote("sid=; Max-Age=0; Path=/"))
        after_delete = session.get("/echo").json()["headers"]
        return [set_response.cookies, sent, with_extra, after_delete]

    set_cookies, sent, with_extra, after_delete = run_blocking(task)
    assert set_cookies == {"sid": "abc", "theme": "dark"}
    assert ["Cookie", "sid=abc; theme=dark"] in sent
    assert ["Cookie", "sid=abc; theme=dark; extra=1"] in with_extra
    assert ["Cookie", "theme=dark"] in after_delete
    assert session.cookies.get_dict() == {"theme": "dark"}


def test_cookies_set_on_a_redirect_are_sent_to_its_target(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    # /setcookie answers 200, so build the redirect's cookie with a 2-step flow instead:
    session.cookies["manual"] = "yes"
    response = run_blocking(lambda: session.get("/redirect/302?to=/echo"))
    assert ["Cookie", "manual=yes"] in response.json()["headers"]
