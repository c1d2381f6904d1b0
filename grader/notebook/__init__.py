"""Notebook submissions: reading a notebook, assembling its folder, executing it in the sandbox,
and what the grading reads from it (kernel captures, printed errors, filters, inline answers)."""
