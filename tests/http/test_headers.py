from loadhopper.http._headers import Headers, MutableHeaders


def test_mutable_headers_are_case_insensitive_and_versioned() -> None:
    headers = MutableHeaders({"Accept": "*/*"})
    assert headers["accept"] == "*/*" and "ACCEPT" in headers
    version = headers.version
    headers["X-Token"] = "a"
    del headers["accept"]
    assert headers.version == version + 2
    assert headers.pairs() == [("X-Token", "a")]


def test_sharing_copies_on_the_first_change_only() -> None:
    defaults = MutableHeaders({"User-Agent": "ua", "Accept": "*/*"})
    first = MutableHeaders.sharing(defaults)
    second = MutableHeaders.sharing(defaults)
    assert first._map is defaults._map and second._map is defaults._map
    first["Authorization"] = "Bearer x"
    del second["Accept"]
    assert first._map is not defaults._map and second._map is not defaults._map
    assert dict(defaults) == {"User-Agent": "ua", "Accept": "*/*"}  # untouched
    assert dict(first) == {"User-Agent": "ua", "Accept": "*/*", "Authorization": "Bearer x"}
    assert dict(second) == {"User-Agent": "ua"}


def test_response_headers_join_repeats_and_keep_the_raw_lines() -> None:
    headers = Headers([(b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"X", b"y")])
    assert headers["SET-COOKIE"] == "a=1, b=2"
    assert headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert len(headers) == 2
