"""Automatic, sandboxed grading of the ConvolutionalNetworks assignment."""

__version__ = "0.1.0"
