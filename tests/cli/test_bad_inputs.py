"""Every probe of :mod:`tests.cli.probes` through the real command line, in a process of its own, as a user runs it.

Each ends with the right exit code and, when it fails, with exactly one ``error:`` line (the last line of
stderr, unwrapped although stderr is a pipe) that says what was wrong, and no traceback. Nothing that was in
the probe's workspace before is changed or left half-written, and a usage error (exit 2) writes nothing at
all. The probes run two at a time, each with one torch thread.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli.probes import PROBES, Probe
from tests.cli.workspace import build_workspace

BY_NAME = {p.name: p for p in PROBES}


def snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run(probe: Probe, ws: Path, ro: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSEGKIT_") and k != "COLUMNS"}
    env["OMP_NUM_THREADS"] = "1"
    args = shlex.split(probe.args.format(ws=ws, ro=ro))
    return subprocess.run(
        [sys.executable, "-m", "medsegkit", *args],
        cwd=ws / probe.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


CHUNK = 8  # probes run together, two at a time: no single test waits for more than a few seconds


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> Iterator[Callable[[str], tuple[subprocess.CompletedProcess, dict[str, str], Path]]]:
    """The outcome of a probe by name; the first test of each chunk of probes runs the chunk."""
    root = tmp_path_factory.mktemp("probes")
    base, ro = root / "base", root / "ro"
    build_workspace(base, ro)
    read_only = snapshot(ro)
    done: dict[str, tuple[subprocess.CompletedProcess, dict[str, str], Path]] = {}

    def outcome(name: str) -> tuple[subprocess.CompletedProcess, dict[str, str], Path]:
        if name not in done:
            start = [p.name for p in PROBES].index(name) // CHUNK * CHUNK
            chunk = PROBES[start : start + CHUNK]
            prepared = {}
            for probe in chunk:  # in this process, one after another: set-ups may run the CLI in-process
                ws = root / "ws" / probe.name
                shutil.copytree(base, ws)
                if probe.setup is not None:
                    probe.setup(ws)
                prepared[probe.name] = (ws, snapshot(ws))
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = {p.name: pool.submit(run, p, prepared[p.name][0], ro) for p in chunk}
                done.update({n: (f.result(), prepared[n][1], prepared[n][0]) for n, f in futures.items()})
        return done[name]

    yield outcome
    assert snapshot(ro) == read_only  # the shared checkpoints were only read


def test_there_are_enough_probes():
    assert len(PROBES) >= 60 and len(BY_NAME) == len(PROBES)


@pytest.mark.parametrize("name", list(BY_NAME))
def test_probe(outcomes, name):
    probe = BY_NAME[name]
    done, before, ws = outcomes(name)
    output = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == probe.code, output
    assert "Traceback" not in done.stderr + done.stdout, output
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    if probe.code == 0:
        assert not errors, output
    else:
        assert len(errors) == 1 and done.stderr.rstrip().splitlines()[-1] == errors[0], output
        assert probe.message in errors[0], output
    after = snapshot(ws)
    changed = [path for path, digest in before.items() if after.get(path) != digest and path not in probe.writes]
    assert not changed, f"earlier outputs changed or lost: {changed}\n{output}"
    assert not [path for path in after if ".tmp-" in path], output
    if probe.code == 2:
        assert set(after) == set(before), f"a usage error wrote {sorted(set(after) - set(before))}"
