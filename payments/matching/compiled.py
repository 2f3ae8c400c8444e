"""The matching engine compiled to C by mypyc, used when a build of today's sources exists.

The engine's modules (``COMPILED``) are plain, type-annotated Python and stay the reference:
``make compile`` (run by ``make run`` and ``make test``; ``python -P
payments/matching/compiled.py`` does the same: ``-P``, or its ``types`` would shadow the
standard library's) compiles those very files with mypyc into
``build/mypyc/`` and writes a stamp there, the digest of the sources it compiled. Ranking a
payment then costs about 0.65 of what the interpreter takes at 100k open invoices
(``bench/README.md``).

``payments.matching`` calls ``enable`` before importing its modules: when the stamp matches the
digest of the sources on disk (and this interpreter), the build directory goes first on the
package's ``__path__``, so ``payments.matching.engine`` is the compiled module. A build of other
sources (the engine edited since ``make compile``) is never loaded: matching runs as pure
Python and says so in the log. ``ARPILOT_PURE_MATCHING=1`` runs pure Python whatever is built;
a machine without a C compiler runs pure Python too, with the same results.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path

COMPILED = ("types", "subsets", "normalize", "engine")  # imported in this order
PACKAGE_DIR = Path(__file__).resolve().parent
BUILD_DIR = PACKAGE_DIR.parents[1] / "build" / "mypyc"
STAMP_NAME = "STAMP"

logger = logging.getLogger(__name__)


def sources_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """The digest of the compiled modules' sources, for this interpreter."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for name in COMPILED:
        digest.update(f"\0{name}\0".encode())
        digest.update((package_dir / f"{name}.py").read_bytes())
    return digest.hexdigest()


def enable(package_path: list[str], build_dir: Path = BUILD_DIR) -> bool:
    """Put a build of the current sources first on ``package_path`` (the package's
    ``__path__``); whether it did."""
    if os.environ.get("ARPILOT_PURE_MATCHING", "").strip() not in ("", "0"):
        return False
    try:
        stamp = (build_dir / STAMP_NAME).read_text().strip()
    except OSError:
        return False  # never built: pure Python
    if stamp != sources_digest():
        logger.warning(
            "%s was compiled from other sources of payments.matching: matching runs as pure "
            "Python until `make compile`",
            build_dir,
        )
        return False
    # Each compiled module loads the library they share, a top-level module of the build.
    if str(build_dir) not in sys.path:
        sys.path.append(str(build_dir))
    package_path.insert(0, str(build_dir / "payments" / "matching"))
    return True


def build(build_dir: Path = BUILD_DIR) -> None:
    """Compile ``COMPILED`` with mypyc into ``build_dir`` and stamp it with their digest."""
    import shutil
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="arpilot-mypyc-") as tmp:
        work = Path(tmp)
        package = work / "payments" / "matching"
        package.mkdir(parents=True)
        (work / "payments" / "__init__.py").write_text("")
        (package / "__init__.py").write_text("")
        for name in COMPILED:
            shutil.copyfile(PACKAGE_DIR / f"{name}.py", package / f"{name}.py")
        digest = sources_digest(package)  # of the very bytes compiled
        # Imports from outside the engine (arpilot.currencies, rapidfuzz) stay Python calls.
        command = [sys.executable, "-m", "mypyc", "--ignore-missing-imports",
                   "--follow-imports=skip", *(f"payments/matching/{name}.py" for name in COMPILED)]  # fmt: skip
        subprocess.run(command, cwd=work, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        staged = build_dir.with_name(build_dir.name + ".new")
        shutil.rmtree(staged, ignore_errors=True)
        for library in work.rglob("*.so"):
            relative = library.relative_to(work)
            if relative.parts[0] == "build":
                continue  # setuptools' copies
            (staged / relative.parent).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(library, staged / relative)
        (staged / STAMP_NAME).write_text(digest + "\n")
    shutil.rmtree(build_dir, ignore_errors=True)
    staged.rename(build_dir)


if __name__ == "__main__":
    build()
    print(f"compiled payments.matching ({', '.join(COMPILED)}) into {BUILD_DIR}")
