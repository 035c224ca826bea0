"""Benchmark measurement functions: MAC counts vs the spec's table and a hand count, timing, memory,
the exponent fit, the unfused switch, and a tiny end-to-end run on CPU."""

from __future__ import annotations

import math
import types

import pytest
import torch

from vmambair_core.bench import measure as bench
from vmambair_core.bench import (
    BenchResult,
    count_macs,
    fit_exponent,
    peak_memory_mib,
    run_bench,
    scan_cost,
    time_runs,
    unfused_planar_scan,
)
from tests.fake_cuda import fake_cuda
from vmambair_core.errors import BackendUnavailableError, ConfigError
from vmambair_core.models import build_model, oss, tiny_config
from vmambair_core.scan import cross_scan, resolve_backend

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _one_thread():
    """Toy networks: thread hand-offs cost more than the convs (20 ms per conv on a busy 2-core box)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def hand_planar_cost(cfg_blocks: tuple[int, int, int, int], refine: int, side: int, dim: int = 48, n: int = 16) -> int:
    """Sum of 9*B*L*D*N + B*D*L over every OSS block, D = 4 directions x the level width."""
    n1, n2, n3, n4 = cfg_blocks
    levels = [  # (blocks, channels, side of the map)
        (n1, dim, side), (n2, 2 * dim, side // 2), (n3, 4 * dim, side // 4), (n4, 8 * dim, side // 8),  # encoder
        (n3, 4 * dim, side // 4), (n2, 2 * dim, side // 2), (n1, 2 * dim, side), (refine, 2 * dim, side),  # decoder
    ]
    return sum(blocks * (9 * (s * s) * (4 * c) * n + (4 * c) * (s * s)) for blocks, c, s in levels)


def test_scan_cost_formula() -> None:
    assert scan_cost(2, 384, 4096, 16) == 9 * 2 * 4096 * 384 * 16 + 2 * 384 * 4096


@pytest.mark.parametrize(
    ("preset", "side", "conv_g", "planar_g", "calls", "channel_g", "total_g"),
    [  # docs/architecture.md §6, measured on the authors' networks
        ("realsr", 64, 15.665, 3.777, 27, 0.0009, 19.44),
        ("sisr", 64, 25.578, 8.738, 50, 0.0053, 34.32),
        ("derain", 256, 121.179, 41.280, 41, 0.0090, 162.47),
    ],
)
def test_macs_match_the_spec_table(preset, side, conv_g, planar_g, calls, channel_g, total_g) -> None:
    m = count_macs(preset, side, side)
    assert m.conv_linear_einsum / 1e9 == pytest.approx(conv_g, abs=6e-4)
    assert m.planar_scans / 1e9 == pytest.approx(planar_g, abs=6e-4)
    assert m.planar_calls == calls and m.channel_calls == calls
    assert m.channel_scans / 1e9 == pytest.approx(channel_g, abs=6e-5)
    assert m.total / 1e9 == pytest.approx(total_g, abs=6e-3)


def test_planar_scan_cost_equals_a_hand_count() -> None:
    m = count_macs("realsr", 64, 64)
    assert m.planar_scans == hand_planar_cost((6, 2, 2, 1), 6, 64)
    m2 = count_macs("realsr", 128, 128, batch=2)  # linear in pixels and batch (channel scan: per image)
    assert m2.planar_scans == 8 * m.planar_scans
    assert m2.conv_linear_einsum == pytest.approx(8 * m.conv_linear_einsum, rel=1e-3)


def test_counting_restores_the_scan_call_sites() -> None:
    before = (cross_scan.selective_scan, oss.selective_scan, oss.planar_scan)
    count_macs(tiny_config("sisr"), 16, 16)
    assert (cross_scan.selective_scan, oss.selective_scan, oss.planar_scan) == before


def test_unfused_switch_routes_the_network_through_the_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    net = build_model(tiny_config("realsr")).eval()
    calls: list[str] = []
    real = cross_scan.planar_scan_unfused
    monkeypatch.setattr(oss, "planar_scan", lambda *a, **k: calls.append("fused") or real(*a, **k))
    monkeypatch.setattr(oss, "planar_scan_unfused", lambda *a, **k: calls.append("unfused") or real(*a, **k))
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        net(x)
        assert set(calls) == {"fused"}
        calls.clear()
        with unfused_planar_scan(net):
            net(x)
        assert set(calls) == {"unfused"}
        calls.clear()
        net(x)
    assert set(calls) == {"fused"}


def test_fit_exponent_recovers_known_powers() -> None:
    px = [64**2, 128**2, 256**2, 512**2]
    assert fit_exponent(px, [3e-6 * p**1.0 for p in px]) == pytest.approx(1.0)
    assert fit_exponent(px, [5.0 * p**0.3 for p in px]) == pytest.approx(0.3)
    with pytest.raises(ConfigError):
        fit_exponent([100], [1.0])
    with pytest.raises(ConfigError):
        fit_exponent([100, 100], [1.0, 2.0])


def test_time_runs_measures_wall_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake clock that each call advances by 20 ms: the result cannot depend on the machine's speed."""
    now = [100.0]
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    calls = []

    def step() -> None:
        calls.append(1)
        now[0] += 0.020

    times = time_runs(step, CPU, repeats=3, warmup=2)
    assert len(calls) == 5
    assert times == pytest.approx([20.0] * 3)
    with pytest.raises(ConfigError):
        time_runs(lambda: None, CPU, repeats=0, warmup=0)


