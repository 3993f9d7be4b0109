"""Device selection and precision."""

from __future__ import annotations

import random

import pytest
import torch

from seqtk.runtime import device as dev
from seqtk.runtime.device import (
    autocast, check_precision, make_scaler, rng_preserved, rng_state, runtime_settings, select_device, set_rng_state,
)
from seqtk.errors import SeqtkError

CPU = torch.device("cpu")


@pytest.fixture
def no_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)


def test_cpu_and_auto_without_accelerators(no_accelerators):
    assert select_device("cpu") == CPU
    assert select_device("auto") == CPU
    assert select_device(None) == CPU
    assert select_device(" CPU ") == CPU
    assert select_device(torch.device("cpu")) == CPU


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert select_device("auto").type == "mps"


def test_cuda_unavailable(no_accelerators):
    for name in ("cuda", "cuda:0"):
        with pytest.raises(SeqtkError) as info:
            select_device(name)
        text = str(info.value)
        assert "torch.cuda.is_available() is False" in text
        assert "install a CUDA build of torch or use --device cpu" in text


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert select_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(SeqtkError, match="has 2 CUDA device.*cuda:0 to cuda:1"):
        select_device("cuda:2")


def test_mps_unavailable_and_unknown_names(no_accelerators):
    with pytest.raises(SeqtkError, match="MPS.*--device cpu"):
        select_device("mps")
    with pytest.raises(SeqtkError, match=r"unknown device 'gpu'.*auto, cpu, cuda, cuda:N, mps.*Did you mean .cpu."):
        select_device("gpu")
    with pytest.raises(SeqtkError, match="unknown device 'cuda:x'"):
        select_device("cuda:x")


def test_autocast_precisions(monkeypatch):
    monkeypatch.setattr(dev, "cpu_supports_bf16", lambda: True)
    a = torch.ones(4, 4)
    with autocast(CPU, "fp32"):
        assert (a @ a).dtype == torch.float32
    with autocast(CPU, "bf16"):
        assert (a @ a).dtype == torch.bfloat16
    assert (a @ a).dtype == torch.float32


def test_fp16_on_cpu_suggests_bf16():
    for call in (lambda: autocast(CPU, "fp16").__enter__(), lambda: make_scaler(CPU, "fp16")):
        with pytest.raises(SeqtkError, match="fp16.*CPU.*bf16"):
            call()
    with pytest.raises(SeqtkError, match="unknown precision 'fp8'"):
        check_precision(CPU, "fp8")


def test_bf16_is_refused_on_a_cpu_without_bf16_kernels(monkeypatch):
    # on such a CPU (AVX2 only) oneDNN's LSTM fails under bf16 autocast and GRUs ran 8x slower
    monkeypatch.setattr(dev, "cpu_supports_bf16", lambda: False)
    with pytest.raises(SeqtkError, match="bf16.*needs a CPU with bf16 kernels.*Fix: use train.precision=fp32"):
        check_precision(CPU, "bf16")
    with pytest.raises(SeqtkError, match="fp16 training is not supported on the CPU.*bf16 is refused too"):
        check_precision(CPU, "fp16")
    check_precision(torch.device("cuda"), "fp32")  # GPUs are judged by their own check


def test_scaler_disabled_off_cuda(monkeypatch):
    monkeypatch.setattr(dev, "cpu_supports_bf16", lambda: True)
    for precision in ("fp32", "bf16"):
        scaler = make_scaler(CPU, precision)
        assert not scaler.is_enabled() and scaler.state_dict() == {}


def test_runtime_settings_restore_global_switches():
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with runtime_settings(1, True, CPU):
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == det


def test_a_cpu_run_flushes_subnormal_floats_and_puts_them_back():
    tiny = torch.tensor([1e-39])  # subnormal in float32
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormals (no SSE3)")
    assert float(tiny * 1.0) > 0
    with runtime_settings(0, False, CPU):
        assert float(tiny * 1.0) == 0.0  # arithmetic now reads it as zero
    assert float(tiny * 1.0) > 0
    with runtime_settings(0, False, CPU, flush_denormal=False):
        assert float(tiny * 1.0) > 0


@pytest.mark.gpu
def test_fp16_scaler_enabled_on_cuda():
    cuda = select_device("cuda")
    assert make_scaler(cuda, "fp16").is_enabled()
    assert not make_scaler(cuda, "bf16").is_enabled()


def test_rng_state_round_trip_and_preservation():
    state = rng_state(torch.device("cpu"))
    a, b = torch.rand(3), random.random()
    set_rng_state(state)
    assert torch.equal(torch.rand(3), a) and random.random() == b
    before = rng_state(torch.device("cpu"))
    expected = (torch.rand(3), random.random())
    set_rng_state(before)
    with rng_preserved(torch.device("cpu")):
        torch.rand(5), random.random()
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]
