"""Fixtures for the engine's tests and benchmarks (random paged-attention cases, the torch
ops the fused kernels replace, the checks shared by the interpreter and GPU tests); never
imported by product code."""
