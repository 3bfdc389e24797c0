"""What the server says of itself: ``/health`` (the one route open without a credential), the
monitor's snapshot and Prometheus' metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from parley import __version__
from parley.server.state import StateDep

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get("/v1/monitor")
async def monitor(state: StateDep) -> dict[str, Any]:
    """The server's health as `parley monitor` and the page's Health panel show it."""
    if state.health is None:
        raise HTTPException(503, "the server is still starting")
    return state.health.snapshot()


@router.get("/metrics")
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
