"""Layer benchmark: ratios of the reference's fast conv/pool layers, measured in one run.

Prints, as medians of interleaved repeats (so machine load hits all contenders alike):
  * fast over naive speed-ups, forward and backward (information; the notebook
    printed 12.6x / 65x for conv and 62x / 33x for max pooling);
  * fast conv forward over its floor, the single matrix product (F, K) @ (K, N*H'*W')
    the convolution reduces to, on precomputed columns (goal <= 2x);
  * when PyTorch is importable, fast conv forward + backward over
    torch.nn.functional.conv2d + autograd in float64 at the fast layers' thread count
    (fast_layers.thread_count(): OPENBLAS_NUM_THREADS etc., else the usable cores) (goal <= 1x).

Run from the project root:  python benchmarks/bench_layers.py [--repeats 7] [--backend numpy]
OPENBLAS_* / OMP_NUM_THREADS are read as the environment sets them, never changed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable, Dict

import numpy as np

from reference import fast_layers, layers

CONV_CASES = {  # name: (x shape, w shape, conv_param)
    "notebook conv": ((100, 3, 31, 31), (25, 3, 3, 3), {"stride": 2, "pad": 1}),
    "FourLayerConvNet conv": ((100, 3, 32, 32), (32, 3, 7, 7), {"stride": 1, "pad": 3}),
}
POOL_SHAPE = (100, 3, 32, 32)
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


def medians(contenders: Dict[str, Callable[[], object]], repeats: int) -> Dict[str, float]:
    """Median wall time of each contender, timed in turn within every repeat."""
    times: Dict[str, list] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def torch_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray,
               conv_param: dict) -> Callable[[], object] | None:
    """conv2d forward + autograd backward in float64, or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(fast_layers.thread_count())
    x_t, w_t, b_t = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dout_t = torch.from_numpy(dout)

    def run() -> None:
        for leaf in (x_t, w_t, b_t):
            leaf.grad = None
        out = torch.nn.functional.conv2d(x_t, w_t, b_t, stride=conv_param["stride"],
                                         padding=conv_param["pad"])
        out.backward(dout_t)
    return run


def conv_contenders(x: np.ndarray, w: np.ndarray, b: np.ndarray,
                    conv_param: dict) -> Dict[str, Callable[[], object]]:
    out, naive_cache = layers.conv_forward_naive(x, w, b, conv_param)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    _, fast_cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    w_mat = w.reshape(w.shape[0], -1)
    # The product's operands only need the right shapes: (F, K) @ (K, N*H'*W').
    cols = np.random.default_rng(2).standard_normal((w_mat.shape[1], out[:, 0].size))
    contenders = {
        "naive fwd": lambda: layers.conv_forward_naive(x, w, b, conv_param),
        "fast fwd": lambda: fast_layers.conv_forward_fast(x, w, b, conv_param),
        "floor": lambda: w_mat @ cols,
        "naive bwd": lambda: layers.conv_backward_naive(dout, naive_cache),
        "fast bwd": lambda: fast_layers.conv_backward_fast(dout, fast_cache),
        "fast fwd+bwd": lambda: fast_layers.conv_backward_fast(
            dout, fast_layers.conv_forward_fast(x, w, b, conv_param)[1]),
    }
    torch_run = torch_conv(x, w, b, dout, conv_param)
    if torch_run is not None:
        contenders["torch fwd+bwd"] = torch_run
    return contenders


def pool_contenders() -> Dict[str, Callable[[], object]]:
    rng = np.random.default_rng(123)
    x = rng.standard_normal(POOL_SHAPE)
    contenders = {}
    for kind in ("max", "avg"):
        naive_fwd = getattr(layers, f"{kind}_pool_forward_naive")
        naive_bwd = getattr(layers, f"{kind}_pool_backward_naive")
        fast_fwd = getattr(fast_layers, f"{kind}_pool_forward_fast")
        fast_bwd = getattr(fast_layers, f"{kind}_pool_backward_fast")
        out, cache = naive_fwd(x, POOL_PARAM)
        dout = rng.standard_normal(out.shape)
        contenders.update({
            f"{kind} naive fwd": lambda f=naive_fwd: f(x, POOL_PARAM),
            f"{kind} fast fwd": lambda f=fast_fwd: f(x, POOL_PARAM),
            f"{kind} naive bwd": lambda f=naive_bwd, c=cache, d=dout: f(d, c),
            f"{kind} fast bwd": lambda f=fast_bwd, c=cache, d=dout: f(d, c),
        })
    return contenders


def report_conv(name: str, t: Dict[str, float]) -> None:
    print(f"{name}: fast {t['fast fwd'] * 1e3:.2f} ms fwd, {t['fast bwd'] * 1e3:.2f} ms bwd")
    print(f"  speed-up over naive: fwd {t['naive fwd'] / t['fast fwd']:.1f}x, "
          f"bwd {t['naive bwd'] / t['fast bwd']:.1f}x")
    print(f"  fast fwd / single-matmul floor: {t['fast fwd'] / t['floor']:.2f}x (goal <= 2x)")
    if "torch fwd+bwd" in t:
        print(f"  fast fwd+bwd / torch conv2d+autograd float64: "
              f"{t['fast fwd+bwd'] / t['torch fwd+bwd']:.2f}x (goal <= 1.0x)")
    else:
        print("  torch not importable: no comparison with torch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (median)")
    parser.add_argument("--backend", choices=("cython", "numpy"), default=fast_layers.backend(),
                        help="im2col used by the fast layers (default: the built one)")
    args = parser.parse_args()
    if args.backend == "cython" and not fast_layers.CYTHON_AVAILABLE:
        parser.error("the Cython extension is not built (pip install -e . builds it)")
    fast_layers.CYTHON_AVAILABLE = args.backend == "cython"
    print(f"backend {fast_layers.backend()}, BLAS threads {fast_layers.thread_count()}, "
          f"median of {args.repeats} interleaved repeats, float64, load average {os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(123)
    for name, (x_shape, w_shape, conv_param) in CONV_CASES.items():
        x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
        report_conv(name, medians(conv_contenders(x, w, b, conv_param), args.repeats))
    t = medians(pool_contenders(), args.repeats)
    for kind in ("max", "avg"):
        print(f"{kind} pool {POOL_SHAPE} 2x2/2: speed-up over naive: "
              f"fwd {t[f'{kind} naive fwd'] / t[f'{kind} fast fwd']:.1f}x, "
              f"bwd {t[f'{kind} naive bwd'] / t[f'{kind} fast bwd']:.1f}x")
    print(f"load average at the end {os.getloadavg()[0]:.1f} (other processes skew ratios, "
          "threaded BLAS calls most)")


if __name__ == "__main__":
    main()
