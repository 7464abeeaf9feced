"""The optional compiled fast paths of the ingester: every `ingest/_*.pyx`, built by Cython.

They are optional on purpose: where no C compiler is at hand the install goes on without
them (setuptools prints why), and `ingest.speedups` falls back to the pure-Python code,
which stays the reference that the differential tests compare every fast path against.
The rest of the packaging is declarative, in pyproject.toml.
"""

from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
SOURCES = sorted(p.relative_to(HERE).as_posix() for p in (HERE / "ingest").glob("_*.pyx"))


def extensions() -> list:
    try:
        from Cython.Build import cythonize
    except ImportError:  # no Cython in the build environment: pure Python
        return []
    modules = [Extension("ingest." + Path(src).stem, [src], optional=True) for src in SOURCES]
    return cythonize(modules, language_level=3, quiet=True, compiler_directives={"binding": False})


setup(ext_modules=extensions())
