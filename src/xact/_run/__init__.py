"""The ways of running xact's math (:mod:`xact._math`).

``fast`` chooses, per call, between the generic Array API path and the fast
paths: NumPy chunking, JAX's jit, float32 widened to float64, and the
compiled kernels of ``kernels`` (C for the CPU, generated from the wide
formulas).
"""
