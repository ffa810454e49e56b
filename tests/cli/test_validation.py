"""Every option is checked before the run starts: exit code 2 and one line naming it.

The bad values are given the three ways a user can give them (flag, environment variable,
config file) to a real `loadhopper` process, which must stop before any user starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_main_e2e import SIMPLE, run_cli, write

from loadhopper.cli._validation import host_problem

TAGGED = """
from locust import HttpUser, tag, task

class Tagged(HttpUser):
    host = "http://127.0.0.1:1"

    @tag("checkout")
    @task
    def buy(self):
        self.client.get("/buy")

    @task
    def browse(self):
        self.client.get("/")
"""


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "https://example.com",
        "HTTP://EXAMPLE.COM/",
        "http://localhost:1/api/v1",
        "http://[::1]:8089",
        "http://user:secret@host.internal",
        "http://my_service.local:65535",
        "http://bücher.example",  # IDNA
        "http://10.0.0.1?x=1",
    ],
)
def test_good_hosts(url: str) -> None:
    assert host_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "it is empty"),
        ("ftp://x", "must start with http:// or https://"),
        ("localhost:8000", "must start with http:// or https://"),
        ("127.0.0.1:8000", "must start with http:// or https://"),
        ("http:/x", "must start with http:// or https://"),
        ("http://", "no host name"),
        ("http://:8000", "no host name"),
        ("http://exa mple.com", "whitespace"),
        ("http://example.com ", "whitespace"),
        ("http://x\n", "whitespace"),
        ("http://x:99999", "port must be a number from 1 to 65535"),
        ("http://x:0", "port must be a number from 1 to 65535"),
        ("http://x:80a", "port must be a number from 1 to 65535"),
        ("http://ex%41mple.com", "not a valid host name"),
        ("http://a!b", "not a valid host name"),
        ("http://[::1", "not a URL"),
        ("http://[fe80::zz]", "IPv6"),  # urlsplit or the ipaddress check, by Python version
    ],
)
def test_bad_hosts(url: str, problem: str) -> None:
    assert problem in (host_problem(url) or "")


def _assert_usage_error(result_stderr: str, returncode: int, names: str) -> None:
    assert returncode == 2, result_stderr
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr  # one line, no traceback, no log noise
    assert lines[0].startswith("loadhopper: ")
    assert names in lines[0]
    assert "Traceback" not in result_stderr


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["-H", "ftp://x"], "-H/--host"),
        (["-H", "localhost:8000"], "-H/--host"),
        (["-H", "http://exa mple.com"], "-H/--host"),
        (["-H", "http://x:99999"], "-H/--host"),
        (["-H", "http://"], "-H/--host"),
        (["-u", "-1"], "-u/--users"),
        (["-u", "many"], "-u/--users"),
        (["-r", "0"], "-r/--spawn-rate"),
        (["-r", "-2"], "-r/--spawn-rate"),
        (["-r", "nan"], "-r/--spawn-rate"),
        (["-r", "inf"], "-r/--spawn-rate"),
        (["-t", "0"], "-t/--run-time"),
        (["-t", "soon"], "-t/--run-time"),
        (["-s", "-1"], "-s/--stop-timeout"),
        (["--stop-timeout", "later"], "-s/--stop-timeout"),
        (["--max-stats-rows", "0"], "--max-stats-rows"),
        (["--exit-code-on-error", "256"], "--exit-code-on-error"),
        (["--exit-code-on-error", "-1"], "--exit-code-on-error"),
        (["--exit-code-on-error", "one"], "--exit-code-on-error"),
        (["--csv", "no/such/dir/out"], "--csv"),
        (["--csv-full-history"], "--csv-full-history"),
        (["--json-file", "no/such/dir/summary"], "--json-file"),
        (["--html", "no/such/dir/r.html"], "--html"),
        (["--html", "."], "--html"),  # a folder, not a file
        (["--logfile", "no/such/dir/x.log"], "--logfile"),
        (["-L", "chatty"], "-L/--loglevel"),
        (["-P", "70000"], "-P/--web-port"),
        (["-P", "-1"], "-P/--web-port"),
        (["--web-host", "http://0.0.0.0"], "--web-host"),
        (["--autoquit", "-2"], "--autoquit"),
        (["-T"], "-T/--tags"),
        (["-T", "a b"], "-T/--tags"),
        (["-T", ""], "-T/--tags"),
        (["-E", ""], "-E/--exclude-tags"),
        (["--max-body-size", "0"], "--max-body-size"),
        (["--max-body-size", "10K"], "--max-body-size"),
        (["--max-body-size", "-5MB"], "--max-body-size"),
        (["--max-decoded-size", "1.5"], "--max-decoded-size"),
        (["--local-ips", "nonsense"], "--local-ips"),
        (["--local-ips", "127.0.0.9-127.0.0.1"], "--local-ips"),
        (["--local-ips", "10.0.0.0/8"], "--local-ips"),
        (["--master-port", "0"], "--master-port"),
        (["--expect-workers", "0"], "--expect-workers"),
        (["--processes", "0"], "--processes"),
        (["--spawnrate", "3"], "--spawnrate"),
    ],
)
def test_bad_flag_values_stop_before_the_run(tmp_path: Path, args: list[str], names: str) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    result = run_cli(tmp_path, "--headless", "-t", "30s", *args)
    _assert_usage_error(result.stderr, result.returncode, names)
    assert result.stdout == ""  # no table: nothing ran


@pytest.mark.parametrize(
    ("setting", "names"),
    [
        ("LOCUST_HOST=ftp://x", "-H/--host"),
        ("LOADHOPPER_USERS=-3", "-u/--users"),
        ("LOCUST_MAX_BODY_SIZE=lots", "LOCUST_MAX_BODY_SIZE"),
        ("LOADHOPPER_MAX_DECODED_SIZE=0", "LOADHOPPER_MAX_DECODED_SIZE"),
        ("locust.conf:host = http://x:0", "-H/--host"),
        ("locust.conf:max-body-size = 12Q", "max-body-size"),
        ("locust.conf:exit-code-on-error = 300", "--exit-code-on-error"),
        ("pyproject.toml:[tool.locust]\nmax-decoded-size = 0", "max-decoded-size"),
    ],
)
def test_bad_values_from_the_environment_and_config_files(
    tmp_path: Path, setting: str, names: str
) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    extra: dict[str, str] = {}
    if ":" in setting.split("=", 1)[0]:
        name, text = setting.split(":", 1)
        write(tmp_path, name, text + "\n")
    else:
        key, value = setting.split("=", 1)
        extra[key] = value
    result = run_cli(tmp_path, "--headless", "-t", "30s", env=extra)
    _assert_usage_error(result.stderr, result.returncode, names)


BAD_CLASS_HOST = """
from locust import FastHttpUser, task

