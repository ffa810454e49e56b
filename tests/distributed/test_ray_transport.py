"""The Ray transport against a real local Ray instance, started once for this module.

The workers here are small `serve` functions of the tests' own (`echo_worker.serve`,
written into the folder shipped as the job's working_dir), so that the transport is tested
for what it carries: frames both ways, in order, losses with Ray's reason, and a bounded
close. The first test runs the transport's own "local" start in a child process, before the
module's instance exists.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvloop

from loadhopper.distributed._ray import RayTransport
from loadhopper.distributed._transport import Link, WorkerLost, WorkerSpec

ray = pytest.importorskip("ray")

ECHO_WORKER = textwrap.dedent(
    """
    import os


    async def serve(spec, frames, send):
        send(("hello " + spec.locustfile + " " + spec.cwd).encode())
        async for frame in frames:
            if frame == b"quit":
                return 0
            if frame == b"boom":
                raise RuntimeError("boom on purpose")
            if frame.startswith(b"exit "):
                return int(frame.split()[1])
            if frame.startswith(b"many "):
                for i in range(int(frame.split()[1])):
                    send(b"%d" % i)
            elif frame == b"import":
                import helper

                ignored = os.path.exists("ignored_by_git.py")
                send(("helper %s ignored-present %s" % (helper.VALUE, ignored)).encode())
            elif frame == b"pid":
                send(b"pid %d" % os.getpid())
            else:
                send(b"echo " + frame)
        return 0
    """
)


def _write_working_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "echo_worker.py").write_text(ECHO_WORKER)
    (root / "helper.py").write_text("VALUE = 'from-the-locustfile-folder'\n")
    (root / "locustfile.py").write_text("# a locustfile's folder travels with it\n")
    (root / "ignored_by_git.py").write_text("SECRET = 1\n")
    (root / ".gitignore").write_text("ignored_by_git.py\n")
    return root


def _spec(folder: Path) -> WorkerSpec:
    return WorkerSpec(argv=("-f", "locustfile.py"), cwd=str(folder), locustfile="locustfile.py")


def test_missing_ray_is_one_sentence_and_import_stays_light() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["ray"] = None  # what an environment without ray looks like to import
        import loadhopper.distributed._ray as module
        try:
            module.RayTransport("local", 2, ".", entry_point="echo_worker:serve")
        except module.RayNotInstalled as exc:
            print("ERROR", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == (
        "ERROR --ray needs the ray package: install it with `pip install loadhopper[ray]`."
    )


def test_local_start_by_the_transport_itself(tmp_path: Path) -> None:
    """ "local" starts Ray with token auth, leaves SIGTERM alone, and shuts it down."""
    folder = _write_working_dir(tmp_path / "project")
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, time
        from loadhopper.distributed._ray import RayTransport
        from loadhopper.distributed._transport import WorkerSpec
        import ray

        def on_term(signum, frame):
            pass

        signal.signal(signal.SIGTERM, on_term)

        async def main():
            transport = RayTransport("local", 2, {str(folder)!r}, entry_point="echo_worker:serve")
            began = time.perf_counter()
            links = await transport.start(
                WorkerSpec(("-f", "locustfile.py"), {str(folder)!r}, "locustfile.py"), 0)
            print("STARTUP", round(time.perf_counter() - began, 2))
            print("WORKERS", len(links))
            print("AUTH", os.environ.get("RAY_AUTH_MODE"))
            print("SIGTERM", signal.getsignal(signal.SIGTERM) is on_term)
            for link in links:
                link.send(b"import")
            seen = set()
            inbox = transport.inbox()
            while len(seen) < 4:
                link, item = await asyncio.wait_for(anext(inbox), 60)
                seen.add((link.name, item))
            print("ANSWERS", sorted({{item for _, item in seen}}))
            for link in links:
                link.send(b"quit")
            await transport.close()
            print("CONNECTED", ray.is_initialized())

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    print("Ray local start-up with 2 workers:", lines.get("STARTUP"), "s")
    assert lines["WORKERS"] == "2"  # one per CPU of `local`, on this 2-core machine or more
    assert lines["AUTH"] == "token"
    assert lines["SIGTERM"] == "True"
    assert lines["CONNECTED"] == "False"
    assert "helper from-the-locustfile-folder ignored-present False" in lines["ANSWERS"]
    assert "hello locustfile.py ." in lines["ANSWERS"]


CLI_LOCUSTFILE = """
from locust import HttpUser, constant, task


