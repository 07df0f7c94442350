"""The locks (`make lock`): requirements-dev.lock for .venv and CI, requirements.lock for the image.

They hold every package with its hashes, agree with pyproject.toml's pins and with each other,
and resolve, wheels only, on x86_64 and aarch64 Linux (uv evaluates each line's markers for the
target platform, which `pip --platform` does not: it reads them from the machine it runs on)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import REPO, unavailable

RUNTIME = REPO / "requirements.lock"
DEV = REPO / "requirements-dev.lock"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
LINUX = {"x86_64": "x86_64-manylinux_2_28", "aarch64": "aarch64-manylinux_2_28"}


def entries(path: Path) -> dict[str, tuple[str, Marker | None, list[str]]]:
    """Each locked package: its version, its marker and its hashes."""
    text = path.read_text().replace("\\\n", " ")
    found = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *hashes = line.split(" --hash=")
        req = Requirement(spec.strip())
        (pin,) = req.specifier
        assert pin.operator == "==", line
        found[canonicalize_name(req.name)] = (pin.version, req.marker, [h.strip() for h in hashes])
    return found


def environment(machine: str, python: str) -> dict[str, str]:
    """The marker environment of CPython `python` on Linux `machine`."""
    return {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
            "platform_machine": machine, "python_version": python,
            "python_full_version": f"{python}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "extra": ""}


def wanted(path: Path, env: dict[str, str]) -> dict[str, str]:
    """The packages a lock installs in that environment, with their versions."""
    return {name: version for name, (version, marker, _) in entries(path).items()
            if marker is None or marker.evaluate(env)}


@pytest.mark.parametrize("path", [RUNTIME, DEV], ids=lambda p: p.name)
def test_every_locked_package_is_pinned_with_hashes(path: Path) -> None:
    locked = entries(path)
    assert "tensorflow-cpu" in locked and "numpy" in locked
    for name, (_, _, hashes) in locked.items():
        assert hashes and all(h.startswith("sha256:") for h in hashes), name
    assert "make lock" in path.read_text().split("\n", 3)[1], "the header names the command"


@pytest.mark.parametrize(("path", "groups"), [(RUNTIME, ["dependencies"]),
                                              (DEV, ["dependencies", "dev"])],
                         ids=["requirements.lock", "requirements-dev.lock"])
def test_the_lock_holds_each_pin_of_pyproject(path: Path, groups: list[str]) -> None:
    locked = entries(path)
    direct = PROJECT["dependencies"] + (PROJECT["optional-dependencies"]["dev"]
                                        if "dev" in groups else [])
    for line in direct:
        req = Requirement(line)
        (pin,) = req.specifier
        version, marker, _ = locked[canonicalize_name(req.name)]
        assert version == pin.version, f"{req.name} {pin.version} is locked at {version}: make lock"
        assert (marker is None) == (req.marker is None), req.name


def test_the_image_gets_the_same_versions_as_the_tests() -> None:
    runtime, dev = entries(RUNTIME), entries(DEV)
    assert runtime.keys() <= dev.keys()
    for name, (version, marker, _) in runtime.items():
        assert (version, marker) == dev[name][:2], name
    assert not {"pytest", "ruff", "hypothesis", "uv"} & runtime.keys(), "no dev tools in the image"


@pytest.mark.parametrize("machine", sorted(LINUX))
def test_tensorflow_comes_as_a_wheel_that_exists_on_each_machine(machine: str) -> None:
    installed = wanted(RUNTIME, environment(machine, "3.11"))
    expected = "tensorflow-cpu" if machine == "x86_64" else "tensorflow"
    assert {n for n in installed if n.startswith("tensorflow")} == {expected}


def test_make_install_ci_and_the_image_install_from_the_locks() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in makefile
    assert "$(VENV)/.installed: pyproject.toml requirements-dev.lock" in makefile
    assert re.search(r"^test: install\b", makefile, re.M), "CI's `make test` installs first"
    assert re.search(r"^lock:.*##", makefile, re.M), "`make lock` is listed by `make help`"
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in dockerfile


def uv() -> str:
    """The uv of the virtualenv (a dev dependency); skipped without it, but never under CI."""
    return (shutil.which("uv", path=str(REPO / ".venv" / "bin")) or shutil.which("uv")
            or unavailable("uv is not installed (make install puts it in .venv)"))


@pytest.mark.parametrize("python", ["3.11", "3.13"])
@pytest.mark.parametrize("machine", sorted(LINUX))
@pytest.mark.parametrize("path", [RUNTIME, DEV], ids=lambda p: p.name)
def test_the_lock_resolves_to_itself_on_linux(path: Path, machine: str, python: str) -> None:
    """Wheels only, for that platform and Python (asks PyPI): nothing missing, nothing else."""
    result = subprocess.run(
        [uv(), "pip", "compile", str(path), "--no-config", "--no-python-downloads", "--quiet",
         "--no-header", "--no-annotate", "--python-platform", LINUX[machine],
         "--python-version", python, "--only-binary", ":all:"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    resolved = dict(line.split("==") for line in result.stdout.split())
    resolved = {canonicalize_name(name): version for name, version in resolved.items()}
    assert resolved == wanted(path, environment(machine, python))
