"""The machine report of ``seqtk doctor``: what a bug report or a benchmark's header needs.

Modelled on ``torch.utils.collect_env`` and ``transformers env``: versions of
Python, seqtk, torch and the libraries seqtk uses; the CPU (model, cores,
the vector extensions torch's kernels use: AVX2, AVX-512, AMX) and a short
fp32 GEMM measurement, because the same recipe runs 6-10x slower on some
2-core machines than on others; every CUDA device with its memory; the data
folder and its size; the installed task plugins.

Library versions come from the installed distributions' metadata, so
reporting them imports nothing (``datasets`` alone takes seconds).

>>> report = machine_report(gemm_seconds=0.0)
>>> sorted(report)[:4]
['cpu', 'cuda', 'data', 'packages']
>>> report["cpu"]["gemm_gflops"] is None  # no measurement when gemm_seconds is 0
True
"""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("seqtk", "torch", "tokenizers", "datasets", "typer", "rich", "tensorboard", "numpy", "music21")
_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "neon", "asimd")


def machine_report(gemm_seconds: float = 1.0) -> dict[str, Any]:
    """Everything ``seqtk doctor --json`` prints, as plain data."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "cpu": cpu_report(gemm_seconds),
        "cuda": cuda_report(),
        "data": data_report(),
        "plugins": plugin_report(),
    }


def package_versions() -> dict[str, str | None]:
    """Installed version of each package seqtk uses (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_report(gemm_seconds: float) -> dict[str, Any]:
    """CPU model, cores, torch's kernel capability and vector flags, and the measured GEMM rate."""
    import torch

    info = _cpuinfo()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cgroup_cpu_quota()
    flags = set(info.get("flags", info.get("Features", "")).split())
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: "unknown")()
    gemm = gemm_gflops(gemm_seconds) if gemm_seconds > 0 else None
    return {
        "model": info.get("model name") or platform.processor() or platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu_quota": quota,  # a container's CPU limit in cores (cgroup v2 cpu.max), None when unlimited
        "torch_threads": torch.get_num_threads(),
        "torch_capability": capability,
        "flags": [flag for flag in _FLAGS if flag in flags],
        "gemm_gflops": gemm,
    }


def _cgroup_cpu_quota() -> float | None:
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else round(int(quota) / int(period), 2)
    except (OSError, ValueError):
        return None


def _cpuinfo() -> dict[str, str]:
    """The first processor's block of /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def gemm_gflops(seconds: float, size: int = 1024) -> dict[str, float]:
    """fp32 ``torch.mm`` GFLOP/s on one thread and on torch's thread count, ``seconds`` in all.

    One thread is the figure that compares machines (the issue's 33 vs ~220
    GFLOP/s); all threads is what a run gets when nothing else is running.
    """
    import torch

    threads = torch.get_num_threads()
    a, b = torch.randn(size, size), torch.randn(size, size)
    rates = {}
    for label, count in (("one_thread", 1), ("all_threads", threads)):
        torch.set_num_threads(count)
        try:
            rates[label] = round(_mm_rate(a, b, seconds / 2), 1)
        finally:
            torch.set_num_threads(threads)
    return rates


def _mm_rate(a: Any, b: Any, seconds: float) -> float:
    a @ b  # warm up: the first call allocates and picks a kernel
    reps, start = 0, time.perf_counter()
    while True:
        a @ b
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return 2 * a.size(0) ** 3 * reps / elapsed / 1e9


def cuda_report() -> dict[str, Any]:
    """CUDA as torch sees it: versions and each device's name, capability and memory (GiB)."""
    import torch

    report: dict[str, Any] = {"available": torch.cuda.is_available(), "torch_cuda": torch.version.cuda}
    if not report["available"]:
        return report | {"devices": []}
    report["cudnn"] = torch.backends.cudnn.version()
    report["nccl"] = _nccl_version()
    report["devices"] = [_device(torch, i) for i in range(torch.cuda.device_count())]
    return report


def _device(torch: Any, index: int) -> dict[str, Any]:
    """One GPU's facts; a GPU that cannot be queried (busy in exclusive mode, broken) says why instead.

    bf16 is native from compute capability 8.0 (Ampere) on; torch's own ``is_bf16_supported`` also
    counts emulation and asks only the current device.
    """
    gib = 1024**3
    try:
        props = torch.cuda.get_device_properties(index)
        row = {"index": index, "name": props.name, "capability": f"{props.major}.{props.minor}",
               "multiprocessors": props.multi_processor_count, "memory_gib": round(props.total_memory / gib, 1),
               "bf16": props.major >= 8}
        free, _ = torch.cuda.mem_get_info(index)  # opens a CUDA context on the device
        return row | {"free_gib": round(free / gib, 1)}
    except Exception as exc:  # a report must still come out: it is what a bug report about this GPU needs
        return {"index": index, "error": f"{type(exc).__name__}: {exc}"}


def _nccl_version() -> str | None:
    try:
        import torch.cuda.nccl as nccl

        version = nccl.version()
    except Exception:  # torch without NCCL (Windows, some builds)
        return None
    return ".".join(map(str, version)) if isinstance(version, tuple) else str(version)


def data_report(max_files: int = 100_000) -> dict[str, Any]:
    """The data folder seqtk caches into, whether it is one, and its size in MB (files it could read).

    The walk stops after ``max_files`` files (``complete`` is then False), so a data folder pointed at a
    huge tree does not hang the report.
    """
    from seqtk.data.fetch import data_dir

    folder = data_dir()
    report: dict[str, Any] = {"dir": str(folder), "exists": folder.is_dir(), "size_mb": 0.0, "complete": True}
    if folder.exists() and not folder.is_dir():
        return report | {"problem": "a file, not a folder"}
    size, files, unreadable = 0, 0, []
    for root, _, names in os.walk(folder, onerror=lambda exc: unreadable.append(str(exc.filename))):
        for name in names:
            files += 1
            if files > max_files:
                return report | {"size_mb": round(size / 1e6, 1), "complete": False}
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                unreadable.append(os.path.join(root, name))
    report |= {"size_mb": round(size / 1e6, 1)}
    return report | ({"unreadable": unreadable[:10], "complete": False} if unreadable else {})


def plugin_report() -> dict[str, Any]:
    """Registered tasks with their source, and plugins that failed to load (a bad plugin folder included)."""
    from seqtk.errors import SeqtkError
    from seqtk.tasks.registry import default_registry

    try:
        reg = default_registry().load()
    except SeqtkError as exc:  # a missing --plugin-dir / SEQTK_PLUGIN_DIR, two plugins claiming one name
        return {"tasks": {}, "failures": [exc.message]}
    return {
        "tasks": {name: reg.tasks[name].source for name in sorted(reg.tasks)},
        "failures": [f"{failure.source}: {failure.message}" for failure in reg.failures],
    }
