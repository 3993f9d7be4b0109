"""``seqtk doctor``: the machine report for bug reports and benchmark headers."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    gemm_seconds: Annotated[
        float, typer.Option("--gemm-seconds", min=0.0, max=60.0,
                            help="Seconds spent measuring the CPU's fp32 GEMM rate (0: skip).")
    ] = 1.0,
) -> None:
    """Versions, CPU (model, AVX2/AVX-512/AMX, GEMM rate), CUDA devices, the data folder and the plugins."""
    from seqtk.cli.doctor import machine_report
    from seqtk.runtime.strict_json import json_text

    report = machine_report(gemm_seconds)
    if as_json:
        print(json_text(report))
        return
    Console().print(_table(report))


def _table(report: dict[str, Any]) -> Table:
    table = Table(title="seqtk doctor", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("python", f"{report['python']} on {report['platform']}")
    table.add_row("packages", ", ".join(f"{k} {v}" for k, v in report["packages"].items() if v))
    cpu = report["cpu"]
    quota = f" (container limit {cpu['cpu_quota']} cores)" if cpu.get("cpu_quota") else ""
    table.add_row("cpu", f"{cpu['model']}; {cpu['usable_cores']} of {cpu['logical_cores']} cores usable{quota}, "
                         f"torch uses {cpu['torch_threads']} threads")
    table.add_row("cpu kernels", f"torch capability {cpu['torch_capability']}; flags {' '.join(cpu['flags']) or 'none'}")
    if cpu["gemm_gflops"]:
        rates = cpu["gemm_gflops"]
        table.add_row("fp32 GEMM", f"{rates['one_thread']:,.1f} GFLOP/s on 1 thread, "
                                   f"{rates['all_threads']:,.1f} on {cpu['torch_threads']}")
    cuda = report["cuda"]
    if not cuda["available"]:
        table.add_row("cuda", f"not available (torch built with CUDA {cuda['torch_cuda'] or 'none'})")
    else:
        table.add_row("cuda", f"CUDA {cuda['torch_cuda']}, cuDNN {cuda['cudnn']}, NCCL {cuda['nccl']}")
        for dev in cuda["devices"]:
            if "error" in dev:
                table.add_row(f"cuda:{dev['index']}", f"cannot be queried: {dev['error']}")
                continue
            table.add_row(f"cuda:{dev['index']}", f"{dev['name']} (sm {dev['capability']}, {dev['multiprocessors']} SMs), "
                                               f"{dev['memory_gib']} GiB, {dev['free_gib']} free, bf16 {dev['bf16']}")
    table.add_row("data", _data_line(report["data"]))
    plugins = report["plugins"]
    table.add_row("tasks", ", ".join(plugins["tasks"]) or "none")
    for failure in plugins["failures"]:
        table.add_row("failed plugin", failure)
    return table


def _data_line(data: dict[str, Any]) -> str:
    if "problem" in data:
        return f"{data['dir']} is {data['problem']}: set SEQTK_DATA_DIR to a folder"
    if not data["exists"]:
        return f"{data['dir']} (not created yet)"
    size = f"{data['size_mb']} MB" if data["complete"] else f"at least {data['size_mb']} MB (not all of it read)"
    return f"{data['dir']} ({size})"


def register(app: typer.Typer) -> None:
    app.command()(doctor)
