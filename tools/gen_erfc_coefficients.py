"""Generate the Chebyshev coefficients of xact's standard-only erfc.

For z >= 0, with t = 2 / (2 + z) in (0, 1],

    erfc(z) = t * exp(-z**2) * g(t),    g(t) = erfcx(z) / t,

and g is smooth and bounded on [0, 1], so a Chebyshev series in u = 2t - 1
represents it to below float64 rounding; xact evaluates it with Clenshaw's
recurrence. Run with mpmath installed and paste the printed tuple into
src/xact/_math/special.py.
"""

import mpmath

mpmath.mp.dps = 50


def g(t):
    if t == 0:
        return 1 / (2 * mpmath.sqrt(mpmath.pi))
    z = 2 / t - 2
    return mpmath.erfc(z) * mpmath.exp(z * z) / t


def chebyshev_coefficients(f, nodes=96):
    """c_k with f(t) = c_0/2 + sum c_k T_k(2t - 1) on [0, 1]."""
    thetas = [mpmath.pi * (j + mpmath.mpf(1) / 2) / nodes for j in range(nodes)]
    values = [f((mpmath.cos(th) + 1) / 2) for th in thetas]
    return [
        2
        * sum(v * mpmath.cos(k * th) for v, th in zip(values, thetas, strict=True))
        / nodes
        for k in range(nodes)
    ]


TOLERANCE = mpmath.mpf("1e-19")


def main(tolerance=TOLERANCE):
    coefficients = chebyshev_coefficients(g)
    last = max(k for k, c in enumerate(coefficients) if abs(c) > tolerance)
    coefficients = coefficients[: last + 1]
    coefficients[0] /= 2
    print(f"# {len(coefficients)} terms; first dropped |c_k| <= {tolerance}")
    print("_ERFCX_CHEBYSHEV = (")
    for c in coefficients:
        print(f"    {mpmath.nstr(c, 20, min_fixed=-1, max_fixed=1)},")
    print(")")


if __name__ == "__main__":
    main()
