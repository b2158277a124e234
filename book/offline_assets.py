"""Fetch the JavaScript the built book needs, so that it reads without a network.

The HTML renders maths with MathJax and interactive views with the Jupyter widget
manager (``@jupyter-widgets/html-manager``, loaded by RequireJS). By default Sphinx and
myst-nb load all three from CDNs when a reader opens a page; offline the maths then
shows as raw ``\\( ... \\)`` and the views as still pictures. This script downloads
pinned releases of the three from the npm registry once, at build time, checks each
archive against the registry's published SHA-512, and unpacks the files the book uses
into ``_offline/`` (not committed). ``_config.yml`` serves that folder as static files
(``html_static_path``) and points ``mathjax_path`` and ``nb_ipywidgets_js`` at it.

``python book/offline_assets.py`` fetches what is missing (``make book`` and
``make test`` run it); ``--check`` only reports whether everything is in place.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "_offline"
REGISTRY = "https://registry.npmjs.org"

#: (package, version, the registry's sha512 integrity, folder in the archive, folder
#: under _offline, the file the book loads from it)
PACKAGES = (
    ("mathjax", "3.2.2",
     "Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
     "package/es5/", "mathjax", "tex-mml-chtml.js"),
    ("@jupyter-widgets/html-manager", "1.0.15",
     "5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
     "package/dist/", "widgets", "embed-amd.js"),
    ("requirejs", "2.3.8",
     "7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
     "package/require.js", "requirejs", "require.js"),
)

#: Files in the archives that the pages never load (source maps, the non-AMD builds).
SKIP_SUFFIXES = (".map", ".d.ts")
SKIP_NAMES = {"embed.js", "libembed-amd.js"}


def tarball_url(package: str, version: str) -> str:
    """The registry's address of a package's release archive."""
    return f"{REGISTRY}/{package}/-/{package.split('/')[-1]}-{version}.tgz"


def download(url: str, integrity: str) -> bytes:
    """The archive at ``url``, refused unless its SHA-512 matches ``integrity``."""
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != integrity:
        raise SystemExit(f"offline_assets: {url} does not match its pinned sha512; not installed")
    return data


def unpack(data: bytes, prefix: str, folder: Path) -> int:
    """Extract the members under ``prefix`` into ``folder``; returns how many."""
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            name = member.name
            if not member.isfile() or not name.startswith(prefix):
                continue
            relative = name[len(prefix):] or Path(name).name
            if relative.endswith(SKIP_SUFFIXES) or Path(relative).name in SKIP_NAMES:
                continue
            path = folder / relative
            if ".." in Path(relative).parts:
                continue  # never write outside the folder
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.extractfile(member).read())
            count += 1
    return count


def installed(folder: Path, version: str, entry: str) -> bool:
    """Whether ``folder`` holds ``version`` of a package, its entry file included."""
    stamp = folder / ".version"
    return stamp.is_file() and stamp.read_text() == version and (folder / entry).is_file()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, do not download")
    args = parser.parse_args(argv)
    missing = []
    for package, version, integrity, prefix, name, entry in PACKAGES:
        folder = TARGET / name
        if installed(folder, version, entry):
            continue
        if args.check:
            missing.append(f"{package}@{version}")
            continue
        shutil.rmtree(folder, ignore_errors=True)
        count = unpack(download(tarball_url(package, version), integrity), prefix, folder)
        (folder / ".version").write_text(version)
        print(f"offline_assets: {package}@{version}: {count} files in {folder.relative_to(ROOT)}")
    if missing:
        print("missing: " + ", ".join(missing) + "; run: python book/offline_assets.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
