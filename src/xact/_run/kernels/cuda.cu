/* xact's CUDA kernels: the grid loops around the generated kernels
 * (kernels.h), compiled by NVRTC (xact._run.kernels.cuda), which puts
 * kernels.h and halves.h in place of their #include lines.
 *
 * One thread an element, a grid-stride loop over a contiguous array. Each
 * kernel reads x (and the gradient d) once, computes in double and writes
 * its result once, rounded once to the element type: float32, float64 (the
 * kernels proven there), and float16 and bfloat16 as 16-bit patterns. The
 * options (-ftz=false, -prec-div=true, -prec-sqrt=true, --fmad=false) keep
 * subnormals and IEEE rounding, as on the CPU.
 */
#define XACT_KERNEL static __device__ __forceinline__
#include "kernels.h"
#include "halves.h"

#define AS_DOUBLE(a) ((double)(a))
#define AS_float(a) ((float)(a))
#define AS_double(a) (a)

typedef long long index_t;

#define GRID_LOOP(i, n)                                                        \
    for (index_t i = (index_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);  \
         i += (index_t)blockDim.x * gridDim.x)

/* name_TYPE(x, y, n, p0, p1): y = name(x) */
#define VALUE_KERNEL(T, TYPE, LOAD, STORE, name, args)                       \
    extern "C" __global__ void name##_##TYPE(const T *__restrict__ x,        \
                                               T *__restrict__ y, index_t n,   \
                                               double p0, double p1)           \
    {                                                                          \
        const double p[2] = {p0, p1};                                          \
        (void)p; /* a kernel without parameters */                             \
        GRID_LOOP(i, n)                                                        \
        {                                                                      \
            const double v = LOAD(x[i]);                                       \
            y[i] = STORE(xact_##name args);                                    \
        }                                                                      \
    }

/* name_TYPE(x, d, y, n, p0, p1): y = d * name'(x) */
#define VJP_KERNEL(T, TYPE, LOAD, STORE, name, args)                         \
    extern "C" __global__ void name##_##TYPE(                                  \
        const T *__restrict__ x, const T *__restrict__ g, T *__restrict__ y,   \
        index_t n, double p0, double p1)                                       \
    {                                                                          \
        const double p[2] = {p0, p1};                                          \
        (void)p; /* a kernel without parameters */                             \
        GRID_LOOP(i, n)                                                        \
        {                                                                      \
            const double v = LOAD(x[i]), d = LOAD(g[i]);                       \
            y[i] = STORE(xact_##name args);                                    \
        }                                                                      \
    }

#define VALUE(name, args) VALUE_KERNEL(float, f32, AS_DOUBLE, AS_float, name, args)
#define VJP(name, args) VJP_KERNEL(float, f32, AS_DOUBLE, AS_float, name, args)
#define VALUE64(name, args)                                                    \
    VALUE_KERNEL(double, f64, AS_DOUBLE, AS_double, name, args)
#define VJP64(name, args) VJP_KERNEL(double, f64, AS_DOUBLE, AS_double, name, args)
#define VALUE16(name, args)                                                    \
    VALUE_KERNEL(half_bits, f16, HALF_TO_DOUBLE, DOUBLE_TO_HALF, name, args)
#define VALUEBF16(name, args)                                                  \
    VALUE_KERNEL(half_bits, bf16, BFLOAT16_TO_DOUBLE, DOUBLE_TO_BFLOAT16,  \
                 name, args)

XACT_VALUE_KERNELS(VALUE)
XACT_VJP_KERNELS(VJP)
XACT_VALUE64_KERNELS(VALUE64)
XACT_VJP64_KERNELS(VJP64)
XACT_VALUE_KERNELS(VALUE16)
XACT_VALUE_KERNELS(VALUEBF16)