class Shop(FastHttpUser):
    host = "shop.example:8080"  # no scheme

    @task
    def index(self):
        self.client.get("/")
"""


def test_an_invalid_class_host_is_named_before_the_run(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", BAD_CLASS_HOST)
    result = run_cli(tmp_path, "--headless", "-t", "30s")
    _assert_usage_error(result.stderr, result.returncode, "Shop.host 'shop.example:8080'")
    assert "http:// or https://" in result.stderr
    # -H replaces every class's host, so the class's own is not used and not judged.
    listed = run_cli(tmp_path, "-H", "http://127.0.0.1:1", "--list")
    assert listed.returncode == 0 and listed.stdout.split() == ["Shop"]


NOT_HTTP = """
from locust import User, constant, events, task

class Grpc(User):
    host = "localhost:50051"  # Locust's gRPC example: not a URL, and not for HttpSession
    wait_time = constant(0.1)

    @task
    def call(self):
        events.request.fire(request_type="grpc", name="Hello", response_time=1.0,
                            response_length=0, exception=None, context={})
"""


def test_users_that_are_not_http_keep_any_host(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", NOT_HTTP)
    result = run_cli(tmp_path, "--headless", "-t", "0.3s", "--only-summary")
    assert result.returncode == 0, result.stderr
    with_flag = run_cli(tmp_path, "--headless", "-H", "grpc.internal:50051", "-t", "0.3s")
    assert with_flag.returncode == 0, with_flag.stderr


def test_tags_that_leave_no_task_are_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", TAGGED)
    result = run_cli(tmp_path, "--headless", "-t", "30s", "-T", "chekout")
    _assert_usage_error(result.stderr, result.returncode, "-T/--tags chekout")
    assert "the tags in use are checkout" in result.stderr
    excluded = run_cli(tmp_path, "--headless", "-t", "30s", "-T", "checkout", "-E", "checkout")
    _assert_usage_error(excluded.stderr, excluded.returncode, "-E/--exclude-tags checkout")
    fine = run_cli(tmp_path, "-T", "checkout", "--show-task-ratio-json")
    assert fine.returncode == 0, fine.stderr
