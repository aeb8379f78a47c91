/* Half precision as 16-bit patterns, for the CPU loops (cpu.c) and the CUDA
 * kernels (cuda.cu): float16 and bfloat16 convert with integer code, exact to
 * double, and from double rounded once, to nearest even, with subnormals,
 * overflow to infinity and NaN. No compiler half type is needed (gcc 12 has
 * no __bf16; NVRTC would need cuda_fp16.h), and a bfloat16 tensor, which has
 * no NumPy view, passes as int16. Functions are XACT_KERNEL, as in
 * kernels.h.
 */
typedef unsigned short half_bits;

XACT_KERNEL double power_of_two(int e)
{
    union { unsigned long long u; double d; } b = {(unsigned long long)(1023 + e) << 52};
    return b.d;
}

XACT_KERNEL double quiet_nan(void)
{
    union { unsigned long long u; double d; } b = {0x7ff8000000000000ull};
    return b.d;
}

/* a binary format of p significand bits, smallest normal exponent emin and
 * exponent field width: bits to double, and double to bits rounded once */
XACT_KERNEL double narrow_to_double(unsigned bits, int p, int emin, int width)
{
    const unsigned fraction = bits & ((1u << (p - 1)) - 1);
    const int exponent = (int)((bits >> (p - 1)) & ((1u << width) - 1));
    double v;
    if (exponent == 0)
        v = (double)fraction * power_of_two(emin - p + 1);
    else if (exponent == (1 << width) - 1)
        v = fraction ? quiet_nan() : power_of_two(1023) * 2.0; /* infinity */
    else
        v = (double)(fraction + (1u << (p - 1))) * power_of_two(exponent + emin - p);
    return (bits >> (p - 1 + width)) & 1 ? -v : v;
}

XACT_KERNEL unsigned double_to_narrow(double v, int p, int emin, int width,
                                      double overflow)
{
    union { double d; unsigned long long u; } b = {v};
    const unsigned sign = (unsigned)(b.u >> 63) << (p - 1 + width);
    const unsigned infinity = ((1u << width) - 1) << (p - 1);
    const double a = fabs(v);
    if (a != a)
        return sign | infinity | (1u << (p - 2)); /* a quiet NaN */
    if (a >= overflow) /* the largest finite number plus half an ULP, or more */
        return sign | infinity;
    int e = (int)((b.u >> 52) & 0x7ff) - 1023;
    if (e < emin)
        e = emin; /* subnormal (or zero): the quantum of the smallest normals */
    /* a scaled so that its ULP is 1 (exact: a power of two), rounded to
     * nearest even by rint in the default rounding mode */
    const double scaled = a * power_of_two(p - 1 - e);
    const double q = rint(scaled);
    /* q in [2^(p-1), 2^p] for normals: 2^p carries into the exponent */
    const unsigned m = (unsigned)q;
    if (e == emin && m < (1u << (p - 1)))
        return sign | m; /* subnormal, or the smallest normal reached by rounding */
    return sign | ((unsigned)(e - emin + 1) << (p - 1)) + (m - (1u << (p - 1)));
}

#define HALF_TO_DOUBLE(h) narrow_to_double((h), 11, -14, 5)
#define DOUBLE_TO_HALF(v) ((half_bits)double_to_narrow((v), 11, -14, 5, 65520.0))
#define BFLOAT16_TO_DOUBLE(h) narrow_to_double((h), 8, -126, 8)
/* bfloat16's largest finite number plus half an ULP, and more, overflow */
#define DOUBLE_TO_BFLOAT16(v)                                                  \
    ((half_bits)double_to_narrow((v), 8, -126, 8, 0x1.ffp127))
