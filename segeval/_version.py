"""The version of segeval (read by pyproject.toml and ``segeval --version``)."""

__version__ = "0.1.0"
