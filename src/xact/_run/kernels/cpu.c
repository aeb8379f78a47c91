/* xact._run.kernels._cpu: the CPU loops around the generated kernels (kernels.h).
 *
 * Each kernel runs float32 elements through its float64 formula and rounds
 * once. The loop is vectorized by gcc (#pragma omp simd) with glibc's vector
 * math library (libmvec) and compiled for several instruction sets, chosen
 * when the module loads (target_clones: baseline x86-64, AVX2, AVX-512).
 * Every element goes through the same vector code wherever it stands: the
 * loop runs whole blocks, and the last partial block is copied into a full
 * one, so a result never depends on the size of the array or the offset of
 * the element (a scalar tail through libm would differ from libmvec).
 *
 * The Python functions take contiguous float32 buffers and a range, check
 * the range against every buffer, and release the GIL while they run: xact's
 * thread pool gives each thread one contiguous share.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

/* the vector variants of the C library's functions (glibc declares them
 * only under -ffast-math, which xact never uses); setup.py's probe found
 * them, or defined XACT_SCALAR_MATH */
#ifndef XACT_SCALAR_MATH
#pragma omp declare simd notinbranch
double exp(double);
#pragma omp declare simd notinbranch
double log(double);
#pragma omp declare simd notinbranch
double log1p(double);
#pragma omp declare simd notinbranch
double expm1(double);
#pragma omp declare simd notinbranch
double tanh(double);
#pragma omp declare simd notinbranch
double erfc(double);
#pragma omp declare simd notinbranch
double hypot(double, double);
#endif

/* every kernel inlined into its loop: a call left out of line (gcc stops
 * inlining in a file this size) keeps the loop scalar */
#define XACT_KERNEL static inline __attribute__((always_inline))
#define XACT_ROW static inline __attribute__((always_inline))
#include "kernels.h"
#include "halves.h"

#if defined(XACT_TARGET_CLONES)
#define XACT_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
#else
#define XACT_CLONES
#endif

/* gcc 12's partial redundancy elimination turns a per-row condition into an
 * int select that its vectorizer then refuses: the float64 row loops stayed
 * scalar (softmax at 1e6: 9.8 ms on one thread, 2.5 ms without it). Off for
 * the row loops alone: the elementwise ones are faster with it (float32
 * hard_swish 0.36 ms against 0.50 ms). */
/* gcc's jump threading merges two selects on one condition (sigmoid's
 * exp(x >= 0 ? -x : x), then x >= 0 ? r : e r) into one branch with a call
 * of exp in each arm, which the vectorizer turns into two vector calls:
 * float64 sigmoid at 1e6 took 1.27 ms on one thread with it, 0.70 ms
 * without; float64 log_softmax over 1000 x 1000, 3.8 ms against 2.0 ms.
 * Off for every loop. */
#if defined(__GNUC__) && !defined(__clang__)
#define XACT_ROWS_OPTIMIZE __attribute__((optimize("no-tree-pre", "no-thread-jumps")))
#define XACT_LOOP_OPTIMIZE __attribute__((optimize("no-thread-jumps")))
#else
#define XACT_ROWS_OPTIMIZE
#define XACT_LOOP_OPTIMIZE
#endif

#define BLOCK 64

typedef void (*value_loop)(const void *, void *, Py_ssize_t, const double *);
typedef void (*vjp_loop)(const void *, const void *, void *, Py_ssize_t,
                         const double *);

/* the loops of one kernel over elements of type T (float: the value is
 * rounded once from double; double: none), named PREFIX_name */
