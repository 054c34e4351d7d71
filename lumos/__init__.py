"""LUMOS: multi-agent incident response. The subpackages live in the repository's top-level folders."""

__version__ = "0.1.0"
