"""The open model over `--processes 2`: the schedule split exactly, the total rate kept."""

from __future__ import annotations

import json
from pathlib import Path

from cli_target import serve
from test_main_e2e import run_cli, write
from test_open_model_e2e import _locustfile


def test_two_processes_keep_the_total_rate_and_split_the_schedule(tmp_path: Path) -> None:
    # 200/s for 5 s: 1000 iterations due; worker i runs those with k % 2 == i, 500 each.
    write(tmp_path, "locustfile.py", _locustfile("/"))
    with serve() as server:
        result = run_cli(
            tmp_path,
            "-f",
            "locustfile.py",
            "--headless",
            "-H",
            server.url,
            "--processes",
            "2",
            "--arrival-rate",
            "200/s",
            "-u",
            "10",
            "-t",
            "5s",
            "--only-summary",
        )
        received = server.settled()[("GET", "/")]
    assert result.returncode == 0, result.stderr
    merged = json.loads((tmp_path / "result.json").read_text())
    workers = [json.loads((tmp_path / f"worker-{i}.json").read_text()) for i in range(2)]
    assert abs(received - 1000) <= 10, received
    assert merged["count"] == received
    assert merged["due"] == sum(w["due"] for w in workers)
    for worker in workers:
        # Each worker's clock starts when its plan arrives: a few ms apart at most.
        assert abs(worker["due"] - 500) <= 5, workers
        assert worker["late"] == 0 and worker["dropped"] == 0, workers