#define VALUE_LOOP_OF(T, PREFIX, name, args)                                   \
    VALUE_LOOP_AS(T, PREFIX, AS_DOUBLE, AS_##T, name, args)
#define VALUE_LOOP_AS(T, PREFIX, LOAD, STORE, name, args)                      \
    static inline __attribute__((always_inline)) void PREFIX##_block_##name(  \
        const T *restrict x, T *restrict y, const double *restrict p)          \
    {                                                                          \
        _Pragma("omp simd") for (int i = 0; i < BLOCK; i++)                    \
        {                                                                      \
            const double v = LOAD(x[i]);                                       \
            y[i] = STORE(XACT_NAME(name) args);                                    \
        }                                                                      \
    }                                                                          \
    XACT_LOOP_CLONES XACT_LOOP_OPTIMIZE static void PREFIX##_##name(           \
        const void *xv, void *yv,                                              \
                                            Py_ssize_t n, const double *p)    \
    {                                                                          \
        const T *x = xv;                                                       \
        T *y = yv;                                                             \
        Py_ssize_t full = n - n % BLOCK;                                       \
        for (Py_ssize_t i = 0; i < full; i += BLOCK)                           \
            PREFIX##_block_##name(x + i, y + i, p);                            \
        if (full < n) {                                                        \
            T xs[BLOCK] = {0}, ys[BLOCK];                                      \
            memcpy(xs, x + full, (size_t)(n - full) * sizeof(T));              \
            PREFIX##_block_##name(xs, ys, p);                                  \
            memcpy(y + full, ys, (size_t)(n - full) * sizeof(T));              \
        }                                                                      \
    }

#define VJP_LOOP_OF(T, PREFIX, name, args)                                     \
    VJP_LOOP_AS(T, PREFIX, AS_DOUBLE, AS_##T, name, args)
#define VJP_LOOP_AS(T, PREFIX, LOAD, STORE, name, args)                        \
    static inline __attribute__((always_inline)) void PREFIX##_block_##name(  \
        const T *restrict x, const T *restrict g, T *restrict y,               \
        const double *restrict p)                                              \
    {                                                                          \
        _Pragma("omp simd") for (int i = 0; i < BLOCK; i++)                    \
        {                                                                      \
            const double v = LOAD(x[i]), d = LOAD(g[i]);                       \
            y[i] = STORE(XACT_NAME(name) args);                                    \
        }                                                                      \
    }                                                                          \
    XACT_LOOP_CLONES XACT_LOOP_OPTIMIZE static void PREFIX##_##name(           \
        const void *xv, const void *gv,                                        \
                                            void *yv, Py_ssize_t n,           \
                                            const double *p)                  \
    {                                                                          \
        const T *x = xv, *g = gv;                                              \
        T *y = yv;                                                             \
        Py_ssize_t full = n - n % BLOCK;                                       \
        for (Py_ssize_t i = 0; i < full; i += BLOCK)                           \
            PREFIX##_block_##name(x + i, g + i, y + i, p);                     \
        if (full < n) {                                                        \
            T xs[BLOCK] = {0}, gs[BLOCK] = {0}, ys[BLOCK];                     \
            memcpy(xs, x + full, (size_t)(n - full) * sizeof(T));              \
            memcpy(gs, g + full, (size_t)(n - full) * sizeof(T));              \
            PREFIX##_block_##name(xs, gs, ys, p);                              \
            memcpy(y + full, ys, (size_t)(n - full) * sizeof(T));              \
        }                                                                      \
    }

#define AS_DOUBLE(a) ((double)(a))
#define AS_float(a) ((float)(a))
#define AS_double(a) (a)

#define VALUE_LOOP(name, args) VALUE_LOOP_OF(float, value, name, args)
#define VALUE16_LOOP(name, args)                                               \
    VALUE_LOOP_AS(half_bits, value16, HALF_TO_DOUBLE, DOUBLE_TO_HALF, name, args)
#define VALUEBF16_LOOP(name, args)                                             \
    VALUE_LOOP_AS(half_bits, valuebf16, BFLOAT16_TO_DOUBLE, DOUBLE_TO_BFLOAT16, \
                  name, args)
#define VJP_LOOP(name, args) VJP_LOOP_OF(float, vjp, name, args)
#define VALUE64_LOOP(name, args) VALUE_LOOP_OF(double, value64, name, args)
#define VJP64_LOOP(name, args) VJP_LOOP_OF(double, vjp64, name, args)

#define XACT_LOOP_CLONES XACT_CLONES
XACT_VALUE_KERNELS(VALUE_LOOP)
XACT_VJP_KERNELS(VJP_LOOP)
XACT_VALUE64_KERNELS(VALUE64_LOOP)
XACT_VJP64_KERNELS(VJP64_LOOP)
XACT_VALUE_KERNELS(VALUE16_LOOP)
XACT_VALUE_KERNELS(VALUEBF16_LOOP)

