"""The version of refsim: one place, read by the package, setup.cfg and every result file."""

__version__ = "0.4.0"