class Simple(HttpUser):
    wait_time = constant(0.02)

    @task
    def index(self):
        self.client.get("/")
"""


class _Counting(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real target
    received = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with _Counting.lock:
            _Counting.received += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_cli_ray_local_counts_what_the_server_received(tmp_path: Path) -> None:
    """`--ray local --workers 2` end to end: the merged count is the server's."""
    (tmp_path / "locustfile.py").write_text(CLI_LOCUSTFILE)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "loadhopper", "-f", "locustfile.py", "--headless"),
                *("-u", "4", "-r", "100", "-t", "3", "--ray", "local", "--workers", "2"),
                *("-H", f"http://127.0.0.1:{server.server_address[1]}", "--json-file", "out"),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "out.json").read_text())
    assert summary["aggregated"]["num_requests"] == _Counting.received > 0


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One Ray instance for the module, with the test workers' folder as working_dir."""
    folder = _write_working_dir(tmp_path_factory.mktemp("ray") / "project")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024**2,
        runtime_env={"working_dir": str(folder)},
        logging_level="WARNING",
    )
    try:
        yield folder
    finally:
        ray.shutdown()


async def _next(inbox: AsyncIterator[tuple[Link, bytes | WorkerLost]]) -> tuple[Link, object]:
    return await asyncio.wait_for(anext(inbox), 60)


def _run(coro: object) -> None:
    uvloop.run(coro)  # type: ignore[arg-type]  # the CLI's loop


def test_frames_both_ways_in_order(shipped: Path) -> None:
    async def main() -> None:
        transport = RayTransport("local", None, str(shipped), entry_point="echo_worker:serve")
        links = await transport.start(_spec(shipped), 2)
        assert len({link.name for link in links}) == 2
        inbox = transport.inbox()
        for link in links:
            for i in range(500):
                link.send(b"f%d" % i)
        got: dict[str, list[object]] = {link.name: [] for link in links}
        while sum(len(items) for items in got.values()) < 2 * 501:
            link, item = await _next(inbox)
            got[link.name].append(item)
        for items in got.values():
            assert items[0] == b"hello locustfile.py ."
            assert items[1:] == [b"echo f%d" % i for i in range(500)]
        for link in links:
            link.send(b"quit")
        await transport.close()

    _run(main())


def test_many_frames_from_a_worker_arrive_complete(shipped: Path) -> None:
    async def main() -> None:
        transport = RayTransport("local", 1, str(shipped), entry_point="echo_worker:serve")
        (link,) = await transport.start(_spec(shipped), 0)
        inbox = transport.inbox()
        assert (await _next(inbox))[1] == b"hello locustfile.py ."
        link.send(b"many 50000")
        received = [(await _next(inbox))[1] for _ in range(50_000)]
        assert received == [b"%d" % i for i in range(50_000)]
        link.send(b"quit")
        await transport.close()

    _run(main())


def test_killed_actor_is_lost_with_rays_reason(shipped: Path) -> None:
    async def main() -> None:
        transport = RayTransport("local", 2, str(shipped), entry_point="echo_worker:serve")
        links = await transport.start(_spec(shipped), 0)
        inbox = transport.inbox()
        victim = links[0]
        ray.kill(victim.actor)  # type: ignore[attr-defined]
        began = time.monotonic()
        while True:
            link, item = await _next(inbox)
            if isinstance(item, WorkerLost):
                break
        assert link is victim
        assert item.cause == "The actor is dead because it was killed by `ray.kill`."
        assert time.monotonic() - began < 30  # found by the pulls, not by a long timeout
        # The other worker goes on.
        links[1].send(b"still there")
        while (await _next(inbox))[1] != b"echo still there":
            pass
        links[1].send(b"quit")
        await transport.close()

    _run(main())


