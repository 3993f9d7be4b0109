"""``seqtk doctor``: the machine report, as a table and as JSON."""

from __future__ import annotations

import json

from seqtk.cli.main import main


def test_json_report_has_every_section(capsys):
    assert main(["doctor", "--json", "--gemm-seconds", "0.05"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"python", "platform", "packages", "cpu", "cuda", "data", "plugins"} <= set(report)
    assert report["packages"]["torch"] and report["packages"]["seqtk"]
    cpu = report["cpu"]
    assert cpu["logical_cores"] >= 1 and cpu["gemm_gflops"]["one_thread"] > 0 and cpu["torch_capability"]
    assert isinstance(report["cuda"]["devices"], list) and "textgen" in report["plugins"]["tasks"]


def test_table_names_the_cpu_and_the_data_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQTK_DATA_DIR", str(tmp_path / "nothing-yet"))
    monkeypatch.setenv("COLUMNS", "300")  # the path on one line
    assert main(["doctor", "--gemm-seconds", "0"]) == 0
    out = capsys.readouterr().out
    assert "cpu kernels" in out and "nothing-yet" in out and "not created yet" in out and "fp32 GEMM" not in out


def test_a_negative_measuring_time_is_a_usage_error(capsys):
    assert main(["doctor", "--gemm-seconds", "-1"]) == 2


def test_a_bad_plugin_folder_or_data_path_is_reported_not_fatal(capsys, tmp_path, monkeypatch):
    data = tmp_path / "a-file"
    data.write_text("x")
    monkeypatch.setenv("SEQTK_DATA_DIR", str(data))
    monkeypatch.setenv("SEQTK_PLUGIN_DIR", str(tmp_path / "no-such-folder"))
    from seqtk.tasks import registry

    registry.reset()
    try:
        assert main(["doctor", "--json", "--gemm-seconds", "0"]) == 0
    finally:
        registry.reset()
    report = json.loads(capsys.readouterr().out)
    assert report["data"]["problem"] == "a file, not a folder"
    assert "no-such-folder" in report["plugins"]["failures"][0] and report["plugins"]["tasks"] == {}


def test_the_data_walk_stops_at_its_file_limit(tmp_path, monkeypatch):
    from seqtk.cli.doctor import data_report

    for i in range(5):
        (tmp_path / f"f{i}").write_bytes(b"x" * 1000)
    monkeypatch.setenv("SEQTK_DATA_DIR", str(tmp_path))
    assert data_report(max_files=3)["complete"] is False
    assert data_report()["complete"] is True and data_report()["size_mb"] == 0.0  # 5 kB rounds to 0.0 MB