/* The float64 kernels a second time, TwoProduct's error by a fused
 * multiply-add (two instructions where Dekker's split takes seventeen; the
 * same bits wherever Dekker's product is exact, which the formulas keep
 * to), for CPUs with FMA (x86-64-v3 and v4; the default clone is never
 * chosen): the module takes these tables when the CPU has them
 * (fused_product). */
#if defined(XACT_TARGET_CLONES)
#define XACT_FUSED_PRODUCT 1
#undef XACT_NAME
#define XACT_NAME(name) xact_fused_##name
#undef XACT_PRODUCT_ERROR
#define XACT_PRODUCT_ERROR(a, b, p) __builtin_fma(a, b, -(p))
#include "kernels.h"
#undef XACT_LOOP_CLONES
#define XACT_LOOP_CLONES                                                       \
    __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#define VALUE64_FUSED_LOOP(name, args) VALUE_LOOP_OF(double, value64f, name, args)
#define VJP64_FUSED_LOOP(name, args) VJP_LOOP_OF(double, vjp64f, name, args)
XACT_VALUE64_KERNELS(VALUE64_FUSED_LOOP)
XACT_VJP64_KERNELS(VJP64_FUSED_LOOP)
#undef XACT_NAME
#define XACT_NAME(name) xact_##name
#endif

/* the softmax family: rows [start, stop) of a contiguous (rows, n) array,
 * n results a row (ROW_ELEMENTS) or one (ROW_ONE: logsumexp) */
typedef void (*row_loop)(const void *, const unsigned char *, void *, Py_ssize_t,
                         Py_ssize_t, Py_ssize_t);

#define ROW_ELEMENTS n
#define ROW_ONE 1
#define ROW_LOOP_OF(T, PREFIX, name, outputs)                                  \
    XACT_CLONES XACT_ROWS_OPTIMIZE static void PREFIX##_##name(const void *xv,                   \
                                            const unsigned char *w, void *yv, \
                                            Py_ssize_t n, Py_ssize_t start,   \
                                            Py_ssize_t stop)                  \
    {                                                                          \
        const T *x = xv;                                                       \
        T *y = yv;                                                             \
        for (Py_ssize_t r = start; r < stop; r++)                              \
            xact_##name(x + r * n, w ? w + r * n : NULL, y + r * (outputs),    \
                        (long)n);                                              \
    }
#define ROW_LOOP(name, outputs) ROW_LOOP_OF(float, rows, name, outputs)
#define ROW64_LOOP(name, outputs) ROW_LOOP_OF(double, rows64, name, outputs)

XACT_ROW_KERNELS(ROW_LOOP)
XACT_ROW64_KERNELS(ROW64_LOOP)

/* their backward passes: rows [start, stop) of the output y and gradient d */
typedef void (*row_vjp_loop)(const void *, const void *, void *, Py_ssize_t,
                             Py_ssize_t, Py_ssize_t);

#define ROW_VJP_LOOP_OF(T, PREFIX, name)                                       \
    XACT_CLONES XACT_ROWS_OPTIMIZE static void PREFIX##_##name(const void *yv, const void *dv,    \
                                            void *ov, Py_ssize_t n,           \
                                            Py_ssize_t start, Py_ssize_t stop) \
    {                                                                          \
        const T *y = yv, *d = dv;                                              \
        T *o = ov;                                                             \
        for (Py_ssize_t r = start; r < stop; r++)                              \
            xact_##name(y + r * n, d + r * n, o + r * n, (long)n);             \
    }
#define ROW_VJP_LOOP(name) ROW_VJP_LOOP_OF(float, rows_vjp, name)
#define ROW_VJP64_LOOP(name) ROW_VJP_LOOP_OF(double, rows_vjp64, name)

XACT_ROW_VJP_KERNELS(ROW_VJP_LOOP)
XACT_ROW_VJP64_KERNELS(ROW_VJP64_LOOP)

