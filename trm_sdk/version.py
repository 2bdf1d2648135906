"""The package's version, written here alone: ``trm_sdk.__version__`` re-exports it and ``pyproject.toml``
reads it at build time (``[tool.setuptools.dynamic]``). A module of its own so that any module of the
package can name the version without importing the package's ``__init__``, which imports the Solver."""

__version__ = "0.1.0"
