"""``review``: mend the few wrong masks of a lesion run in a browser, or apply a file of decisions."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from medsegkit.cli import _common as common
from medsegkit.cli import console

HELP = {
    "run": "A lesion run folder: the output of cluster, self-train or predict with a lesion checkpoint.",
    "host": "Address to listen on. Only this machine can reach the default 127.0.0.1; another address lets other "
    "machines in (a warning is printed), the token still guarding every request.",
    "port": "Port to listen on (8765; 0: any free port).",
    "open": "Open the page in the default browser.",
    "reviewer": "Your name, saved with every decision and in the case records.",
    "apply": "Apply the decisions of this JSON-lines file (docs/review.md) instead of serving the page: for "
    "scripts and a second reviewer's file.",
}


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@common.handle_errors
def review(
    run: Annotated[Path, typer.Argument(help=HELP["run"])],
    host: Annotated[str, typer.Option(help=HELP["host"])] = "127.0.0.1",
    port: Annotated[int, typer.Option(help=HELP["port"], show_default=False)] = 8765,
    open_: Annotated[bool, typer.Option("--open/--no-open", help=HELP["open"])] = True,
    reviewer: Annotated[str | None, common.opt(HELP["reviewer"], "--reviewer")] = None,
    apply: Annotated[Path | None, common.opt(HELP["apply"], "--apply")] = None,
) -> None:
    """Show every image of a lesion run as a contact sheet, least confident first; open one to pick one of the
    masks the blind choice scored (keys 1-6), accept it (Enter), mark it as one no candidate fits (x) or click the
    lesion to build a new candidate. Every decision is saved at once in RUN/review/decisions.jsonl and applied to
    RUN/masks/ (the blind masks stay in masks-blind/); self-train, export and report then use them."""
    from medsegkit.errors import UsageError

    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {port}")
    if apply is not None:
        from medsegkit.lesion.review.run import apply_decisions

        counts = apply_decisions(run, apply, reviewer)
        console.out.print(
            f"decisions of {apply} applied to {run}: {counts['reviewed']} reviewed, {counts['excluded']} excluded, "
            f"{counts['blind']} blind of {counts['total']}"
        )
        return
    try:
        from medsegkit.lesion.review.server import serve
    except ImportError as exc:
        raise UsageError(
            f"review serves its page with starlette and uvicorn ({exc.name} is missing): "
            "pip install 'medsegkit[review]'"
        ) from None
    if not _loopback(host):
        console.err.print(
            f"[bold yellow]warning:[/] --host {host}: other machines can reach the review page; anyone with its "
            "address (token included) can change the masks",
            soft_wrap=True,
        )

    def announce(address: str) -> None:
        console.out.print(
            f"review of {run} at {address} (Ctrl+C stops; every decision is already saved)", soft_wrap=True
        )
        if open_:
            import webbrowser

            webbrowser.open(address)

    serve(run, host, port, reviewer, announce)


def register(app: typer.Typer) -> None:
    app.command("review")(review)
