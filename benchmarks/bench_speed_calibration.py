"""Speed-check calibration: how much slower than the course's naive layers student code runs.

    python benchmarks/bench_speed_calibration.py [--rounds 9] [--cases speed] [--no-busy]

Times the naive conv and max-pool forward and backward, on the assignment's speed cases
([cases.conv.speed], [cases.max_pool.speed] of grader/assignments/convnets.toml), of:
  * course: the course's naive layers (reference/layers.py), today's baseline;
  * textbook: every output index looped, numpy on one window (submissions/textbook_loops), and
    textbook_b / textbook_c, the same loops as two other demo submissions write them;
  * pathological versions written here: the whole input re-padded (conv) or copied (pool)
    for every output index, the input re-padded for every (image, filter) pair, and Python
    loops over every kernel or window element too.
Each runs in one child process with one BLAS thread, all of them interleaved round by round
(the order rotating), measuring wall clock (perf_counter) and CPU time (thread_time, and
process_time for the whole child). A ratio is the median of the per-round ratios. The whole
measurement runs twice: on the machine as it is, then with two `yes > /dev/null` busy loops
that this script starts and kills. The load average is printed with each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "reference" / "layers.py"
# Textbook loops (the baseline proposed) and two more students' styles of the same loops.
TEXTBOOK = {
    "textbook": ROOT / "submissions" / "textbook_loops" / "ie590" / "layers.py",
    "textbook_b": ROOT / "submissions" / "textbook_naive_sandwich" / "ie590" / "layers.py",
    "textbook_c": ROOT / "submissions" / "cs231n_style" / "cs231n" / "layers.py",
}
FAMILIES = {
    "conv": ("conv_forward_naive", "conv_backward_naive"),
    "max_pool": ("max_pool_forward_naive", "max_pool_backward_naive"),
}
CLOCKS = ("wall", "thread", "process")
SINGLE_THREAD = {k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


# ------------------------------------------------------------ pathological student code
def conv_forward_repad_per_output(x, w, b, conv_param):
    """Textbook loops, but np.pad of the whole input at every output index."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, pad = conv_param["stride"], conv_param["pad"]
    H_out, W_out = 1 + (H + 2 * pad - HH) // s, 1 + (W + 2 * pad - WW) // s
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
                    out[n, f, i, j] = (
                        np.sum(x_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] * w[f]) + b[f]
                    )
    return out, (x, w, b, conv_param)


def conv_backward_repad_per_output(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, pad = conv_param["stride"], conv_param["pad"]
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    dw, db = np.zeros(w.shape), np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
                    db[f] += dout[n, f, i, j]
                    dw[f] += x_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] * dout[n, f, i, j]
                    dx_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] += w[f] * dout[n, f, i, j]
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, db


def conv_forward_repad_per_filter(x, w, b, conv_param):
    """Textbook loops, but the whole input padded again for every (image, filter) pair."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, pad = conv_param["stride"], conv_param["pad"]
    H_out, W_out = 1 + (H + 2 * pad - HH) // s, 1 + (W + 2 * pad - WW) // s
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
            for i in range(H_out):
                for j in range(W_out):
                    out[n, f, i, j] = (
                        np.sum(x_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] * w[f]) + b[f]
                    )
    return out, (x, w, b, conv_param)


def conv_backward_repad_per_filter(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, pad = conv_param["stride"], conv_param["pad"]
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    dw, db = np.zeros(w.shape), np.zeros(F)
    for n in range(N):
        for f in range(F):
            x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    db[f] += dout[n, f, i, j]
                    dw[f] += x_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] * dout[n, f, i, j]
                    dx_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] += w[f] * dout[n, f, i, j]
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, db


def conv_forward_kernel_loops(x, w, b, conv_param):
    """Python loops over every kernel element as well: seven nested loops of scalars."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, pad = conv_param["stride"], conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = 1 + (H + 2 * pad - HH) // s, 1 + (W + 2 * pad - WW) // s
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    total = b[f]
                    for c in range(C):
                        for p in range(HH):
                            for q in range(WW):
                                total += x_pad[n, c, i * s + p, j * s + q] * w[f, c, p, q]
                    out[n, f, i, j] = total
    return out, (x, w, b, conv_param)


