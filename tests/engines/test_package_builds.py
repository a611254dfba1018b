"""A compiled fit that finds no package runs eager steps while a builder process builds it.

The builder is gradpoly's own code in a fresh interpreter; here a stand-in process plays it
(copying the package the session built, after a delay, or failing), so each case runs in
seconds; the real builder is run once, on a cache that already holds its package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradpoly.engines import package_builds, torch_engine
from tests.engines.checks import notebook_fit as fit
from tests.engines.packages import OPTIONS, X, Y, package_fit

pytestmark = pytest.mark.xdist_group("aoti")
"""The worker that builds the session's packages (``built``) runs these too."""

torch = pytest.importorskip("torch", reason="torch is an optional engine")


@pytest.fixture
def background(cache, monkeypatch):
    """The fresh cache of ``cache``, with builds in the background as outside the tests."""
    monkeypatch.setattr(torch_engine, "_BUILDS", {})
    token = package_builds._BACKGROUND.set(True)
    yield cache
    for pending in torch_engine._BUILDS.values():
        if pending.process is not None:
            pending.process.wait()
    package_builds._BACKGROUND.reset(token)


def _stand_in(monkeypatch, built, delay: float, copies: bool) -> list[dict]:
    """Builders replaced by a process that sleeps ``delay`` s, then stores the session's
    degree-4 package and manifest (``copies``) or exits 1."""
    requests: list[dict] = []
    package, manifest = built[4][0], built[4][1]

    def start(request):
        requests.append(request)
        folder = Path(os.environ["GRADPOLY_CACHE_DIR"]) / "torch-packages"
        work = (
            "import os, shutil, sys, time; time.sleep(float(sys.argv[1]))\n"
            "if sys.argv[2] == '0': sys.exit(1)\n"
            "for source in sys.argv[3:5]:\n"
            "    target = os.path.join(sys.argv[5], os.path.basename(source))\n"
            "    shutil.copyfile(source, target); os.chmod(target, 0o600)\n"
        )
        arguments = [str(delay), str(int(copies)), str(package), str(manifest), str(folder)]
        return subprocess.Popen([sys.executable, "-c", work, *arguments])

    monkeypatch.setattr(torch_engine, "start_builder", start)
    return requests


def _pending():
    (pending,) = torch_engine._BUILDS.values()
    return pending


def test_a_first_fit_runs_eager_steps_while_its_package_is_built(
    background, built, monkeypatch
) -> None:
    _folder, compiled = background
    requests = _stand_in(monkeypatch, built, delay=1.0, copies=True)
    first = package_fit()
    assert first.environment["eager_steps"].startswith(f"{OPTIONS['steps']}:")
    eager = fit(X, Y, degree=4, **(OPTIONS | {"mode": "eager"}))
    np.testing.assert_allclose(first.coef, eager.coef, rtol=1e-12)
    assert requests[0]["inputs"] == json.loads(built[4][1].read_text())["key"]["inputs"]
    _pending().wait()
    again = package_fit()
    assert "eager_steps" not in again.environment
    np.testing.assert_array_equal(again.trace, built[4][2].trace)
    np.testing.assert_array_equal(again.coef, built[4][2].coef)
    assert compiled == []  # the builder's package was loaded, nothing compiled here
    assert len(requests) == 1


def test_a_long_fit_switches_to_the_package_once_it_is_built(
    background, built, monkeypatch
) -> None:
    _stand_in(monkeypatch, built, delay=0.3, copies=True)
    steps = 60_000
    switched = fit(X, Y, degree=4, **(OPTIONS | {"steps": steps}))
    eager_steps = int(switched.environment["eager_steps"].split(":")[0])
    assert 0 < eager_steps < steps
    with package_builds.waiting_for_packages():
        compiled = fit(X, Y, degree=4, **(OPTIONS | {"steps": steps}))
    assert "eager_steps" not in compiled.environment
    np.testing.assert_allclose(switched.coef, compiled.coef, rtol=1e-9)


def test_a_failed_builder_means_the_package_is_built_in_the_fit(
    background, built, monkeypatch
) -> None:
    _folder, compiled = background
    _stand_in(monkeypatch, built, delay=0.0, copies=False)
    package_fit()
    _pending().wait()
    again = package_fit()
    assert len(compiled) == 1
    np.testing.assert_array_equal(again.coef, built[4][2].coef)


def test_a_builder_that_cannot_start_means_the_package_is_built_in_the_fit(
    background, monkeypatch
) -> None:
    _folder, compiled = background

    def refuse(request):
        raise OSError("no processes left")

    monkeypatch.setattr(torch_engine, "start_builder", refuse)
    result = package_fit()
    assert "eager_steps" not in result.environment
    assert len(compiled) == 1


def test_without_a_cache_the_package_is_built_in_the_fit(background, monkeypatch) -> None:
    _folder, compiled = background
    monkeypatch.setattr(torch_engine, "start_builder", None)  # never called
    with torch._inductor.config.patch(force_disable_caches=True):
        result = package_fit()
    assert "eager_steps" not in result.environment
    assert len(compiled) == 1


def test_the_real_builder_finds_the_package_by_the_same_key_and_ignores_the_cwd(
    background, built, tmp_path, monkeypatch
) -> None:
    """gradpoly's builder, run from a folder holding a planted ``gradpoly``: it imports the
    asking gradpoly (not the plant), keys the request as the fit did, and so loads the cached
    package instead of compiling one."""
    folder, _compiled = background
    folder.mkdir(parents=True, mode=0o700)
    for source in built[4][:2]:
        shutil.copyfile(source, folder / source.name)
        os.chmod(folder / source.name, 0o600)
    planted = tmp_path / "elsewhere" / "gradpoly"
    planted.mkdir(parents=True)
    marker = tmp_path / "planted-code-ran"
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.chdir(planted.parent)
    key = json.loads(built[4][1].read_text())["key"]
    process = package_builds.start_builder({**key["block"], "inputs": key["inputs"]})
    assert process.wait(timeout=300) == 0
    assert not marker.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in built[4][:2])


def test_builders_take_turns(monkeypatch) -> None:
    """At most MAX_BUILDERS run at once; the next starts when one has exited."""
    monkeypatch.setattr(package_builds, "MAX_BUILDERS", 1)
    monkeypatch.setattr(package_builds, "_RUNNING", [])

    def sleeper():
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])

    first = package_builds.PendingPackage(sleeper, lambda: "first")
    second = package_builds.PendingPackage(sleeper, lambda: "second")
    assert first.ready() is None
    assert first.process is not None
    assert second.ready() is None
    assert second.process is None
    assert first.wait() == "first"
    second._next = 0.0
    assert second.ready() is None
    assert second.process is not None
    assert second.wait() == "second"
    assert package_builds._RUNNING == []


def test_an_interpreter_without_an_executable_starts_no_builder(monkeypatch) -> None:
    monkeypatch.setattr(sys, "executable", "")
    with pytest.raises(OSError, match="no executable"):
        package_builds.start_builder({})
