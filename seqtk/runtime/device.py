"""Devices, mixed precision and the torch runtime switches of a run.

:func:`select_device` turns the ``train.device`` / ``--device`` string into a
``torch.device`` and explains what to do when the device is not there.
:func:`autocast` and :func:`make_scaler` apply ``train.precision``: fp32 runs
as is, bf16 and fp16 autocast, and fp16 on CUDA adds a gradient scaler (bf16
has fp32's exponent range and needs none). :func:`seed_everything` and
:func:`runtime_settings` set the seeds, thread count and determinism;
:func:`rng_state` / :func:`set_rng_state` capture and restore the RNG streams a
checkpoint carries, and :func:`eval_mode` runs a block with dropout off.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
from collections.abc import Iterator
from typing import Any

import torch
import torch.utils.deterministic

from seqtk.errors import SeqtkError, suggest

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_NAMES = ("auto", "cpu", "cuda", "cuda:N", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(name: str | torch.device | None) -> torch.device:
    """Resolve a device name: auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.

    >>> select_device("cpu")
    device(type='cpu')
    """
    if isinstance(name, torch.device):
        name = str(name)
    text = check_device_name(name)
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps_available():
            raise SeqtkError(
                "the MPS device was requested but torch.backends.mps.is_available() is False",
                fix="run on Apple silicon with a torch build that has MPS, or use --device cpu",
            )
        return torch.device("mps")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    assert match is not None  # check_device_name let only these names through
    return _cuda_device(text, match.group(1))


def check_device_name(name: str | None) -> str:
    """The normalised device name, or :class:`SeqtkError` if it names no device seqtk knows.

    Only the spelling is checked (``seqtk recipes validate`` runs this on a
    machine that may lack the device); :func:`select_device` checks the rest.

    >>> check_device_name(" CUDA:1 ")
    'cuda:1'
    """
    text = (name or "auto").strip().lower()
    if text in ("auto", "cpu", "mps") or re.fullmatch(r"cuda(?::\d+)?", text):
        return text
    hint = suggest(text, ("auto", "cpu", "cuda", "mps")).strip()
    raise SeqtkError(
        f"unknown device '{name}'",
        fix=f"use one of {', '.join(_NAMES)} in train.device or --device" + (f" ({hint})" if hint else ""),
    )


def _cuda_device(text: str, index: str | None) -> torch.device:
    if not torch.cuda.is_available():
        raise SeqtkError(
            "CUDA was requested but torch.cuda.is_available() is False",
            fix="install a CUDA build of torch or use --device cpu",
        )
    count = torch.cuda.device_count()
    if index is not None and int(index) >= count:
        raise SeqtkError(
            f"the device '{text}' does not exist: this machine has {count} CUDA device(s), "
            f"numbered 0 to {count - 1}",
            fix=f"use cuda:0 to cuda:{count - 1}, or cuda for the current device",
        )
    return torch.device(text)


def check_precision(device: torch.device, precision: str) -> None:
    """Raise :class:`SeqtkError` when ``device`` cannot run ``precision``."""
    if precision not in PRECISIONS:
        raise SeqtkError(f"unknown precision '{precision}'", fix="set train.precision to fp32, bf16 or fp16")
    if precision == "fp16" and device.type == "cpu":
        raise SeqtkError(
            "fp16 training is not supported on the CPU",
            fix="use train.precision=bf16 (autocast to bfloat16 works on this CPU) or fp32" if cpu_supports_bf16()
            else "use train.precision=fp32 (this CPU has no bf16 kernels either, so bf16 is refused too)",
        )
    if precision == "bf16" and device.type == "cpu" and not cpu_supports_bf16():
        raise SeqtkError(
            "train.precision = 'bf16' needs a CPU with bf16 kernels (AVX-512 or AMX), and this one has none: "
            "oneDNN's LSTM fails under bf16 autocast here, and other layers run emulated, about 8x slower than "
            "fp32 (a GRU, measured on an AVX2 EPYC)",
            fix="use train.precision=fp32 on this machine; bf16 pays on GPUs and on CPUs with AVX-512 BF16 or AMX",
        )
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise SeqtkError(
            f"the GPU {torch.cuda.get_device_name(device)} does not support bf16",
            fix="use train.precision=fp16 (with its gradient scaler) or fp32",
        )


def cpu_supports_bf16() -> bool:
    """Does this CPU have the bf16 kernels that oneDNN (and so CPU autocast's LSTM) needs?

    torch asks oneDNN, which wants AVX-512 (BF16 or emulated) or AMX; on AVX2-only
    CPUs it is False. Older torch builds without the probe are assumed capable.
    """
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else True
    except RuntimeError:  # the op is missing from this build
        return True


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """Run the block in ``precision``: fp32 changes nothing; bf16/fp16 autocast."""
    check_precision(device, precision)
    if precision == "fp32":
        yield
        return
    with torch.autocast(device.type, dtype=_DTYPES[precision]):
        yield


def make_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A GradScaler, enabled only for fp16 on CUDA (elsewhere it passes values through)."""
    check_precision(device, precision)
    enabled = precision == "fp16" and device.type == "cuda"
    # The device string must name a backend GradScaler knows even when disabled.
    return torch.amp.GradScaler("cuda" if device.type == "cuda" else device.type, enabled=enabled)


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Run the block with dropout off, then put ``model`` back in the mode it was in.

    >>> net = torch.nn.Dropout(0.5)
    >>> with eval_mode(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def rng_state(device: torch.device) -> dict[str, Any]:
    """The RNG states of torch (CPU, and CUDA when training there) and ``random``."""
    version, state, gauss = random.getstate()
    cuda = torch.cuda.get_rng_state_all() if device.type == "cuda" else []
    return {"torch": torch.get_rng_state(), "cuda": cuda, "python": [version, list(state), gauss]}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`'s output (CUDA states only where CUDA is present)."""
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        for index, value in enumerate(cuda[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(value.cpu(), index)
    version, values, gauss = state["python"]
    random.setstate((version, tuple(values), gauss))


@contextlib.contextmanager
def rng_preserved(device: torch.device) -> Iterator[None]:
    """Leave the RNG streams as found (evaluation must not change the training run)."""
    state = rng_state(device)
    try:
        yield
    finally:
        set_rng_state(state)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and every CUDA device) and ``random``."""
    torch.manual_seed(seed)
    random.seed(seed)


@contextlib.contextmanager
def runtime_settings(
    num_threads: int, deterministic: bool, device: torch.device, flush_denormal: bool = True
) -> Iterator[None]:
    """Thread count (0: keep), deterministic algorithms and flushing subnormal floats for a run.

    These switches are process-wide, so they are put back afterwards: a run
    started from a notebook or a test leaves torch as it found it. Subnormal
    floats (below ~1.2e-38 in float32) take a slow path in x86 arithmetic;
    back-propagation through 256 GRU steps made enough of them that a training
    step of the lectures' sentiment model took 300 ms instead of 43 ms
    (``bench/vs_keras.py``, AVX-512 Xeon). TensorFlow's CPU kernels flush them
    to zero; with ``flush_denormal`` seqtk does too, on a CPU. The switch is a
    per-thread CPU flag: it reaches torch's worker threads when they start
    inside the run, as in a fresh ``seqtk run`` process; in a notebook whose
    threads already exist, part of the work may keep subnormals, and workers
    started inside the run keep flushing after it.
    """
    threads = torch.get_num_threads()
    flushing = False
    det, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    benchmark = torch.backends.cudnn.benchmark
    fill = torch.utils.deterministic.fill_uninitialized_memory
    try:
        if num_threads > 0:
            torch.set_num_threads(num_threads)
        flushing = flush_denormal and device.type == "cpu" and torch.set_flush_denormal(True)
        if deterministic:
            if device.type == "cuda":  # cuBLAS is reproducible only with a fixed workspace
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            # Deterministic mode also fills every torch.empty with NaN, which
            # cost 9-25% per step of char-LSTM training here; our code never
            # reads uninitialised memory, so results stay bit-identical without it.
            torch.utils.deterministic.fill_uninitialized_memory = False
            torch.backends.cudnn.benchmark = False
        yield
    finally:
        if flushing:  # torch has no getter; subnormals are kept by default
            torch.set_flush_denormal(False)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.utils.deterministic.fill_uninitialized_memory = fill
        torch.backends.cudnn.benchmark = benchmark


def tune_allocator() -> bool:
    """Keep freed activation buffers in the heap instead of returning them to the OS.

    glibc serves blocks above 128 KiB with mmap and unmaps them on free, so each
    training step page-faults its activations in again: 176 M minor faults and a
    quarter of the CPU time in system calls in the Shakespeare recipe. Raising
    the mmap and trim thresholds made its steps about 20% faster. Only glibc
    has ``mallopt``; elsewhere this does nothing and returns False.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        limit = 1 << 30  # 1 GiB: larger blocks still go straight to mmap
        return bool(libc.mallopt(m_mmap_threshold, limit)) and bool(libc.mallopt(m_trim_threshold, limit))
    except (OSError, AttributeError):
        return False