#define VALUE_ENTRY(name, args) value_##name,
#define VJP_ENTRY(name, args) vjp_##name,
#define VALUE64_ENTRY(name, args) value64_##name,
#define VALUE16_ENTRY(name, args) value16_##name,
#define VALUEBF16_ENTRY(name, args) valuebf16_##name,
#define VJP64_ENTRY(name, args) vjp64_##name,
#define NAME_ENTRY(name, args) #name,

#define ROW_ENTRY(name, outputs) rows_##name,
#define ROW64_ENTRY(name, outputs) rows64_##name,
#define ROW_NAME(name, outputs) #name,
#define ROW_IS_ROW_ELEMENTS 0
#define ROW_IS_ROW_ONE 1
#define ROW_REDUCES(name, outputs) ROW_IS_##outputs,
static const row_loop row_loops[] = {XACT_ROW_KERNELS(ROW_ENTRY)};
static const row_loop row64_loops[] = {XACT_ROW64_KERNELS(ROW64_ENTRY)};
static const char *row_names[] = {XACT_ROW_KERNELS(ROW_NAME)};
static const char *row64_names[] = {XACT_ROW64_KERNELS(ROW_NAME)};
static const int row_reduces[] = {XACT_ROW_KERNELS(ROW_REDUCES)};
#define ROW_VJP_ENTRY(name) rows_vjp_##name,
#define ROW_VJP64_ENTRY(name) rows_vjp64_##name,
#define ROW_VJP_NAME(name) #name,
static const row_vjp_loop row_vjp_loops[] = {XACT_ROW_VJP_KERNELS(ROW_VJP_ENTRY)};
static const row_vjp_loop row_vjp64_loops[] = {XACT_ROW_VJP64_KERNELS(ROW_VJP64_ENTRY)};
static const char *row_vjp_names[] = {XACT_ROW_VJP_KERNELS(ROW_VJP_NAME)};
static const char *row_vjp64_names[] = {XACT_ROW_VJP64_KERNELS(ROW_VJP_NAME)};
static const int row64_reduces[] = {XACT_ROW64_KERNELS(ROW_REDUCES)};
static const value_loop value_loops[] = {XACT_VALUE_KERNELS(VALUE_ENTRY)};
static const vjp_loop vjp_loops[] = {XACT_VJP_KERNELS(VJP_ENTRY)};
static const char *value_names[] = {XACT_VALUE_KERNELS(NAME_ENTRY)};
static const char *vjp_names[] = {XACT_VJP_KERNELS(NAME_ENTRY)};
static const value_loop value64_loops[] = {XACT_VALUE64_KERNELS(VALUE64_ENTRY)};
static const vjp_loop vjp64_loops[] = {XACT_VJP64_KERNELS(VJP64_ENTRY)};
#if defined(XACT_FUSED_PRODUCT)
#define VALUE64_FUSED_ENTRY(name, args) value64f_##name,
#define VJP64_FUSED_ENTRY(name, args) vjp64f_##name,
static const value_loop value64_fused_loops[] = {
    XACT_VALUE64_KERNELS(VALUE64_FUSED_ENTRY)};
static const vjp_loop vjp64_fused_loops[] = {XACT_VJP64_KERNELS(VJP64_FUSED_ENTRY)};
#endif
/* the float64 tables in use: the fused ones where the CPU has FMA */
static const value_loop *value64_table = value64_loops;
static const vjp_loop *vjp64_table = vjp64_loops;
static const value_loop value16_loops[] = {XACT_VALUE_KERNELS(VALUE16_ENTRY)};
static const value_loop valuebf16_loops[] = {XACT_VALUE_KERNELS(VALUEBF16_ENTRY)};
static const char *value64_names[] = {XACT_VALUE64_KERNELS(NAME_ENTRY)};
static const char *vjp64_names[] = {XACT_VJP64_KERNELS(NAME_ENTRY)};
#define COUNT(table) ((int)(sizeof(table) / sizeof((table)[0])))

static int check_index(int index, int count)
{
    if (index < 0 || index >= count) {
        PyErr_Format(PyExc_IndexError, "xact._run.kernels._cpu: no kernel %d", index);
        return -1;
    }
    return 0;
}

