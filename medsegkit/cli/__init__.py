"""The ``medsegkit`` command line: one module per verb group, assembled here.

Every verb parses its options, calls one library function and prints; see docs/architecture.md.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup, TyperOption

from medsegkit import __version__
from medsegkit.cli import (
    console,
    data,
    evaluate,
    export,
    fundus,
    lesion,
    plugins,
    predict,
    report,
    review,
    selftrain,
    source,
)
from medsegkit.cli._common import debugging

_display_type_rich = TyperOption.display_type_rich


def _flag_display_type(self: TyperOption, ctx: Any) -> str | None:
    """No ``<bool>`` type column for on/off flags such as ``--resume`` (they take no value)."""
    return None if self.is_flag else _display_type_rich(self, ctx)


TyperOption.display_type_rich = _flag_display_type  # type: ignore[method-assign]


class _App(TyperGroup):
    """Parser errors (a missing argument, a misspelt verb or option) are one ``error:`` line and exit 2,
    like every other expected failure, instead of a boxed panel."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            console.err.print("aborted")
            result = 1
        except Exception as exc:
            if not _parser_error(exc) or debugging():
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help was shown; nothing else to say
                message = exc.format_message()
                if message.strip():
                    console.err.print(message, markup=False, highlight=False)
            else:
                context = getattr(exc, "ctx", None)
                hint = f" (see `{context.command_path} --help`)" if context is not None else ""
                console.err.print(
                    f"[bold red]error:[/] {exc.format_message()}{hint}", markup=True, soft_wrap=True, highlight=False
                )
            if not standalone_mode:
                raise
            result = exc.exit_code
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else 0)
        return result


def _parser_error(exc: Exception) -> bool:
    """A usage error of the command-line parser (Typer ships its own copy of click's exceptions)."""
    return (
        isinstance(exc, typer.TyperException)
        and hasattr(exc, "format_message")
        and isinstance(getattr(exc, "exit_code", None), int)
    )


app = typer.Typer(
    name="medsegkit",
    cls=_App,
    help="Label-efficient medical image segmentation: prepare datasets, cluster lesions, adapt fundus models.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        console.out.print(f"medsegkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """medsegkit: good masks, honest numbers and pictures from few or no labels."""


for module in (data, lesion, selftrain, review, source, fundus, predict, evaluate, export, report):
    module.register(app)
app.add_typer(plugins.app, name="plugins")


def main() -> None:
    app()
