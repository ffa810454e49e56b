"""TIME_WAIT sockets (benchmarks/_time_wait.py): counted from /proc/net/tcp, and waited for
before a case 2 run."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

# benchmarks/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _time_wait import count_time_wait, time_wait_count, wait_for_time_wait

_TABLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid
   0: 0100007F:4E35 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   1: 0100007F:8E2C 0100007F:46A3 06 00000000:00000000 03:00000AF4 00000000     0
   2: 0100007F:8E2E 0100007F:46A3 06 00000000:00000000 03:00000AF4 00000000     0
   3: 0100007F:8E30 0100007F:46A3 01 00000000:00000000 00:00000000 00000000     0
"""


def test_time_wait_sockets_are_counted_by_their_state() -> None:
    assert count_time_wait(_TABLE) == 2  # 0A is LISTEN, 01 ESTABLISHED
    assert count_time_wait(_TABLE.splitlines()[0]) == 0


def test_a_connection_closed_here_first_is_counted_from_the_real_table() -> None:
    # The side that closes first keeps the TIME_WAIT: here, the client. Only this test's
    # socket is looked at: the machine's other sockets come and go meanwhile.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket.create_connection(server.getsockname())
        port = client.getsockname()[1]
        accepted, _ = server.accept()
        client.close()
        accepted.close()
        ours = f":{port:04X}"
        deadline = time.monotonic() + 5.0
        while True:
            table = Path("/proc/net/tcp").read_text()
            lines = table.splitlines()
            mine = [line for line in lines[1:] if line.split()[1].endswith(ours)]
            if count_time_wait("\n".join([lines[0], *mine])) == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert count_time_wait("\n".join([lines[0], *mine])) == 1
    total = time_wait_count()
    assert total is not None and total >= 1


def test_the_wait_returns_at_once_below_the_limit_and_gives_up_at_its_timeout() -> None:
    calls: list[int] = []

    def three() -> int:
        calls.append(3)
        return 3

    assert wait_for_time_wait(10, 30.0, count=three) == 3
    assert calls == [3]  # read once, not waited on
    assert wait_for_time_wait(10, 0.2, count=lambda: 50, interval=0.05) == 50
    assert wait_for_time_wait(10, 30.0, count=lambda: None) is None
    counts = iter([900, 700, 20])
    assert wait_for_time_wait(100, 30.0, count=lambda: next(counts), interval=0.01) == 20
