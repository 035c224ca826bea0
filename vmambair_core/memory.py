"""How much memory is free, and how much this process has used at most: the numbers up-front checks need.

On a CPU, running out of memory gets the process killed by the kernel (no error to catch), so
inference tiles and training batches are sized before running. ``available_memory_bytes`` is
the RAM that can be taken without swapping: psutil's figure when psutil is installed, else
Linux's ``MemAvailable`` (capped by a cgroup limit, as in containers), else Windows'
``GlobalMemoryStatusEx``, else POSIX ``sysconf``; None when none of them answers.
``HighWater`` reads and resets the process's peak resident memory (Linux ``VmHWM``).
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

_CGROUP_FILES = (  # (limit, usage): cgroup v2, then v1
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _proc_meminfo() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    """What a cgroup memory limit leaves (limit - usage); None without a limit."""
    for limit_file, usage_file in _CGROUP_FILES:
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 1 << 60:
            return max(0, limit - usage)
    return None


def _windows_available() -> int | None:
    class _Status(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = _Status()
    status.dwLength = ctypes.sizeof(_Status)
    ok = ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))  # type: ignore[attr-defined]
    return int(status.ullAvailPhys) if ok else None


def _sysconf_available() -> int | None:
    """POSIX ``sysconf``: the available pages, else (macOS counts none) the physical memory, a ceiling
    the callers' budgets leave room under."""
    sysconf = getattr(os, "sysconf", None)
    if sysconf is None:
        return None
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            count, size = sysconf(pages), sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            continue
        if count > 0 and size > 0:
            return int(count) * int(size)
    return None


def available_memory_bytes() -> int | None:
    """RAM available to this process now (see the module doc for the sources, in order)."""
    try:
        import psutil  # noqa: PLC0415 - optional: the most portable answer

        found: int | None = int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - not installed, or unsupported here
        found = None
    if found is None and sys.platform.startswith("linux"):
        found = _proc_meminfo()
    if found is None and sys.platform == "win32":
        try:
            found = _windows_available()
        except (AttributeError, OSError):
            found = None
    if found is None:
        found = _sysconf_available()
    room = _cgroup_room() if sys.platform.startswith("linux") else None
    if room is not None:
        found = room if found is None else min(found, room)
    return found


class HighWater:
    """This process's peak resident memory, resettable (Linux: ``/proc/self/clear_refs``, ``VmHWM``).

    ``available`` is False where the peak cannot be reset and read; callers then skip what needs it.
    """

    def __init__(self) -> None:
        self.available = self.reset()

    @staticmethod
    def reset() -> bool:
        """Set the peak to the current resident size; False where that is not possible."""
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _status(key: str) -> int:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
        raise OSError(f"{key} not in /proc/self/status")

    def peak(self) -> int:
        return self._status("VmHWM:")

    def current(self) -> int:
        return self._status("VmRSS:")


def release_freed_memory() -> None:
    """Hand memory freed by Python/PyTorch back to the system (glibc ``malloc_trim``; no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


__all__ = ["HighWater", "available_memory_bytes", "release_freed_memory"]
