"""The CPU that results were measured on, as the scripts record it.

Imports nothing but the standard library: the BrainPy environment (no refsim) records its CPU
with it too (``validation.brainpy.tutorial.collect_versions``).
"""
import platform


def _cpuinfo(key: str) -> list[str]:
    """The values of ``key`` in /proc/cpuinfo, one per logical CPU (empty where unreadable)."""
    try:
        with open("/proc/cpuinfo") as fh:
            return [ln.split(":", 1)[1].strip() for ln in fh if ln.split(":", 1)[0].strip() == key]
    except OSError:
        return []


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else ``platform.processor()``."""
    names = _cpuinfo("model name")
    return names[0] if names else platform.processor()


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags (/proc/cpuinfo: ``fma``, ``avx512f``, ...), None where unknown."""
    flags = _cpuinfo("flags")
    return set(flags[0].split()) if flags else None
