# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled im2col / col2im for the fast convolution layers (Cython 3).

Same layout and contract as ``im2col.py``: ``cols[n]`` is (C*HH*WW, Ho*Wo) and
padding is implicit, so no padded copy of the input is ever made. Only typed
memoryviews are used (no NumPy C API), so the compiled module does not depend on
the NumPy version it was built against, and it imports as ``.im2col_cython``
from whichever package it is copied into.
"""
from libc.string cimport memcpy, memset

ctypedef fused real:
    float
    double


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


cdef void _im2col_image(const real* x, real* cols, Py_ssize_t row_stride, Py_ssize_t channels,
                        Py_ssize_t height, Py_ssize_t width, Py_ssize_t field_height,
                        Py_ssize_t field_width, Py_ssize_t out_height, Py_ssize_t out_width,
                        Py_ssize_t stride, Py_ssize_t pad) noexcept nogil:
    cdef Py_ssize_t c, kh, kw, oh, ow, ih, off, lo, hi
    cdef const real* row
    cdef real* dst
    for c in range(channels):
        for kh in range(field_height):
            for kw in range(field_width):
                dst = cols + ((c * field_height + kh) * field_width + kw) * row_stride
                off = kw - pad
                lo = _first_tap(off, stride)
                hi = max(lo, _end_tap(off, width, stride, out_width))
                for oh in range(out_height):
                    ih = oh * stride + kh - pad
                    if ih < 0 or ih >= height:
                        memset(dst, 0, out_width * sizeof(real))
                    else:
                        row = x + (c * height + ih) * width
                        memset(dst, 0, lo * sizeof(real))
                        if stride == 1:
                            memcpy(dst + lo, row + lo + off, (hi - lo) * sizeof(real))
                        else:
                            for ow in range(lo, hi):
                                dst[ow] = row[ow * stride + off]
                        memset(dst + hi, 0, (out_width - hi) * sizeof(real))
                    dst += out_width


cdef void _col2im_image(const real* cols, Py_ssize_t row_stride, real* x, Py_ssize_t channels,
                        Py_ssize_t height, Py_ssize_t width, Py_ssize_t field_height,
                        Py_ssize_t field_width, Py_ssize_t out_height, Py_ssize_t out_width,
                        Py_ssize_t stride, Py_ssize_t pad) noexcept nogil:
    cdef Py_ssize_t c, kh, kw, oh, ow, ih, off, lo, hi
    cdef real* row
    cdef const real* src
    memset(x, 0, channels * height * width * sizeof(real))
    for c in range(channels):
        for kh in range(field_height):
            for kw in range(field_width):
                src = cols + ((c * field_height + kh) * field_width + kw) * row_stride
                off = kw - pad
                lo = _first_tap(off, stride)
                hi = max(lo, _end_tap(off, width, stride, out_width))
                for oh in range(out_height):
                    ih = oh * stride + kh - pad
                    if 0 <= ih < height:
                        row = x + (c * height + ih) * width
                        for ow in range(lo, hi):
                            row[ow * stride + off] += src[ow]
                    src += out_width


def _geometry(Py_ssize_t height, Py_ssize_t width, Py_ssize_t field_height,
              Py_ssize_t field_width, Py_ssize_t stride, Py_ssize_t pad):
    if stride < 1 or pad < 0 or field_height > height + 2 * pad or field_width > width + 2 * pad:
        raise ValueError(
            f"window {field_height}x{field_width} with stride {stride} and pad {pad} "
            f"does not fit an input of {height}x{width}")
    return (height + 2 * pad - field_height) // stride + 1, (width + 2 * pad - field_width) // stride + 1


cdef _require_contiguous_rows(Py_ssize_t row_length, Py_ssize_t element_stride, size_t itemsize):
    if row_length > 1 and element_stride != <Py_ssize_t>itemsize:
        raise ValueError("column rows must be contiguous")


def im2col(const real[:, :, :, ::1] x, Py_ssize_t field_height, Py_ssize_t field_width,
           Py_ssize_t stride, Py_ssize_t pad, real[:, :, :] out):
    """Fill ``out`` (N, C*HH*WW, Ho*Wo) with the columns of ``x`` (N, C, H, W).

    Rows need only be contiguous: ``out`` may be a (C*HH*WW, N, Ho*Wo) buffer transposed.
    """
    cdef Py_ssize_t n, channels = x.shape[1], height = x.shape[2], width = x.shape[3]
    cdef Py_ssize_t out_height, out_width
    out_height, out_width = _geometry(height, width, field_height, field_width, stride, pad)
    if (out.shape[0], out.shape[1], out.shape[2]) != (
            x.shape[0], channels * field_height * field_width, out_height * out_width):
        raise ValueError("im2col: output buffer has the wrong shape")
    _require_contiguous_rows(out.shape[2], out.strides[2], sizeof(real))
    cdef Py_ssize_t row_stride = out.strides[1] // sizeof(real)
    with nogil:
        for n in range(x.shape[0]):
            _im2col_image(&x[n, 0, 0, 0], &out[n, 0, 0], row_stride, channels, height, width,
                          field_height, field_width, out_height, out_width, stride, pad)


def col2im(const real[:, :, :] cols, Py_ssize_t field_height, Py_ssize_t field_width,
           Py_ssize_t stride, Py_ssize_t pad, real[:, :, :, ::1] out):
    """Overwrite ``out`` (N, C, H, W) with the sum of ``cols`` scattered back to the input.

    Rows of ``cols`` need only be contiguous, as for ``im2col``.
    """
    cdef Py_ssize_t n, channels = out.shape[1], height = out.shape[2], width = out.shape[3]
    cdef Py_ssize_t out_height, out_width
    out_height, out_width = _geometry(height, width, field_height, field_width, stride, pad)
    if (cols.shape[0], cols.shape[1], cols.shape[2]) != (
            out.shape[0], channels * field_height * field_width, out_height * out_width):
        raise ValueError("col2im: column buffer has the wrong shape")
    _require_contiguous_rows(cols.shape[2], cols.strides[2], sizeof(real))
    cdef Py_ssize_t row_stride = cols.strides[1] // sizeof(real)
    with nogil:
        for n in range(out.shape[0]):
            _col2im_image(&cols[n, 0, 0], row_stride, &out[n, 0, 0, 0], channels, height, width,
                          field_height, field_width, out_height, out_width, stride, pad)
