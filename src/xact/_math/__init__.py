"""xact's one definition of the math, written against an Array API namespace.

``elementwise`` (values) and ``derivatives`` (vector-Jacobian products) in
any floating dtype, with exact pairs (``twofold``), kink conventions
(``kinks``), special functions (``special``) and the roots of the
derivatives (``derivative_roots``); ``elementwise_wide`` and
``derivatives_wide``, the float64 formulas of float32 results. How the math
runs is :mod:`xact._run`'s business.
"""