def test_cuda_timing_records_on_the_benchmarked_gpus_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events recorded without a stream land on the *current* device's stream: --device cuda:1 timed GPU 0."""
    fake_cuda(monkeypatch, 2)  # GPU 0 current
    recorded: list[torch.device | None] = []

    class Event:
        def __init__(self, enable_timing: bool = False) -> None:
            assert enable_timing

        def record(self, stream=None) -> None:
            recorded.append(None if stream is None else stream.device)

        def elapsed_time(self, other: "Event") -> float:
            return 2.5

    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: types.SimpleNamespace(device=device))
    assert time_runs(lambda: None, torch.device("cuda", 1), repeats=2, warmup=0) == [2.5, 2.5]
    assert recorded == [torch.device("cuda", 1)] * 4


def test_run_bench_makes_its_device_current_first(monkeypatch: pytest.MonkeyPatch) -> None:
    made_current: list[torch.device] = []

    class Stop(Exception):
        pass

    def record(device: torch.device) -> None:
        made_current.append(device)
        raise Stop

    monkeypatch.setattr(bench, "set_current_device", record)
    with pytest.raises(Stop):
        run_bench([tiny_config("realsr", dim=8)], [8], device="cpu", repeats=1, warmup=0)
    assert made_current == [torch.device("cpu")]


