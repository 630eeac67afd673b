"""What every verb shares: option aliases (declared once), error handling, progress reporting."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import track

from medsegkit.cli import console
from medsegkit.data.dataset import DATA_ENV
from medsegkit.errors import MedsegkitError

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

DataRootOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-root",
        help=f"Folder holding prepared datasets by name. Default: ${DATA_ENV}, else ./data.",
        show_default=False,
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option(
        help="Torch device: auto (CUDA when available, else CPU), cpu, cuda or cuda:N; the one used is saved "
        "with the outputs."
    ),
]
SeedOpt = Annotated[int | None, typer.Option(help="Random seed (default in the config: 0).", show_default=False)]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML file with options (flat keys, e.g. lr = 0.2); flags override it.", show_default=False
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Any config option as key=value (see the docs of the verb); repeatable; overrides --config.",
        show_default=False,
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        help="Torch threads of this process. Default: $OMP_NUM_THREADS, else the cores it owns, shared among the "
        "torchrun processes of the machine.",
        show_default=False,
    ),
]
ResumeOpt = Annotated[
    bool, typer.Option("--resume", help="Continue the run in --out from its last epoch (only --epochs may change).")
]


def opt(help_text: str, *names: str) -> Any:
    """An option whose help text states its default (taken from the config that owns it), or that has none."""
    return typer.Option(*names, help=help_text, show_default=False)


def out_option(default: str) -> Any:
    """``--out/-o`` with the verb's default folder in its help."""
    return typer.Option("--out", "-o", help=f"Output folder. Default: {default}.", show_default=False)


def debugging() -> bool:
    """``MEDSEGKIT_DEBUG=1``: show tracebacks instead of one-line errors."""
    return os.environ.get("MEDSEGKIT_DEBUG") == "1"


def handle_errors(fn: F) -> F:
    """Expected failures become one ``error:`` line on stderr and exit 1 (runtime) or 2 (usage).

    File-system failures (no permission, a full disk, a read-only folder) are expected too: they name the
    path. ``MEDSEGKIT_DEBUG=1`` shows the traceback instead.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (MedsegkitError, OSError) as exc:
            if debugging():
                raise
            code = exc.exit_code if isinstance(exc, MedsegkitError) else 1
            fail(_os_message(exc) if isinstance(exc, OSError) else str(exc), code)

    return wrapper  # type: ignore[return-value]


def _os_message(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "a file"
    return f"{where}: {exc.strerror or exc}"


def fail(message: str, code: int) -> None:
    console.err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def progress(description: str, transient: bool = False, every: float = 10.0) -> Callable[[Iterable[T]], Iterator[T]]:
    """A rich progress bar on stderr in a terminal; elsewhere (batch jobs, logs) plain lines: the first
    item, then at most one line every ``every`` seconds, and the last."""

    def plain(items: Iterable[T]) -> Iterator[T]:
        listed = list(items)
        start = last = time.monotonic()
        for i, item in enumerate(listed, 1):
            yield item
            now = time.monotonic()
            if i == 1 or i == len(listed) or now - last >= every:
                last = now
                console.err.print(
                    f"{description}: {i}/{len(listed)} done ({now - start:.0f} s)", markup=False, highlight=False
                )

    def bar(items: Iterable[T]) -> Iterator[T]:
        return iter(track(items, description=description, console=console.err, transient=transient))

    return bar if console.err.is_terminal else plain


def staged(items: Iterable[T], description: str) -> Iterator[T]:
    """Progress for library functions that name each of their stages."""
    return progress(description)(items)
