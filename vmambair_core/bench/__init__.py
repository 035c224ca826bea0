"""`vmambair bench`: what a run costs (``measure``: latency, memory, parameters, MACs, scaling) and the
peer networks timed beside VmambaIR (``peers``). The CLI renders the frozen results; nothing here prints."""

from .measure import (
    FLOP_CONVENTION,
    MODES,
    BenchReport,
    BenchResult,
    MacCount,
    ScalingFit,
    bench_case,
    bench_input,
    count_macs,
    fit_exponent,
    peak_memory_mib,
    run_bench,
    scaling_fits,
    scan_cost,
    time_runs,
    unfused_planar_scan,
    validate_request,
    weights_network,
)
from .peers import PEERS, PeerTiming, build_peer, parse_peers

__all__ = [
    "FLOP_CONVENTION", "MODES", "PEERS", "BenchReport", "BenchResult", "MacCount", "PeerTiming", "ScalingFit",
    "bench_case", "bench_input", "build_peer", "count_macs", "fit_exponent", "parse_peers", "peak_memory_mib",
    "run_bench", "scaling_fits", "scan_cost", "time_runs", "unfused_planar_scan", "validate_request",
    "weights_network",
]