def test_cpu_peak_memory_sees_a_64_mib_allocation() -> None:
    def alloc() -> float:
        return float(torch.ones(64 * 2**20 // 4).sum())

    mib = peak_memory_mib(alloc, CPU)
    if mib is None:
        pytest.skip("this OS exposes no resettable RSS high-water mark")
    assert mib >= 56  # the 64 MiB were written, so resident; no upper bound: other RSS growth is the machine's


def test_run_bench_tiny_network_every_field() -> None:
    report = run_bench([tiny_config("realsr", dim=8)], [8, 16], ["auto", "reference"], ["fp32"],
                       device="cpu", repeats=1, warmup=0)
    assert len(report.results) == 4
    fields = set(BenchResult.__dataclass_fields__)
    for r in report.results:
        assert r.resolved_backend == resolve_backend(r.backend, "cpu") and r.mode == "forward"
        assert r.latency_ms > 0 and r.unfused_latency_ms > 0
        assert r.fused_gain == pytest.approx(r.unfused_latency_ms / r.latency_ms)
        assert r.output_mpix_per_s == pytest.approx((4 * r.size) ** 2 / 1e6 / (r.latency_ms / 1e3))
        assert r.gmacs_total == pytest.approx(r.gmacs_conv_linear_einsum + r.gmacs_scans)
        assert r.parameters > 0 and r.scan_calls == 2 * 8  # 8 OSS blocks: planar + channel scan each
        assert all(getattr(r, f) is not None for f in fields if "memory" not in f)
    assert {(f.backend, f.sizes) for f in report.scaling} == {("auto", (8, 16)), ("reference", (8, 16))}
    assert all(math.isfinite(f.exponent) for f in report.scaling)
    assert report.notes  # reference has no fused kernel: the report says so


def test_run_bench_train_step_bf16_batch2() -> None:
    report = run_bench([tiny_config("sisr", dim=8)], [8], precisions=["bf16"], device="cpu", repeats=1, warmup=0,
                       train=True, batch=2)
    (r,) = report.results
    assert r.mode == "train" and r.precision == "bf16" and r.batch == 2
    assert r.latency_ms > 0 and report.scaling == ()


def test_run_bench_against_peers_times_them_on_the_same_input() -> None:
    """Each result carries the peer's median latency and VmambaIR's time as a ratio to it; a peer is
    timed once per (size, precision), whatever the number of backends."""
    report = run_bench([tiny_config("realsr", dim=8)], [8], ["reference", "sequential"], device="cpu", repeats=1,
                       warmup=0, against=["compact"])
    assert len(report.results) == 2
    (first,), (second,) = (r.peers for r in report.results)
    assert first.peer == "compact" and first.latency_ms > 0
    assert first.latency_ms == second.latency_ms  # timed once, reused
    for r in report.results:
        assert r.peers[0].ratio == pytest.approx(r.latency_ms / r.peers[0].latency_ms)
    assert run_bench([tiny_config("realsr", dim=8)], [8], device="cpu", repeats=1, warmup=0).results[0].peers == ()


def test_requests_are_validated_before_any_timing() -> None:
    with pytest.raises(ConfigError, match="multiples of 8"):
        run_bench(["realsr"], [12], device="cpu")
    with pytest.raises(ConfigError, match="precision"):
        run_bench(["realsr"], [16], precisions=["fp16"], device="cpu")
    with pytest.raises(ConfigError, match="preset"):
        run_bench(["nope"], [16], device="cpu")
    with pytest.raises(BackendUnavailableError, match="triton"):
        run_bench(["realsr"], [16], backends=["triton"], device="cpu")
    with pytest.raises(ConfigError, match="unknown peer network 'esrgan'"):
        run_bench(["realsr"], [16], device="cpu", against=["esrgan"])
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="CUDA"):
            run_bench(["realsr"], [16], device="cuda")


@pytest.mark.slow
@pytest.mark.triton
def test_gpu_check_script_cpu_smoke_run(tmp_path) -> None:
    """benchmarks/gpu_check.sh --cpu-smoke: every step of the GPU run at toy sizes (Triton interpreter),
    all JSON files written, the float64 checks pass, and the markdown summary has every section."""
    import json  # noqa: PLC0415
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    pytest.importorskip("triton", reason="triton is not installed (pip install 'vmambair[triton]')")
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(repo / "benchmarks" / "gpu_check.sh"), "--cpu-smoke"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = (tmp_path / "log.txt").read_text()
    block = log.split("== steps ==\n")[-1].split("== end steps ==")[0]
    steps = dict(line.split()[:2] for line in block.splitlines())
    assert steps == {"preflight": "0", "triton_check": "0", "cuda_paths": "0", "omni_bench": "0",
                     "bench_presets.json": "0", "bench_scaling.json": "0", "bench_train.json": "0", "realsr_train": "0",
                     "restore_bf16": "0", "resume_train": "0", "resume_fewer_gpus": "0"}, log[-3000:]
    assert json.loads((tmp_path / "triton_check.json").read_text())["all_pass"] is True
    paths = json.loads((tmp_path / "cuda_paths.json").read_text())
    assert paths["all_pass"] is True and {v["kind"] for v in paths["variants"]} == {"scan", "omni"}
    assert len(list(tmp_path.iterdir())) <= 8  # what the device tool brings back
    omni = json.loads((tmp_path / "omni_bench.json").read_text())
    assert omni["best_tiles"] and omni["layers"] and omni["scan_alone"]
    assert {"block_d", "block_l", "num_warps"} <= set(omni["best_tiles"])
    assert json.loads((tmp_path / "bench_train.json").read_text())["results"][0]["mode"] == "train"
    summary = (tmp_path / "summary.md").read_text()
    for heading in ("## Targets", "## Correctness vs float64 (all pass)", "## CUDA paths (all pass)", "## Tile sweep",
                    "## Omni layer", "## Selective scan alone", "## Presets", "## realsr scaling", "## Training step"):
        assert heading in summary, heading
    assert "no result" not in summary
