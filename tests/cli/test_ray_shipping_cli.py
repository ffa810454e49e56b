"""What a Ray run ships and how `--ray` fails without Ray: no Ray instance is started here."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from loadhopper.cli._distributed import shipped_folder


def test_the_runs_directory_travels_when_the_locustfile_is_inside_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "load").mkdir(parents=True)
    # locust.conf and data files next to the run's directory travel, as Locust users expect.
    assert shipped_folder(str(project), "load/locustfile.py") == str(project)
    assert shipped_folder(str(project), "a.py,load/b.py") == str(project)
    assert shipped_folder(str(project), "load") == str(project)


def test_the_locustfiles_folder_travels_when_it_is_elsewhere(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_from = tmp_path / "run"
    run_from.mkdir()
    assert shipped_folder(str(run_from), str(elsewhere / "lf.py")) == str(elsewhere)
    assert shipped_folder(str(run_from), "../elsewhere/lf.py") == str(elsewhere)
    assert shipped_folder(str(run_from), str(elsewhere)) == str(elsewhere)  # a folder of files


def test_ray_without_the_package_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text(
        "from locust import HttpUser, task\n\n"
        "class U(HttpUser):\n"
        "    @task\n"
        "    def t(self):\n"
        "        pass\n"
    )
    script = textwrap.dedent(
        """
        import sys
        sys.modules["ray"] = None  # what a machine without ray looks like to import
        from loadhopper.cli import main
        sys.exit(main(["--headless", "-H", "http://127.0.0.1:9", "-t", "1",
                       "--ray", "local", "--workers", "1"]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install loadhopper[ray]" in done.stderr
    assert "Traceback" not in done.stderr