/* 0 <= start <= stop <= the elements (of itemsize bytes) of every buffer */
static int check_range(Py_ssize_t start, Py_ssize_t stop, Py_buffer *buffers,
                       int count, Py_ssize_t itemsize)
{
    for (int i = 0; i < count; i++) {
        if (start < 0 || stop < start || stop > buffers[i].len / itemsize) {
            PyErr_SetString(PyExc_ValueError,
                            "xact._run.kernels._cpu: range outside a buffer");
            return -1;
        }
    }
    return 0;
}

static void release(Py_buffer *buffers, int count)
{
    for (int i = 0; i < count; i++)
        PyBuffer_Release(&buffers[i]);
}

/* the kernel's arguments from a buffer of at most XACT_MAX_ARGUMENTS doubles
 * (native byte order), the rest zero */
static int read_arguments(const Py_buffer *buffer, double *p)
{
    if (buffer->len % (Py_ssize_t)sizeof(double) != 0 ||
        buffer->len > (Py_ssize_t)(XACT_MAX_ARGUMENTS * sizeof(double))) {
        PyErr_Format(PyExc_ValueError,
                     "xact kernels: the arguments must be at most %d doubles",
                     XACT_MAX_ARGUMENTS);
        return -1;
    }
    memset(p, 0, XACT_MAX_ARGUMENTS * sizeof(double));
    memcpy(p, buffer->buf, (size_t)buffer->len);
    return 0;
}

