"""Layer benchmark: ratios of the reference's fast conv/pool layers, measured in one run.

Prints, each as the median over repeats of the ratio of two timings taken back
to back (their order alternating), so that drift in the machine's speed and
whichever call ran just before hit both sides alike:
  * fast over naive speed-ups, forward and backward (information; the notebook
    printed 12.6x / 65x for conv and 62x / 33x for max pooling);
  * fast conv forward over its floor, the single matrix product (F, K) @ (K, N*H'*W')
    the convolution reduces to, on precomputed columns (goal <= 2x), and beside it how
    slowly this thread rewrites memory BLAS's other threads have just read, which the
    forward's im2col does and the floor never does;
  * when PyTorch is importable, fast conv forward + backward over
    torch.nn.functional.conv2d + autograd in float64 with as many threads as NumPy's
    BLAS uses (OPENBLAS_NUM_THREADS etc., else the usable cores) (goal <= 1x).

Run from the project root:  python benchmarks/bench_layers.py [--repeats 15] [--backend numpy]
OPENBLAS_* / OMP_NUM_THREADS are read as the environment sets them, never changed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable, Optional

import numpy as np
from threadpoolctl import threadpool_info

from reference import fast_layers, layers

CONV_CASES = {  # name: (x shape, w shape, conv_param)
    "notebook conv": ((100, 3, 31, 31), (25, 3, 3, 3), {"stride": 2, "pad": 1}),
    "FourLayerConvNet conv": ((100, 3, 32, 32), (32, 3, 7, 7), {"stride": 1, "pad": 3}),
}
POOL_SHAPE = (100, 3, 32, 32)
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}
HANDOFF_PRODUCT = ((25, 27), (27, 100 * 16 * 16))  # the notebook conv's floor: 5.5 MB of columns
Run = Callable[[], object]


def blas_threads() -> int:
    """Threads of NumPy's BLAS, which runs the fast layers' products."""
    return max(
        (lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"), default=1
    )


def timed(run: Run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def ratio(numerator: Run, denominator: Run, repeats: int) -> float:
    """Median of time(numerator) / time(denominator) over back-to-back pairs."""
    ratios = []
    for repeat in range(repeats):
        if repeat % 2:
            bottom = timed(denominator)
            top = timed(numerator)
        else:
            top = timed(numerator)
            bottom = timed(denominator)
        ratios.append(top / bottom)
    return statistics.median(ratios)


def median_time(run: Run, repeats: int) -> float:
    return statistics.median(timed(run) for _ in range(repeats))


def handoff_cost(repeats: int) -> float:
    """Median time to rewrite a buffer BLAS's threads have just read, over a private buffer's.

    Near 1x when the cores share a cache. A VM's vCPUs can run on dies that do not
    (this project's 2-vCPU VM behaves so for 10-60 s at a time: a cache line takes
    150-300 ns to pass between its vCPUs instead of 30-80 ns), and then every rewritten
    line waits for the other die's copy to be invalidated: about 7x. The fast forward's
    im2col refills the column buffer its products read and pays that; the floor product
    only reads.
    """
    rng = np.random.default_rng(4)
    weights_shape, columns_shape = HANDOFF_PRODUCT
    weights = rng.standard_normal(weights_shape)
    shared, private = rng.standard_normal(columns_shape), rng.standard_normal(columns_shape)

    def rewrite_after_product(buffer: np.ndarray) -> float:
        weights @ shared
        return timed(lambda: np.multiply(buffer, 1.0, out=buffer))

    return statistics.median(
        rewrite_after_product(shared) / rewrite_after_product(private) for _ in range(repeats)
    )


def torch_conv(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray, conv_param: dict
) -> Optional[Run]:
    """conv2d forward + autograd backward in float64, or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(blas_threads())
    x_t, w_t, b_t = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dout_t = torch.from_numpy(dout)

    def run() -> None:
        for leaf in (x_t, w_t, b_t):
            leaf.grad = None
        out = torch.nn.functional.conv2d(
            x_t, w_t, b_t, stride=conv_param["stride"], padding=conv_param["pad"]
        )
        out.backward(dout_t)

    return run


