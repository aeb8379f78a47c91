"""Build xact's optional CPU kernels (``xact._run.kernels._cpu``).

Everything else is in pyproject.toml. The extension is optional: where it
cannot be built (no C compiler, another compiler than gcc or clang), pip
still installs xact, which then runs its generic Array API path (``xact
info`` says which). Before building, a probe compiles, links and runs a
small program to choose what this machine supports:

1. vector math from glibc's libmvec (``#pragma omp declare simd``; vector
   ``erfc``, ``expm1``, ``log1p``, ``tanh`` and ``hypot`` need glibc 2.35) in
   clones for
   baseline x86-64, AVX2 and AVX-512 chosen when the module loads
   (``target_clones``, which needs glibc's ifunc);
2. the same without clones (the baseline instruction set);
3. scalar libm calls (``XACT_SCALAR_MATH``).

Never ``-ffast-math``: it would switch the whole process to flush-to-zero.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

FLAGS = [
    "-O3",
    "-fopenmp-simd",  # the omp simd pragmas, without an OpenMP runtime
    "-fno-math-errno",  # exp & co. may be vectorized
    "-fno-trapping-math",  # where(c, a, b) may evaluate both sides
    "-ffp-contract=off",  # no fused multiply-add: every clone rounds alike
]

PROBE = r"""
#include <math.h>
#include <stdio.h>
#pragma omp declare simd notinbranch
double exp(double);
#pragma omp declare simd notinbranch
double erfc(double);
#pragma omp declare simd notinbranch
double expm1(double);
#pragma omp declare simd notinbranch
double log1p(double);
#pragma omp declare simd notinbranch
double tanh(double);
#pragma omp declare simd notinbranch
double hypot(double, double);
#ifdef XACT_TARGET_CLONES
__attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
#endif
static void loop(const float *x, float *y)
{
#pragma omp simd
    for (int i = 0; i < 64; i++)
        y[i] = (float)(exp(x[i]) + erfc(x[i]) + expm1(x[i]) + log1p(x[i]) + tanh(x[i])
                       + hypot(x[i], 0.0) - x[i]);
}
int main(void)
{
    float x[64], y[64];
    for (int i = 0; i < 64; i++)
        x[i] = (float)i / 64.0f;
    loop(x, y);
    /* at 0: 1 + 1 + 0 + 0 + 0 */
    return y[0] == 2.0f ? 0 : 1;
}
"""

CHOICES = (
    ("vector math, target clones", [("XACT_TARGET_CLONES", "1")], ["mvec", "m"]),
    ("vector math", [], ["mvec", "m"]),
    ("scalar math", [("XACT_SCALAR_MATH", "1")], ["m"]),
)


class BuildKernels(build_ext):
    """build_ext that probes the machine before it builds the kernels."""

    def build_extensions(self) -> None:
        for extension in self.extensions:
            for label, macros, libraries in CHOICES:
                if self._probe(macros, libraries):
                    print(f"xact kernels: {label}")
                    extension.define_macros += macros
                    extension.libraries += libraries
                    break
        super().build_extensions()

    def _probe(self, macros: list[tuple[str, str]], libraries: list[str]) -> bool:
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "probe.c"
            source.write_text(PROBE)
            try:
                objects = self.compiler.compile(
                    [str(source)],
                    output_dir=folder,
                    macros=macros,
                    extra_postargs=FLAGS,
                )
                program = str(Path(folder) / "probe")
                self.compiler.link_executable(objects, program, libraries=libraries)
                return subprocess.run([program], check=False).returncode == 0
            except Exception as error:  # a compiler or linker that said no
                print(f"xact kernels probe: {error}", file=sys.stderr)
                return False


KERNELS = Extension(
    "xact._run.kernels._cpu",
    sources=["src/xact/_run/kernels/cpu.c"],
    depends=["src/xact/_run/kernels/kernels.h", "src/xact/_run/kernels/halves.h"],
    extra_compile_args=FLAGS,
    optional=True,  # no compiler: xact installs and runs its generic path
)

setup(
    ext_modules=[] if os.environ.get("XACT_NO_KERNELS") == "1" else [KERNELS],
    cmdclass={"build_ext": BuildKernels},
)