def conv_backward_kernel_loops(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, pad = conv_param["stride"], conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw, db = np.zeros(x_pad.shape), np.zeros(w.shape), np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    g = dout[n, f, i, j]
                    db[f] += g
                    for c in range(C):
                        for p in range(HH):
                            for q in range(WW):
                                dw[f, c, p, q] += x_pad[n, c, i * s + p, j * s + q] * g
                                dx_pad[n, c, i * s + p, j * s + q] += w[f, c, p, q] * g
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, db


def max_pool_forward_copy_per_output(x, pool_param):
    """Textbook loops, but a copy of the whole input at every output index."""
    N, C, H, W = x.shape
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    for n in range(N):
        for c in range(C):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    x_copy = x.copy()
                    out[n, c, i, j] = np.max(x_copy[n, c, i * s : i * s + ph, j * s : j * s + pw])
    return out, (x, pool_param)


def max_pool_backward_copy_per_output(dout, cache):
    """A whole-input temporary per output index: temp = zeros(x.shape); ...; dx += temp."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape)
    for n in range(dout.shape[0]):
        for c in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    k = np.argmax(x[n, c, i * s : i * s + ph, j * s : j * s + pw])
                    temp = np.zeros(x.shape)
                    temp[n, c, i * s + k // pw, j * s + k % pw] = dout[n, c, i, j]
                    dx += temp
    return dx


def max_pool_forward_window_loops(x, pool_param):
    """Python loops over every window element as well."""
    N, C, H, W = x.shape
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out = np.zeros((N, C, 1 + (H - ph) // s, 1 + (W - pw) // s))
    for n in range(N):
        for c in range(C):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    best = x[n, c, i * s, j * s]
                    for p in range(ph):
                        for q in range(pw):
                            best = max(best, x[n, c, i * s + p, j * s + q])
                    out[n, c, i, j] = best
    return out, (x, pool_param)


def max_pool_backward_window_loops(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape)
    for n in range(dout.shape[0]):
        for c in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    best, at = -np.inf, (0, 0)
                    for p in range(ph):
                        for q in range(pw):
                            if x[n, c, i * s + p, j * s + q] > best:
                                best, at = x[n, c, i * s + p, j * s + q], (p, q)
                    dx[n, c, i * s + at[0], j * s + at[1]] += dout[n, c, i, j]
    return dx


PATHOLOGICAL = {
    "conv": ("repad_per_output", "repad_per_filter", "kernel_loops"),
    "max_pool": ("copy_per_output", "window_loops"),
}


# ------------------------------------------------------------------------- the child
def child(spec_path: str) -> None:
    """Time every implementation on the cases in `spec_path`; print the timings as JSON."""
    import importlib.util

    spec = json.loads(Path(spec_path).read_text())
    modules = {}
    for name, path in (("course", COURSE), *TEXTBOOK.items()):
        loader = importlib.util.spec_from_file_location(f"_{name}_layers", path)
        modules[name] = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(modules[name])
    results = {}
    for key, case in spec["cases"].items():
        arrays = dict(np.load(case["arrays"], allow_pickle=False))
        forward, backward = FAMILIES[case["family"]]
        impls = {name: (getattr(m, forward), getattr(m, backward)) for name, m in modules.items()}
        for bad in PATHOLOGICAL[case["family"]]:
            stem = forward.replace("_naive", "")
            impls[bad] = (
                globals()[f"{stem}_{bad}"],
                globals()[f"{stem.replace('forward', 'backward')}_{bad}"],
            )
        args = [arrays[a] for a in case["arrays_order"]] + case["settings"]
        results[key] = time_rounds(impls, args, arrays["dout"], spec["rounds"])
    print(json.dumps(results))


def time_rounds(impls: dict, args: list, dout: np.ndarray, rounds: int) -> dict:
    """{impl: {stage: {clock: [seconds per round]}}}, the implementations interleaved."""
    names = list(impls)
    times = {n: {st: {c: [] for c in CLOCKS} for st in ("forward", "backward")} for n in names}
    for name in names:  # warm-up
        impls[name][1](dout, impls[name][0](*args)[1])
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            forward, backward = impls[name]
            cache = _timed(times[name]["forward"], forward, *args)[1]
            _timed(times[name]["backward"], backward, dout, cache)
    return times


def _timed(record: dict, fn, *args):
    clocks = (time.perf_counter, time.thread_time, time.process_time)
    start = [clock() for clock in clocks]
    result = fn(*args)
    for name, clock, began in zip(CLOCKS, clocks, start):
        record[name].append(clock() - began)
    return result


# ------------------------------------------------------------------------ the parent
def case_specs(names: list[str], folder: Path) -> dict:
    """The assignment's speed cases, built by the grader's own case book (seed 0)."""
    from grader.assignment import load_assignment
    from grader.cases import CaseBook
    from grader.oracle import answer

    book = CaseBook(load_assignment(), 0, answer)
    cases = {}
    for family in FAMILIES:
        for name in names:
            case = book.get(family, name)
            path = folder / f"{family}.{name}.npz"
            np.savez(path, dout=case.dout, **case.arrays)
            cases[f"{family}.{name}"] = {
                "family": family,
                "arrays": str(path),
                "arrays_order": list(case.family.arrays),
                "settings": [case.settings[p] for p in case.family.signature if p in case.settings],
                "describe": case.describe(),
            }
    return cases


def measure(spec_path: Path) -> dict:
    env = {**os.environ, **SINGLE_THREAD}
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(spec_path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


def busy_loops(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(count)]


def median_ratio(top: list[float], bottom: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(top, bottom))


def report(label: str, results: dict, load: tuple) -> dict:
    """Print one load condition's tables; return {case: {stage: {impl: {clock: vs_textbook}}}}."""
    print(f"\n=== {label}: load average before {load[0]}, after {load[1]}")
    summary = {}
    for key, times in results.items():
        summary[key] = {}
        for stage in ("forward", "backward"):
            print(f"\n{key} {stage}   (median of per-round ratios; course / textbook ms per call)")
            print(
                f"{'implementation':20s} {'ms wall':>8s} {'ms cpu':>8s} | "
                f"{'vs course: wall':>15s} {'cpu':>6s} | {'vs textbook: wall':>17s} {'cpu':>6s}"
            )
            summary[key][stage] = {}
            for impl, t in times.items():
                row = {
                    c: (
                        median_ratio(t[stage][c], times["course"][stage][c]),
                        median_ratio(t[stage][c], times["textbook"][stage][c]),
                    )
                    for c in CLOCKS
                }
                summary[key][stage][impl] = {c: row[c][1] for c in CLOCKS}
                summary[key][stage][impl]["vs_course"] = {c: row[c][0] for c in CLOCKS}
                wall_ms = 1e3 * statistics.median(t[stage]["wall"])
                cpu_ms = 1e3 * statistics.median(t[stage]["thread"])
                print(
                    f"{impl:20s} {wall_ms:8.2f} {cpu_ms:8.2f} | {row['wall'][0]:15.1f} "
                    f"{row['thread'][0]:6.1f} | {row['wall'][1]:17.2f} {row['thread'][1]:6.2f}"
                )
    return summary


def _max_ratios() -> list[str]:
    text = (ROOT / "grader" / "assignments" / "convnets.toml").read_text()
    checks = tomllib.loads(text)["checks"]
    return [f"{c['max_ratio']:g}" for c in checks if c["kind"] == "speed" and "max_ratio" in c]


def recommend(conditions: dict) -> None:
    """Today's ratio (textbook / course) against a textbook baseline's, and a max_ratio."""
    print("\n=== calibration: CPU-time ratios (wall clock in brackets), idle -> busy")
    styles = [i for i in TEXTBOOK if i != "textbook"]
    worst_style, slowest = 1.0, {}
    for key, stages in conditions["idle"].items():
        for stage in stages:
            seen = {label: conditions[label][key][stage] for label in conditions}
            today = " -> ".join(
                f"{v['textbook']['vs_course']['thread']:.1f}x "
                f"({v['textbook']['vs_course']['wall']:.1f}x)"
                for v in seen.values()
            )
            spread = " -> ".join(
                ", ".join(f"{v[i]['thread']:.2f}x" for i in styles) for v in seen.values()
            )
            worst_style = max(worst_style, *(v[i]["thread"] for v in seen.values() for i in styles))
            bad = [i for i in stages[stage] if i not in ("course", *TEXTBOOK)]
            for i in bad:
                slowest[f"{key} {stage} {i}"] = min(v[i]["thread"] for v in seen.values())
            print(
                f"{key} {stage}: textbook / course {today}; other textbook styles / textbook "
                f"{spread}; pathological / textbook "
                + " -> ".join(
                    ", ".join(f"{i} {v[i]['thread']:.1f}x" for i in bad) for v in seen.values()
                )
            )
    bar = int(np.ceil(3 * worst_style))
    print(
        f"\nWith textbook loops as the baseline, every textbook style measured is within "
        f"{worst_style:.2f}x of it; max_ratio = {bar} (the smallest with a 3x margin for all of "
        f"them) fails only code {bar}x slower than textbook loops. The assignment file's: "
        f"{', '.join(sorted(set(_max_ratios())))}."
    )
    caught = [k for k, v in slowest.items() if v > bar]
    print(
        f"Pathological versions above {bar}x here: {', '.join(caught) or 'none'} "
        f"(slowest: {max(slowest.values()):.1f}x)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["speed"],
        help="case names of [cases.conv.*] and [cases.max_pool.*] to time",
    )
    parser.add_argument(
        "--busy", type=int, default=2, help="busy loops for the loaded run (0: none)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.json"
        cases = case_specs(args.cases, Path(tmp))
        spec_path.write_text(json.dumps({"cases": cases, "rounds": args.rounds}))
        for key, case in cases.items():
            print(f"{key}: {case['describe']}")
        print(
            f"{args.rounds} interleaved rounds, one BLAS thread, "
            f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}, numpy {np.__version__}"
        )
        conditions = {}
        before = os.getloadavg()
        conditions["idle"] = report(
            "as the machine is", measure(spec_path), (before, os.getloadavg())
        )
        if args.busy:
            loops = busy_loops(args.busy)
            try:
                time.sleep(1.0)
                before = os.getloadavg()
                results = measure(spec_path)
                load = (before, os.getloadavg())
            finally:
                for loop in loops:
                    loop.kill()
                    loop.wait()
            conditions["busy"] = report(
                f"with {args.busy} `yes > /dev/null` busy loops", results, load
            )
        recommend(conditions)


if __name__ == "__main__":
    main()
