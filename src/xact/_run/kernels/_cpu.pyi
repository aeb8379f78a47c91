# The compiled CPU kernels (cpu.c); built by pip install where a compiler is.
from typing_extensions import Buffer

VALUES: tuple[str, ...]
VJPS: tuple[str, ...]
ROWS: tuple[str, ...]
ROWS64: tuple[str, ...]
ROW_VJPS: tuple[str, ...]
ROW_VJPS64: tuple[str, ...]
VALUES64: tuple[str, ...]
VJPS64: tuple[str, ...]
INSTRUCTION_SET: str

def fused_product(use: bool = ..., /) -> bool: ...
def value(
    index: int, x: Buffer, y: Buffer, start: int, stop: int, arguments: Buffer, /
) -> None: ...
def vjp(
    index: int,
    x: Buffer,
    d: Buffer,
    y: Buffer,
    start: int,
    stop: int,
    arguments: Buffer,
    /,
) -> None: ...
def rows(
    index: int,
    x: Buffer,
    where: Buffer | None,
    y: Buffer,
    n: int,
    start: int,
    stop: int,
    /,
) -> None: ...
def rows64(
    index: int,
    x: Buffer,
    where: Buffer | None,
    y: Buffer,
    n: int,
    start: int,
    stop: int,
    /,
) -> None: ...
def rows_vjp(
    index: int, y: Buffer, d: Buffer, out: Buffer, n: int, start: int, stop: int, /
) -> None: ...
def rows_vjp64(
    index: int, y: Buffer, d: Buffer, out: Buffer, n: int, start: int, stop: int, /
) -> None: ...
def value64(
    index: int, x: Buffer, y: Buffer, start: int, stop: int, arguments: Buffer, /
) -> None: ...
def vjp64(
    index: int,
    x: Buffer,
    d: Buffer,
    y: Buffer,
    start: int,
    stop: int,
    arguments: Buffer,
    /,
) -> None: ...