static PyObject *run_value(PyObject *args, const value_loop *loops, int count,
                           Py_ssize_t itemsize)
{
    int index;
    Py_buffer b[3];
    Py_ssize_t start, stop;
    double p[XACT_MAX_ARGUMENTS];
    if (!PyArg_ParseTuple(args, "iy*w*nny*", &index, &b[0], &b[1], &start, &stop,
                          &b[2]))
        return NULL;
    if (check_index(index, count) < 0 || check_range(start, stop, b, 2, itemsize) < 0 ||
        read_arguments(&b[2], p) < 0) {
        release(b, 3);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    loops[index]((const char *)b[0].buf + start * itemsize,
                 (char *)b[1].buf + start * itemsize, stop - start, p);
    Py_END_ALLOW_THREADS
    release(b, 3);
    Py_RETURN_NONE;
}

static PyObject *run_vjp(PyObject *args, const vjp_loop *loops, int count,
                         Py_ssize_t itemsize)
{
    int index;
    Py_buffer b[4];
    Py_ssize_t start, stop;
    double p[XACT_MAX_ARGUMENTS];
    if (!PyArg_ParseTuple(args, "iy*y*w*nny*", &index, &b[0], &b[1], &b[2], &start,
                          &stop, &b[3]))
        return NULL;
    if (check_index(index, count) < 0 || check_range(start, stop, b, 3, itemsize) < 0 ||
        read_arguments(&b[3], p) < 0) {
        release(b, 4);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    loops[index]((const char *)b[0].buf + start * itemsize,
                 (const char *)b[1].buf + start * itemsize,
                 (char *)b[2].buf + start * itemsize, stop - start, p);
    Py_END_ALLOW_THREADS
    release(b, 4);
    Py_RETURN_NONE;
}

static PyObject *value(PyObject *self, PyObject *args)
{
    return run_value(args, value_loops, COUNT(value_loops), sizeof(float));
}

static PyObject *vjp(PyObject *self, PyObject *args)
{
    return run_vjp(args, vjp_loops, COUNT(vjp_loops), sizeof(float));
}

static PyObject *value64(PyObject *self, PyObject *args)
{
    return run_value(args, value64_table, COUNT(value64_loops), sizeof(double));
}

static PyObject *value16(PyObject *self, PyObject *args)
{
    return run_value(args, value16_loops, COUNT(value16_loops), sizeof(half_bits));
}

static PyObject *valuebf16(PyObject *self, PyObject *args)
{
    return run_value(args, valuebf16_loops, COUNT(valuebf16_loops), sizeof(half_bits));
}

static PyObject *vjp64(PyObject *self, PyObject *args)
{
    return run_vjp(args, vjp64_table, COUNT(vjp64_loops), sizeof(double));
}

static PyObject *run_rows(PyObject *args, const row_loop *loops, const int *reduces,
                          int count, Py_ssize_t itemsize)
{
    int index;
    Py_buffer b[3];
    PyObject *mask;
    Py_ssize_t n, start, stop;
    if (!PyArg_ParseTuple(args, "iy*Ow*nnn", &index, &b[0], &mask, &b[2], &n, &start,
                          &stop))
        return NULL;
    int buffers = 2; /* b[0] and b[2]; b[1] is the mask, when there is one */
    b[1] = b[2];
    if (mask != Py_None) {
        if (PyObject_GetBuffer(mask, &b[1], PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&b[0]);
            PyBuffer_Release(&b[2]);
            return NULL;
        }
        buffers = 3;
    }
    int ok = check_index(index, count) == 0 && n >= 0 && start >= 0 && stop >= start;
    for (int i = 0; ok && i < 3; i++) {
        Py_ssize_t size = i == 1 ? 1 : itemsize;
        /* the output of a reduction holds one element a row */
        Py_ssize_t per_row = i == 2 && reduces[index] ? 1 : n;
        if (i == 1 && buffers == 2)
            continue;
        /* stop rows of per_row elements, without overflow */
        ok = per_row == 0 || stop <= b[i].len / size / per_row;
    }
    if (!ok && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "xact._run.kernels._cpu: rows outside a buffer");
    if (ok) {
        const unsigned char *w = buffers == 3 ? (const unsigned char *)b[1].buf : NULL;
        Py_BEGIN_ALLOW_THREADS
        loops[index](b[0].buf, w, b[2].buf, n, start, stop);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&b[0]);
    PyBuffer_Release(&b[2]);
    if (buffers == 3)
        PyBuffer_Release(&b[1]);
    if (!ok)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *rows(PyObject *self, PyObject *args)
{
    return run_rows(args, row_loops, row_reduces, COUNT(row_loops), sizeof(float));
}

static PyObject *rows64(PyObject *self, PyObject *args)
{
    return run_rows(args, row64_loops, row64_reduces, COUNT(row64_loops),
                    sizeof(double));
}

static PyObject *run_rows_vjp(PyObject *args, const row_vjp_loop *loops, int count,
                              Py_ssize_t itemsize)
{
    int index;
    Py_buffer b[3];
    Py_ssize_t n, start, stop;
    if (!PyArg_ParseTuple(args, "iy*y*w*nnn", &index, &b[0], &b[1], &b[2], &n, &start,
                          &stop))
        return NULL;
    int ok = check_index(index, count) == 0 && n >= 0 && start >= 0 && stop >= start;
    /* stop rows of n elements in every buffer, without overflow */
    for (int i = 0; ok && i < 3; i++)
        ok = n == 0 || stop <= b[i].len / itemsize / n;
    if (!ok && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "xact._run.kernels._cpu: rows outside a buffer");
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        loops[index](b[0].buf, b[1].buf, b[2].buf, n, start, stop);
        Py_END_ALLOW_THREADS
    }
    release(b, 3);
    if (!ok)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *rows_vjp(PyObject *self, PyObject *args)
{
    return run_rows_vjp(args, row_vjp_loops, COUNT(row_vjp_loops), sizeof(float));
}

static PyObject *rows_vjp64(PyObject *self, PyObject *args)
{
    return run_rows_vjp(args, row_vjp64_loops, COUNT(row_vjp64_loops), sizeof(double));
}

static PyObject *names(const char **table, int count)
{
    PyObject *result = PyTuple_New(count);
    for (int i = 0; result != NULL && i < count; i++) {
        PyObject *name = PyUnicode_FromString(table[i]);
        if (name == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(result, i, name);
    }
    return result;
}

static const char *instruction_set(void)
{
#if defined(XACT_TARGET_CLONES)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return "avx512";
    if (__builtin_cpu_supports("avx2"))
        return "avx2";
#endif
    return "baseline";
}

/* whether this build has the fused tables and this CPU runs them */
static int fused_available(void)
{
#if defined(XACT_FUSED_PRODUCT)
    __builtin_cpu_init();
    return __builtin_cpu_supports("x86-64-v3");
#else
    return 0;
#endif
}

static void use_fused(int fused)
{
#if defined(XACT_FUSED_PRODUCT)
    value64_table = fused ? value64_fused_loops : value64_loops;
    vjp64_table = fused ? vjp64_fused_loops : vjp64_loops;
#else
    (void)fused;
#endif
}

static PyObject *fused_product(PyObject *self, PyObject *args)
{
    int fused = -1;
    if (!PyArg_ParseTuple(args, "|p", &fused))
        return NULL;
    int previous = value64_table != value64_loops;
    if (fused == 1 && !fused_available()) {
        PyErr_SetString(PyExc_ValueError, "xact._run.kernels._cpu.fused_product: "
                                          "this build or CPU has no fused tables");
        return NULL;
    }
    if (fused >= 0)
        use_fused(fused);
    return PyBool_FromLong(previous);
}

static PyMethodDef methods[] = {
    {"fused_product", fused_product, METH_VARARGS,
     "fused_product([use]) -> bool: whether the float64 kernels take TwoProduct's\n"
     "error by a fused multiply-add (the same bits as Dekker's split wherever\n"
     "that is exact); with a bool, switch to those tables or back first\n"
     "(True where this build and CPU have them)"},
    {"value", value, METH_VARARGS,
     "value(index, x, y, start, stop, arguments): y[start:stop] = f(x[start:stop])\n"
     "on contiguous float32 buffers"},
    {"rows", rows, METH_VARARGS,
     "rows(index, x, where, y, n, start, stop): rows [start, stop) of contiguous\n"
     "(rows, n) float32 buffers; where is None or a bool buffer of the same shape;\n"
     "y holds n results a row, or one for a reduction (logsumexp)"},
    {"rows_vjp", rows_vjp, METH_VARARGS,
     "rows_vjp(index, y, d, out, n, start, stop): the backward pass of rows\n"
     "[start, stop) from contiguous (rows, n) float32 output and gradient"},
    {"rows_vjp64", rows_vjp64, METH_VARARGS,
     "rows_vjp64(index, y, d, out, n, start, stop): the same on float64"},
    {"rows64", rows64, METH_VARARGS,
     "rows64(index, x, where, y, n, start, stop): rows on float64 buffers"},
    {"value64", value64, METH_VARARGS,
     "value64(index, x, y, start, stop, arguments): value on float64 buffers"},
    {"value16", value16, METH_VARARGS,
     "value16(index, x, y, start, stop, arguments): value on float16 bit patterns,\n"
     "computed in float64 and rounded once (the float32 kernels' indices)"},
    {"valuebf16", valuebf16, METH_VARARGS,
     "valuebf16(index, x, y, start, stop, arguments): the same for bfloat16"},
    {"vjp64", vjp64, METH_VARARGS,
     "vjp64(index, x, d, y, start, stop, arguments): vjp on float64 buffers"},
    {"vjp", vjp, METH_VARARGS,
     "vjp(index, x, d, y, start, stop, arguments): y = d * f'(x) on [start, stop)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cpu",
    "xact's compiled CPU kernels (see xact._run.kernels)", -1, methods,
};

PyMODINIT_FUNC PyInit__cpu(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObject(m, "VALUES", names(value_names, COUNT(value_names))) < 0 ||
        PyModule_AddObject(m, "VJPS", names(vjp_names, COUNT(vjp_names))) < 0 ||
        PyModule_AddObject(m, "VALUES64", names(value64_names, COUNT(value64_names))) < 0 ||
        PyModule_AddObject(m, "VJPS64", names(vjp64_names, COUNT(vjp64_names))) < 0 ||
        PyModule_AddObject(m, "ROWS", names(row_names, COUNT(row_names))) < 0 ||
        PyModule_AddObject(m, "ROWS64", names(row64_names, COUNT(row64_names))) < 0 ||
        PyModule_AddObject(m, "ROW_VJPS",
                           names(row_vjp_names, COUNT(row_vjp_names))) < 0 ||
        PyModule_AddObject(m, "ROW_VJPS64",
                           names(row_vjp64_names, COUNT(row_vjp64_names))) < 0 ||
        PyModule_AddStringConstant(m, "INSTRUCTION_SET", instruction_set()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    use_fused(fused_available());
    return m;
}
