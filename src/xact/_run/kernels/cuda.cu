/* xact's CUDA kernels: the grid loops around the generated kernels
 * (kernels.h), compiled by NVRTC (xact._run.kernels.cuda), which puts
 * kernels.h and halves.h in place of their #include lines.
 *
 * Elementwise: one thread an element, a grid-stride loop over a contiguous
 * array. Each kernel reads x (and the gradient d) once, computes in double
 * and writes its result once, rounded once to the element type: float32,
 * float64 (the kernels proven there), and float16 and bfloat16 as 16-bit
 * patterns. The softmax family: one block a row (a grid-stride loop over
 * rows), each pass over the row shared by the block's threads and its
 * partial results combined across the block, in double. The options
 * (-ftz=false, -prec-div=true, -prec-sqrt=true, --fmad=false) keep
 * subnormals and IEEE rounding, as on the CPU.
 */
/* the generated passes recompute statements a pass may not need, and not
 * every helper serves every kernel: unused is expected */
#pragma nv_diag_suppress 177
#define XACT_KERNEL static __device__ __forceinline__
#define restrict __restrict__
#define INFINITY __longlong_as_double(0x7ff0000000000000ULL)
#define NAN __longlong_as_double(0x7ff8000000000000ULL)

/* the reductions of a row, across the threads of a block (every thread
 * takes part, and every thread gets the result) */
#define FULL_WARP 0xffffffffu
#define MAX_WARPS 32

static __device__ double block_combine(double v, bool maximum)
{
    __shared__ double partial[MAX_WARPS];
    for (int offset = 16; offset > 0; offset /= 2) {
        const double other = __shfl_down_sync(FULL_WARP, v, offset);
        v = maximum ? (other > v ? other : v) : v + other;
    }
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    __syncthreads(); /* partial is free: the last combine has been read */
    if (lane == 0)
        partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const int warps = (blockDim.x + 31) / 32;
        v = lane < warps ? partial[lane] : (maximum ? -INFINITY : 0.0);
        for (int offset = 16; offset > 0; offset /= 2) {
            const double other = __shfl_down_sync(FULL_WARP, v, offset);
            v = maximum ? (other > v ? other : v) : v + other;
        }
        if (lane == 0)
            partial[0] = v;
    }
    __syncthreads();
    return partial[0];
}

#define XACT_ROW static __device__ __forceinline__
#define XACT_ROW_LOOP(i, n) for (long i = threadIdx.x; i < n; i += blockDim.x)
#define XACT_ROW_MAX(r) r = block_combine(r, true)
#define XACT_ROW_SUM(r) r = block_combine(r, false)
#define XACT_ROW_OR(r) r = __syncthreads_or(r)
#define XACT_ROW_STORE(statement) if (threadIdx.x == 0) statement
/* TwoProduct's error by the device's fused multiply-add (exact; --fmad=false
 * stops only the contraction of separate operations): the bits of Dekker's
 * split wherever that is exact, in two instructions */
#define XACT_PRODUCT_ERROR(a, b, p) fma(a, b, -(p))

#include "kernels.h"
#include "halves.h"

#define AS_DOUBLE(a) ((double)(a))
#define AS_float(a) ((float)(a))
#define AS_double(a) (a)

typedef long long index_t;

#define GRID_LOOP(i, n)                                                        \
    for (index_t i = (index_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);  \
         i += (index_t)blockDim.x * gridDim.x)

/* name_TYPE(x, y, n, p0, ..., p15): y = name(x), the kernel's arguments
 * p0, p1, ... (XACT_MAX_ARGUMENTS of them, unused ones zero) */
#define VALUE_KERNEL(T, TYPE, LOAD, STORE, name, args)                       \
    extern "C" __global__ void name##_##TYPE(const T *__restrict__ x,        \
                                               T *__restrict__ y, index_t n,   \
                                               XACT_ARGUMENT_LIST)             \
    {                                                                          \
        const double p[XACT_MAX_ARGUMENTS] = XACT_ARGUMENT_ARRAY;              \
        (void)p; /* a kernel without parameters */                             \
        GRID_LOOP(i, n)                                                        \
        {                                                                      \
            const double v = LOAD(x[i]);                                       \
            y[i] = STORE(xact_##name args);                                    \
        }                                                                      \
    }

/* name_TYPE(x, d, y, n, p0, ..., p15): y = d * name'(x) */
#define VJP_KERNEL(T, TYPE, LOAD, STORE, name, args)                         \
    extern "C" __global__ void name##_##TYPE(                                  \
        const T *__restrict__ x, const T *__restrict__ g, T *__restrict__ y,   \
        index_t n, XACT_ARGUMENT_LIST)                                         \
    {                                                                          \
        const double p[XACT_MAX_ARGUMENTS] = XACT_ARGUMENT_ARRAY;              \
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

/* name_f32(x, where, y, n, rows), name_f64: the softmax family along rows
 * of n (where: a mask of the same shape, or null); y holds n results a row
 * (ROW_ELEMENTS) or one (ROW_ONE: logsumexp) */
#define ROW_ELEMENTS n
#define ROW_ONE 1
#define ROW_KERNEL_OF(T, TYPE, name, outputs)                                  \
    extern "C" __global__ void name##_##TYPE(                                  \
        const T *__restrict__ x, const unsigned char *__restrict__ w,          \
        T *__restrict__ y, index_t n, index_t rows)                            \
    {                                                                          \
        for (index_t r = blockIdx.x; r < rows; r += gridDim.x)                 \
            xact_##name(x + r * n, w ? w + r * n : nullptr, y + r * (outputs),  \
                        (long)n);                                              \
    }
#define ROW_KERNEL(name, outputs) ROW_KERNEL_OF(float, f32, name, outputs)
#define ROW64_KERNEL(name, outputs) ROW_KERNEL_OF(double, f64, name, outputs)

XACT_ROW_KERNELS(ROW_KERNEL)
XACT_ROW64_KERNELS(ROW64_KERNEL)