def report_conv(
    name: str, x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict, repeats: int
) -> None:
    out, naive_cache = layers.conv_forward_naive(x, w, b, conv_param)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    _, fast_cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    w_mat = w.reshape(w.shape[0], -1)
    # The product's operands only need the right shapes: (F, K) @ (K, N*H'*W').
    cols = np.random.default_rng(2).standard_normal((w_mat.shape[1], out[:, 0].size))

    def fast_fwd() -> None:
        fast_layers.conv_forward_fast(x, w, b, conv_param)

    def fast_bwd() -> None:
        fast_layers.conv_backward_fast(dout, fast_cache)

    def fast_fwd_bwd() -> None:
        fast_layers.conv_backward_fast(dout, fast_layers.conv_forward_fast(x, w, b, conv_param)[1])

    def floor_product() -> None:
        w_mat @ cols

    naive_repeats = max(3, repeats // 3)  # the naive layers take ~10-100 ms a call
    print(
        f"{name}: fast {median_time(fast_fwd, repeats) * 1e3:.2f} ms fwd, "
        f"{median_time(fast_bwd, repeats) * 1e3:.2f} ms bwd"
    )
    fwd = ratio(lambda: layers.conv_forward_naive(x, w, b, conv_param), fast_fwd, naive_repeats)
    bwd = ratio(lambda: layers.conv_backward_naive(dout, naive_cache), fast_bwd, naive_repeats)
    print(f"  speed-up over naive: fwd {fwd:.1f}x, bwd {bwd:.1f}x")
    floor = ratio(fast_fwd, floor_product, repeats)
    print(
        f"  fast fwd / single-matmul floor ({median_time(floor_product, repeats) * 1e3:.2f} ms): "
        f"{floor:.2f}x (goal <= 2x)"
    )
    print(
        f"  rewriting memory BLAS's threads just read: {handoff_cost(repeats):.1f}x a private "
        "buffer's time (near 1x when the cores share a cache)"
    )
    torch_run = torch_conv(x, w, b, dout, conv_param)
    if torch_run is None:
        print("  torch not importable: no comparison with torch")
        return
    print(
        f"  fast fwd+bwd / torch conv2d+autograd float64: "
        f"{ratio(fast_fwd_bwd, torch_run, repeats):.2f}x (goal <= 1.0x)"
    )


def report_pool(kind: str, x: np.ndarray, repeats: int) -> None:
    naive_fwd, naive_bwd, fast_fwd, fast_bwd = (
        getattr(module, f"{kind}_pool_{direction}_{speed}")
        for module, speed in ((layers, "naive"), (fast_layers, "fast"))
        for direction in ("forward", "backward")
    )
    out, cache = naive_fwd(x, POOL_PARAM)
    dout = np.random.default_rng(3).standard_normal(out.shape)
    fwd = ratio(lambda: naive_fwd(x, POOL_PARAM), lambda: fast_fwd(x, POOL_PARAM), repeats)
    bwd = ratio(lambda: naive_bwd(dout, cache), lambda: fast_bwd(dout, cache), repeats)
    print(f"{kind} pool {POOL_SHAPE} 2x2/2: speed-up over naive: fwd {fwd:.1f}x, bwd {bwd:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed pairs per ratio (median)")
    parser.add_argument(
        "--backend",
        choices=("cython", "numpy"),
        default=fast_layers.backend(),
        help="im2col used by the fast layers (default: the built one)",
    )
    args = parser.parse_args()
    if args.backend == "cython" and not fast_layers.CYTHON_AVAILABLE:
        parser.error("the Cython extension is not built (pip install -e . builds it)")
    fast_layers.CYTHON_AVAILABLE = args.backend == "cython"
    print(
        f"backend {fast_layers.backend()}, BLAS threads {blas_threads()}, median of "
        f"{args.repeats} back-to-back pairs, float64, load average {os.getloadavg()[0]:.1f}"
    )
    rng = np.random.default_rng(123)
    for name, (x_shape, w_shape, conv_param) in CONV_CASES.items():
        x, w, b = (
            rng.standard_normal(x_shape),
            rng.standard_normal(w_shape),
            rng.standard_normal(w_shape[0]),
        )
        report_conv(name, x, w, b, conv_param, args.repeats)
    x = rng.standard_normal(POOL_SHAPE)
    for kind in ("max", "avg"):
        report_pool(kind, x, args.repeats)
    print(
        f"load average at the end {os.getloadavg()[0]:.1f} (other processes skew ratios, "
        "threaded BLAS calls most)"
    )


if __name__ == "__main__":
    main()
