"""The review page's web server (Starlette under uvicorn, the optional ``review`` extra).

Safety, as Jupyter does it: the server binds 127.0.0.1 unless told otherwise; every request must carry the
random token printed with the page's address (``?token=`` or the ``X-Review-Token`` header); a case name is
looked up in the run's own list and never reaches the file system; request bodies are limited to ``MAX_BODY``
bytes; a bad request is answered with a 4xx status and a one-line reason and never stops the server.

Routes: ``/`` the page; ``/api/cases`` every case in review order with its state and the counts;
``/api/cases/{case}`` one case (candidates, state); ``POST /api/cases/{case}`` a decision (JSON: ``action``,
``candidate``, ``point``); ``POST /api/undo`` takes back the latest decision; ``/img/{case}.jpg``,
``/thumb/{case}.jpg``, ``/candidate/{case}/{number}.jpg`` the pictures.
"""

from __future__ import annotations

import hmac
import json
import secrets
import signal
import socket
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from medsegkit.errors import MedsegkitError, UsageError
from medsegkit.lesion.review.decisions import parse
from medsegkit.lesion.review.run import ReviewRun
from medsegkit.lesion.review.view import CaseViews
from medsegkit.runtime.lock import run_lock

MAX_BODY = 4096


class BadRequest(Exception):
    """A request the server refuses: ``status`` and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def case_summary(run: ReviewRun, name: str) -> dict[str, Any]:
    case, state = run.case(name), run.state(name)
    return {
        "case": name,
        "confidence": case.record.get("confidence"),
        "candidates": max(1, len(case.candidates)),
        "scores": [c.get("score") for c in case.candidates],
        "state": asdict(state),
    }


def create_app(run: ReviewRun, token: str) -> Starlette:
    """The Starlette application serving ``run``, answering only requests that carry ``token``."""
    views = CaseViews(run)
    page = resources.files("medsegkit.lesion.review").joinpath("static/review.html").read_text(encoding="utf-8")

    def check(request: Request) -> None:
        given = request.query_params.get("token") or request.headers.get("x-review-token") or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise BadRequest(403, "a missing or wrong token; open the address the server printed")

    async def body(request: Request) -> dict[str, Any]:
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            raise BadRequest(413, f"request body over {MAX_BODY} bytes")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise BadRequest(413, f"request body over {MAX_BODY} bytes")
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise BadRequest(400, "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise BadRequest(400, "the request body is not a JSON object")
        return data

    def jpeg(data: bytes) -> Response:
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def index(request: Request) -> Response:
        check(request)
        return HTMLResponse(page)

    async def cases(request: Request) -> Response:
        check(request)
        listed = [case_summary(run, name) for name in run.order]
        return JSONResponse({"run": str(run.root), "cases": listed, "counts": run.counts()})

    async def one(request: Request) -> Response:
        check(request)
        name = request.path_params["case"]
        if request.method == "POST":
            data = await body(request)
            decision = parse({**data, "case": run.case(name).name}, "request")
            await run_in_threadpool(run.decide, decision)
        return JSONResponse({**case_summary(run, name), "counts": run.counts()})

    async def undo(request: Request) -> Response:
        check(request)
        await body(request)
        name = await run_in_threadpool(run.undo_latest)
        if name is None:
            raise BadRequest(409, "nothing to undo")
        return JSONResponse({**case_summary(run, name), "counts": run.counts()})

    async def image(request: Request) -> Response:
        check(request)
        return jpeg(await run_in_threadpool(views.image, run.case(request.path_params["case"]).name))

    async def thumbnail(request: Request) -> Response:
        check(request)
        return jpeg(await run_in_threadpool(views.thumbnail, run.case(request.path_params["case"]).name))

    async def candidate(request: Request) -> Response:
        check(request)
        name, number = run.case(request.path_params["case"]).name, request.path_params["number"]
        return jpeg(await run_in_threadpool(views.candidate, name, number))

    async def refused(request: Request, exc: Exception) -> Response:
        if isinstance(exc, BadRequest):
            status = exc.status
        elif isinstance(exc, UsageError):
            status = 404 if str(exc).startswith("unknown case") else 400
        elif isinstance(exc, MedsegkitError):
            status = 422
        else:
            status = getattr(exc, "status_code", 500)
        reason = str(getattr(exc, "detail", None) or exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return JSONResponse({"error": reason}, status_code=status)

    routes = [
        Route("/", index),
        Route("/api/cases", cases),
        Route("/api/cases/{case}", one, methods=["GET", "POST"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/img/{case}.jpg", image),
        Route("/thumb/{case}.jpg", thumbnail),
        Route("/candidate/{case}/{number:int}.jpg", candidate),
    ]
    handlers = {BadRequest: refused, MedsegkitError: refused, HTTPException: refused, Exception: refused}
    return Starlette(routes=routes, exception_handlers=handlers)


def serve(
    root: Path, host: str = "127.0.0.1", port: int = 8765, reviewer: str | None = None, announce: Any = print
) -> None:
    """Serve the review page of run folder ``root`` until interrupted; refuses a second server on the run.
    ``announce`` is called once with the page's address (its token included) when the server listens."""
    import uvicorn

    token = secrets.token_urlsafe(16)
    with run_lock(root):
        run = ReviewRun(root, reviewer)  # replays the log: the run's files are the log's from here on
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})") from None
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        announce(f"http://{shown}:{bound}/?token={token}")
        config = uvicorn.Config(create_app(run, token), log_level="warning", access_log=False)
        previous = signal.signal(signal.SIGTERM, _stop)  # uvicorn raises the signal again once it has stopped
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:
            pass  # Ctrl+C or a terminate signal: every decision is already on disk; the lock goes below
        finally:
            signal.signal(signal.SIGTERM, previous)


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
