# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled im2col / col2im for the fast convolution layers (Cython 3).

Same layout and contract as ``im2col.py``: ``cols[n]`` is (C*HH*WW, Ho*Wo).
im2col first copies each image into the interior of a scratch plane (a few
kilobytes) whose padding is zeroed once per call, so its row loops have no
bounds tests; col2im adds straight into the output and skips the taps that
fall in the padding (zeroing and cropping a padded plane would cost more).
Stride 1 and stride 2 (the common strided case) get loops with a constant
step, which the compiler vectorises. Only typed memoryviews are used (no NumPy
C API), so the compiled module does not depend on the NumPy version it was
built against, and it imports as ``.im2col_cython`` from whichever package it
is copied into.
"""
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset

ctypedef fused real:
    float
    double


cdef struct Geometry:
    Py_ssize_t channels, height, width, pad, padded_height, padded_width
    Py_ssize_t field_height, field_width, stride, out_height, out_width, row_stride


cdef void _pad_image(const real* x, real* padded, const Geometry* g) noexcept nogil:
    """Copy an image into the interior of the scratch; its zero border is never written."""
    cdef Py_ssize_t c, i
    for c in range(g.channels):
        for i in range(g.height):
            memcpy(padded + (c * g.padded_height + i + g.pad) * g.padded_width + g.pad,
                   x + (c * g.height + i) * g.width, g.width * sizeof(real))


cdef void _im2col_image(const real* padded, real* cols, const Geometry* g) noexcept nogil:
    cdef Py_ssize_t c, kh, kw, oh, ow, stride = g.stride, out_width = g.out_width
    cdef const real* src
    cdef real* dst
    for c in range(g.channels):
        for kh in range(g.field_height):
            for kw in range(g.field_width):
                dst = cols + ((c * g.field_height + kh) * g.field_width + kw) * g.row_stride
                src = padded + (c * g.padded_height + kh) * g.padded_width + kw
                for oh in range(g.out_height):
                    if stride == 1:
                        memcpy(dst, src, out_width * sizeof(real))
                    elif stride == 2:
                        for ow in range(out_width):
                            dst[ow] = src[2 * ow]
                    else:
                        for ow in range(out_width):
                            dst[ow] = src[ow * stride]
                    src += stride * g.padded_width
                    dst += out_width


cdef inline Py_ssize_t _first_tap(Py_ssize_t offset, Py_ssize_t stride) noexcept nogil:
    """Smallest output index whose input index (i * stride + offset) is >= 0."""
    if offset >= 0:
        return 0
    return (stride - 1 - offset) // stride


cdef inline Py_ssize_t _end_tap(Py_ssize_t offset, Py_ssize_t size, Py_ssize_t stride,
                                Py_ssize_t out_size) noexcept nogil:
    """One past the largest output index whose input index is < size."""
    if size - 1 - offset < 0:
        return 0
    return min(out_size, (size - 1 - offset) // stride + 1)


cdef void _col2im_image(const real* cols, real* x, const Geometry* g) noexcept nogil:
    """Scatter-add straight into x: taps that fall in the padding are skipped, not stored."""
    cdef Py_ssize_t c, kh, kw, oh, ow, ih, off, lo, hi, stride = g.stride
    cdef const real* src
    cdef real* row
    memset(x, 0, g.channels * g.height * g.width * sizeof(real))
    for c in range(g.channels):
        for kh in range(g.field_height):
            for kw in range(g.field_width):
                src = cols + ((c * g.field_height + kh) * g.field_width + kw) * g.row_stride
                off = kw - g.pad
                lo = _first_tap(off, stride)
                hi = max(lo, _end_tap(off, g.width, stride, g.out_width))
                for oh in range(g.out_height):
                    ih = oh * stride + kh - g.pad
                    if 0 <= ih < g.height:
                        row = x + (c * g.height + ih) * g.width
                        if stride == 1:
                            for ow in range(lo, hi):
                                row[ow + off] += src[ow]
                        elif stride == 2:
                            for ow in range(lo, hi):
                                row[2 * ow + off] += src[ow]
                        else:
                            for ow in range(lo, hi):
                                row[ow * stride + off] += src[ow]
                    src += g.out_width


cdef Geometry _geometry(Py_ssize_t channels, Py_ssize_t height, Py_ssize_t width,
                        Py_ssize_t field_height, Py_ssize_t field_width, Py_ssize_t stride,
                        Py_ssize_t pad, Py_ssize_t cols_rows, Py_ssize_t cols_positions,
                        Py_ssize_t cols_row_stride, Py_ssize_t cols_element_stride,
                        size_t itemsize) except *:
    """The convolution's geometry, after checking that the column buffer fits it."""
    cdef Geometry g
    if stride < 1 or pad < 0 or field_height > height + 2 * pad or field_width > width + 2 * pad:
        raise ValueError(
            f"window {field_height}x{field_width} with stride {stride} and pad {pad} "
            f"does not fit an input of {height}x{width}")
    g.channels, g.height, g.width, g.pad = channels, height, width, pad
    g.padded_height, g.padded_width = height + 2 * pad, width + 2 * pad
    g.field_height, g.field_width, g.stride = field_height, field_width, stride
    g.out_height = (g.padded_height - field_height) // stride + 1
    g.out_width = (g.padded_width - field_width) // stride + 1
    if (cols_rows, cols_positions) != (channels * field_height * field_width,
                                       g.out_height * g.out_width):
        raise ValueError("the column buffer has the wrong shape")
    if g.out_height * g.out_width > 1 and cols_element_stride != <Py_ssize_t>itemsize:
        raise ValueError("column rows must be contiguous")
    g.row_stride = cols_row_stride // itemsize
    return g


