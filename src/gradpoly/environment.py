"""What machine and which library versions ran: recorded with every demo and benchmark."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe_machine() -> dict[str, str]:
    """Machine, OS, CPU count, and versions of Python and of each engine's library."""
    info = {
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "system": f"{platform.system()} {platform.release()}",
        "cpu_count": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "gradpoly": _version("gradpoly"),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = str(torch.get_num_threads())
    return info