def test_worker_that_raises_or_fails_is_lost_with_its_cause(shipped: Path) -> None:
    async def main() -> None:
        transport = RayTransport("local", 2, str(shipped), entry_point="echo_worker:serve")
        raising, failing = await transport.start(_spec(shipped), 0)
        inbox = transport.inbox()
        raising.send(b"boom")
        failing.send(b"exit 3")
        losses = {}
        while len(losses) < 2:
            link, item = await _next(inbox)
            if isinstance(item, WorkerLost):
                losses[link.name] = item.cause
        assert losses == {
            raising.name: "the worker failed: RuntimeError: boom on purpose",
            failing.name: "the worker ended with exit code 3.",
        }
        await transport.close()

    _run(main())


def test_close_ends_every_actor_within_a_bound(shipped: Path) -> None:
    async def main() -> None:
        transport = RayTransport("local", 2, str(shipped), entry_point="echo_worker:serve")
        links = await transport.start(_spec(shipped), 0)
        inbox = transport.inbox()
        pids = []
        for link in links:
            link.send(b"pid")
        while len(pids) < 2:
            _, item = await _next(inbox)
            if isinstance(item, bytes) and item.startswith(b"pid "):
                pids.append(int(item.split()[1]))
        # No quit: the workers are still serving when close() begins.
        began = time.monotonic()
        await transport.close()
        assert time.monotonic() - began < 20
        rest = [item async for item in inbox]
        assert not any(isinstance(item, WorkerLost) for _, item in rest)
        deadline = time.monotonic() + 30
        # The pids are the worker processes the actors started: they die with their actors.
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            await asyncio.sleep(0.2)
        assert not any(_alive(pid) for pid in pids)
        while time.monotonic() < deadline and ray.available_resources().get("CPU") != 2.0:
            await asyncio.sleep(0.2)
        assert ray.available_resources().get("CPU") == 2.0  # the placement group is gone

    _run(main())


def test_working_dir_is_shipped_without_gitignored_files(shipped: Path) -> None:
    async def main() -> None:
        transport = RayTransport("local", 1, str(shipped), entry_point="echo_worker:serve")
        (link,) = await transport.start(_spec(shipped), 0)
        inbox = transport.inbox()
        link.send(b"import")
        while (item := (await _next(inbox))[1]) == b"hello locustfile.py .":
            pass
        assert item == b"helper from-the-locustfile-folder ignored-present False"
        link.send(b"quit")
        await transport.close()

    _run(main())


def test_too_many_workers_for_the_cluster_is_one_error(shipped: Path) -> None:
    # The placement wait is bounded; shortened here so the test stays quick.
    import loadhopper.distributed._ray as module

    async def main() -> None:
        transport = RayTransport("local", 3, str(shipped), entry_point="echo_worker:serve")
        with pytest.raises(module.RayTransportError, match="could not place 3 workers"):
            await transport.start(_spec(shipped), 0)
        await transport.close()

    saved = module.PLACEMENT_TIMEOUT
    module.PLACEMENT_TIMEOUT = 2.0
    try:
        _run(main())
    finally:
        module.PLACEMENT_TIMEOUT = saved
    assert ray.available_resources().get("CPU") == 2.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; Ray's raylet reaps its workers.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_spec_is_rewritten_for_the_shipped_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shipped_folder = project / "load"
    transport = RayTransport("local", 1, str(shipped_folder), entry_point="echo_worker:serve")
    # Started above the shipped folder: the locustfile paths move, the rest stays.
    spec = WorkerSpec(
        ("-f", "load/lf.py", "-H", "x", "--locustfile=load/lf.py"), str(project), "load/lf.py"
    )
    moved = transport._spec_for_actors(spec)
    assert moved == WorkerSpec(("-f", "lf.py", "-H", "x", "--locustfile=lf.py"), ".", "lf.py")
    # Started inside it: the same place relative to the copy, arguments as given.
    inside = WorkerSpec(("-f", "../lf.py"), str(shipped_folder / "sub"), "../lf.py")
    assert transport._spec_for_actors(inside) == WorkerSpec(("-f", "../lf.py"), "sub", "../lf.py")


