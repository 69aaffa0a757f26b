"""Build hook: the browser packages go into the built package (setup.cfg holds the metadata).

The screens load the Socket.IO client from the server itself (server/web.py), never from
a CDN. It comes from the npm registry, pinned by package-lock.json, and is never
committed: a non-editable build (`pip install .`, `pip wheel .`, a wheel from the sdist)
runs `npm ci` when node_modules lacks the pinned version and copies the client and its
licence into server/static/vendor/ of the build. Building from source therefore needs
Node.js and npm; installing the built wheel needs neither. An editable install
(`make install`) serves the checkout's node_modules instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

ROOT = Path(__file__).resolve().parent
NODE_MODULES = ROOT / "node_modules"
PACKAGE = "socket.io-client"
# node_modules path -> file name in server/static/vendor/ (server/web.py serves the first).
VENDOR_FILES = {
    f"{PACKAGE}/dist/socket.io.min.js": "socket.io.min.js",
    f"{PACKAGE}/LICENSE": f"{PACKAGE}.LICENSE",
}
VENDOR_DIR = Path("server", "static", "vendor")


def pinned_version() -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return lock["packages"][f"node_modules/{PACKAGE}"]["version"]


def installed_version() -> str | None:
    manifest = NODE_MODULES / PACKAGE / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("version")


def ensure_node_modules() -> None:
    """Run `npm ci` unless node_modules already holds the pinned client and its files."""
    have_files = all((NODE_MODULES / source).is_file() for source in VENDOR_FILES)
    if have_files and installed_version() == pinned_version():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError(
            "building novbe needs npm (Node.js) to fetch the browser packages pinned by "
            "package-lock.json from the npm registry: install Node.js and npm "
            "(Debian: apt-get install npm), or install a built wheel instead"
        )
    command = [npm, "ci", "--no-audit", "--no-fund"]
    print(f"running {' '.join(command)} in {ROOT} (browser packages for the screens)")
    result = subprocess.run(command, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SetupError(f"`npm ci` failed (exit {result.returncode}) in {ROOT}; see above")
    missing = [source for source in VENDOR_FILES if not (NODE_MODULES / source).is_file()]
    if missing:
        raise SetupError(f"`npm ci` did not install {', '.join(missing)}")


class BuildPyWithBrowserPackages(build_py):
    """build_py that also puts the pinned browser packages into server/static/vendor/."""

    def run(self) -> None:
        if self.editable_mode:  # the checkout's node_modules is served (server/web.py)
            super().run()
            return
        # setuptools keeps files of earlier builds in build/lib and a wheel takes all of
        # it: start empty, so that the wheel holds only what the tree holds now.
        shutil.rmtree(self.build_lib, ignore_errors=True)
        super().run()
        ensure_node_modules()
        target = Path(self.build_lib) / VENDOR_DIR
        self.mkpath(str(target))
        for source, name in VENDOR_FILES.items():
            self.copy_file(str(NODE_MODULES / source), str(target / name))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        target = Path(self.build_lib) / VENDOR_DIR
        return outputs + [str(target / name) for name in VENDOR_FILES.values()]


setup(cmdclass={"build_py": BuildPyWithBrowserPackages})