cdef void* _scratch(const Geometry* g, size_t itemsize) except NULL:
    """One input plane set, zeroed once: images fill only its interior, so the padding stays zero.

    The only memory the kernels allocate.
    """
    cdef void* padded = calloc(1, g.channels * g.padded_height * g.padded_width * itemsize)
    if padded == NULL:
        raise MemoryError()
    return padded


def im2col(const real[:, :, :, ::1] x, Py_ssize_t field_height, Py_ssize_t field_width,
           Py_ssize_t stride, Py_ssize_t pad, real[:, :, :] out):
    """Fill ``out`` (N, C*HH*WW, Ho*Wo) with the columns of ``x`` (N, C, H, W).

    Rows need only be contiguous: ``out`` may be a (C*HH*WW, N, Ho*Wo) buffer transposed.
    """
    cdef Py_ssize_t n
    if out.shape[0] != x.shape[0]:
        raise ValueError("the column buffer has the wrong shape")
    cdef Geometry g = _geometry(x.shape[1], x.shape[2], x.shape[3], field_height, field_width,
                                stride, pad, out.shape[1], out.shape[2], out.strides[1],
                                out.strides[2], sizeof(real))
    cdef real* padded = <real*>_scratch(&g, sizeof(real))
    with nogil:
        for n in range(x.shape[0]):
            _pad_image(&x[n, 0, 0, 0], padded, &g)
            _im2col_image(padded, &out[n, 0, 0], &g)
        free(padded)


def col2im(const real[:, :, :] cols, Py_ssize_t field_height, Py_ssize_t field_width,
           Py_ssize_t stride, Py_ssize_t pad, real[:, :, :, ::1] out):
    """Overwrite ``out`` (N, C, H, W) with the sum of ``cols`` scattered back to the input.

    Rows of ``cols`` need only be contiguous, as for ``im2col``.
    """
    cdef Py_ssize_t n
    if cols.shape[0] != out.shape[0]:
        raise ValueError("the column buffer has the wrong shape")
    cdef Geometry g = _geometry(out.shape[1], out.shape[2], out.shape[3], field_height,
                                field_width, stride, pad, cols.shape[1], cols.shape[2],
                                cols.strides[1], cols.strides[2], sizeof(real))
    with nogil:
        for n in range(out.shape[0]):
            _col2im_image(&cols[n, 0, 0], &out[n, 0, 0, 0], &g)
