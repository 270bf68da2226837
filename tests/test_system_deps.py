"""``scripts/system-deps.sh`` (the set-up step of ``make test``) against a missing browser.

A fake ``apt-get`` and ``id`` on PATH stand in for Debian's: the logic under test is what the
script decides and runs, not the package manager.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "system-deps.sh"


def _fake_tools(bin_dir: Path, uid: int, chromium: Path, log: Path) -> None:
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    # "installs" chromium by creating the executable the script looks for
    (bin_dir / "apt-get").write_text(
        f'#!/bin/sh\necho "apt-get $*" >> {log}\n'
        f'case "$*" in *install*chromium*) printf "#!/bin/sh\\n" > {chromium}; '
        f"chmod +x {chromium};; esac\n"
    )
    (bin_dir / "docker-compose").write_text("#!/bin/sh\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)


def _run(tmp_path: Path, uid: int) -> tuple[subprocess.CompletedProcess, Path, Path]:
    chromium, log = tmp_path / "chromium", tmp_path / "apt.log"
    fashion = tmp_path / "fashion-mnist"
    fashion.mkdir()
    _fake_tools(tmp_path / "bin", uid, chromium, log)
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "MATCHLAB_CHROMIUM": str(chromium),
        "MATCHLAB_FASHION_MNIST_DIR": str(fashion),
    }
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
    return result, chromium, log


def test_as_root_a_missing_browser_is_installed_with_apt_get(tmp_path):
    result, chromium, log = _run(tmp_path, uid=0)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["apt-get update -q", "apt-get install -y -q chromium"]
    assert os.access(chromium, os.X_OK)


def test_without_root_it_stops_with_the_exact_command(tmp_path):
    result, chromium, log = _run(tmp_path, uid=1000)
    assert result.returncode == 1
    assert "sudo sh -c 'apt-get update && apt-get install -y chromium'" in result.stderr
    assert not log.exists() and not chromium.exists()


def test_nothing_missing_installs_nothing(tmp_path):
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    result, _, log = _run(tmp_path, uid=0)
    assert result.returncode == 0 and not log.exists()


def test_make_test_runs_the_set_up_before_the_suite():
    makefile = (ROOT / "Makefile").read_text()
    test_target = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "system-deps" in test_target.splitlines()[0]
    assert "scripts/system-deps.sh" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "apt-get" not in ci  # the Makefile does the set-up, not CI
