"""Attention backends: torch reference and Triton kernels."""
