"""`--local-ips` end to end: a real `loadhopper` run whose users' connections come from the
given addresses, as the target sees them."""

from __future__ import annotations

from pathlib import Path

from cli_target import serve
from test_main_e2e import run_cli, write

PRINTS_PEER = """
from locust import HttpUser, task, constant

class Peer(HttpUser):
    wait_time = constant(0.05)

    @task
    def peer(self):
        print("PEER", self.client.get("/peer").text, flush=True)
"""


def _peers(stdout: str) -> set[str]:
    return {line.split()[1] for line in stdout.splitlines() if line.startswith("PEER ")}


def test_users_connect_from_the_given_addresses(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", PRINTS_PEER)
    with serve() as server:
        result = run_cli(
            tmp_path, "--headless", "-u", "3", "-r", "100", "-t", "1s", "-H", server.url,
            "--local-ips", "127.0.0.2-127.0.0.4", "--only-summary",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Each user keeps one connection, and the three connections took the addresses in turn.
    assert _peers(result.stdout) == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}


def test_the_environment_variable_and_the_config_file_give_it_too(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", PRINTS_PEER)
    write(tmp_path, "locust.conf", "local-ips = 127.0.0.7\n")
    with serve() as server:
        from_file = run_cli(
            tmp_path, "--headless", "-u", "1", "-t", "1s", "-H", server.url, "--only-summary"
        )
        from_env = run_cli(
            tmp_path, "--headless", "-u", "1", "-t", "1s", "-H", server.url, "--only-summary",
            env={"LOADHOPPER_LOCAL_IPS": "127.0.0.8"},
        )  # fmt: skip
    assert from_file.returncode == 0, from_file.stderr
    assert _peers(from_file.stdout) == {"127.0.0.7"}
    assert from_env.returncode == 0, from_env.stderr
    assert _peers(from_env.stdout) == {"127.0.0.8"}  # the environment wins over the file