# The workers write their pids where the test reads them (the Ray copy of the folder is
# elsewhere), so that the test kills exactly one actor's process.
FAULT_LOCUSTFILE = """
import os
from locust import HttpUser, constant, events, task
from locust.runners import WorkerRunner

PIDS = {pids!r}


@events.test_start.add_listener
def record_pid(environment, **_kwargs):
    if isinstance(environment.runner, WorkerRunner):
        path = os.path.join(PIDS, f"worker-{{environment.runner.worker_index}}.pid")
        with open(path + ".tmp", "w") as handle:
            handle.write(str(os.getpid()))
        os.replace(path + ".tmp", path)


class Simple(HttpUser):
    wait_time = constant(0.02)

    @task
    def index(self):
        self.client.get("/")
"""


def test_cli_ray_worker_killed_by_pid_keeps_its_counts_and_its_users_move(
    shipped: Path, tmp_path: Path
) -> None:
    """SIGKILL one actor's process mid-run: Ray's reason is reported, nothing counted is lost.

    The CLI joins this module's Ray instance (`--ray auto` at its address), so no second
    instance starts.
    """
    pids = tmp_path / "pids"
    pids.mkdir()
    (tmp_path / "locustfile.py").write_text(FAULT_LOCUSTFILE.format(pids=str(pids)))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    _Counting.received = 0
    address = ray.get_runtime_context().gcs_address
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "loadhopper", "-f", "locustfile.py", "--headless"),
            *("-u", "4", "-r", "100", "-t", "6", "--ray", "auto", "--workers", "2"),
            *("-H", f"http://127.0.0.1:{server.server_address[1]}", "--json-file", "out"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ADDRESS": address},
    )
    try:
        pid_file = pids / "worker-1.pid"
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        victim = int(pid_file.read_text())
        time.sleep(1.5)
        before = _Counting.received
        os.kill(victim, 9)  # the actor's worker process, by its pid, nothing else
        _out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        server.shutdown()
        server.server_close()
    assert process.returncode == 0, err[-3000:]  # a lost worker does not change the code
    assert "Giving its users to the 1 remaining workers" in err
    summary = json.loads((tmp_path / "out.json").read_text())
    workers = summary["workers"]
    assert [w["state"] for w in workers] == ["stopped", "lost"]
    assert workers[1]["pid"] == victim
    # The victim is the process the actor started to send the requests (its pid is the
    # one the JSON lists); the actor saw it die. (Ray's reason for a dead actor is tested
    # with ray.kill above.)
    assert workers[1]["lost_cause"] == "killed by signal 9 (SIGKILL)"
    assert workers[1]["lost_cause"] in err
    # Counted requests stay counted; some of the victim's may have died unanswered.
    assert _Counting.received >= summary["aggregated"]["num_requests"] >= before > 0


def test_cli_ray_arrival_rate_is_split_exactly(shipped: Path, tmp_path: Path) -> None:
    """`--arrival-rate` over two Ray workers: each runs its half of one schedule.

    100/s for 4 s is iterations k = 0 .. 399 (k / 100 < 4); the pool (up to 8 users, each
    answered at once) keeps every one on time, so all are started and none is dropped. The
    workers start their halves within a few milliseconds of the master's clock, hence the
    small slack at the run's edge.
    """
    (tmp_path / "locustfile.py").write_text(CLI_LOCUSTFILE)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    _Counting.received = 0
    address = ray.get_runtime_context().gcs_address
    try:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "loadhopper", "-f", "locustfile.py", "--headless"),
                *("--arrival-rate", "100/s", "-u", "2", "--max-users", "8", "-t", "4"),
                *("--ray", "auto", "--workers", "2", "--json-file", "out"),
                *("-H", f"http://127.0.0.1:{server.server_address[1]}"),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ADDRESS": address},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "out.json").read_text())
    arrivals = summary["arrivals"]
    assert abs(arrivals["due"] - 400) <= 6, arrivals
    assert arrivals["dropped"] == 0, arrivals
    assert summary["aggregated"]["num_requests"] == _Counting.received == arrivals["due"]
