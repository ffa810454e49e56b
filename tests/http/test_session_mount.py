"""`mount(prefix, adapter)`: requests' HTTPAdapter accepted for what loadhopper honours, and
a one-sentence refusal of what it cannot."""

from __future__ import annotations

from typing import Any

import pytest
from _loopback import Recorder, Server, run_blocking
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from loadhopper.http import HttpSession


def test_pool_sizes_and_no_retries_are_accepted_and_requests_go_on(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    pooled = HTTPAdapter(pool_connections=4, pool_maxsize=20, pool_block=True)
    session.mount("http://", pooled)
    session.mount("https://", HTTPAdapter(max_retries=0))
    session.mount(server.url, HTTPAdapter(max_retries=Retry(0, read=False)))
    assert session.adapters["http://"] is pooled
    assert len(session.adapters) == 3
    assert run_blocking(lambda: session.get("/echo")).status_code == 200
    assert sink.last["exception"] is None


@pytest.mark.parametrize(
    "retries",
    [3, Retry(total=2), Retry(total=None, connect=1), Retry(0, status_forcelist=[503])],
)
def test_retries_are_refused_in_one_sentence(sink: Recorder, retries: Any) -> None:
    session = HttpSession("http://127.0.0.1:1", request_sink=sink)
    with pytest.raises(ValueError, match=r"retries \(max_retries=.*\) are not supported") as caught:
        session.mount("http://", HTTPAdapter(max_retries=retries))
    assert "\n" not in str(caught.value)
    assert session.adapters == {}


class SendingAdapter(HTTPAdapter):
    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        raise AssertionError("never called")


class TLSAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)


class Subclassed(HTTPAdapter):
    """A subclass that only renames: nothing of the transport replaced."""


def test_adapters_that_replace_the_transport_are_refused(sink: Recorder) -> None:
    session = HttpSession("http://127.0.0.1:1", request_sink=sink)
    with pytest.raises(TypeError, match=r"overrides send\(\)"):
        session.mount("http://", SendingAdapter())
    with pytest.raises(TypeError, match=r"overrides init_poolmanager\(\)"):
        session.mount("https://", TLSAdapter())
    with pytest.raises(TypeError, match="takes only requests' HTTPAdapter"):
        session.mount("http://", object())
    session.mount("http://", Subclassed())
    assert list(session.adapters) == ["http://"]
