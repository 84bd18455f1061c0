"""/v1/examples: the example workflows of the server's examples folder, for the editor's
menu, each served as its file holds it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status
from fastapi import Path as PathParam

from web.checked_route import CheckedRoute
from web.deps import SettingsDep
from web.errors import shown_id
from web.responses import errors
from web.schemas import ExamplePublic, ExamplesPublic

router = APIRouter(prefix="/v1", tags=["examples"], route_class=CheckedRoute)

ExampleName = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                       description="The example's file name without .json")]


@router.get("/examples", response_model=ExamplesPublic)
async def list_examples(settings: SettingsDep) -> ExamplesPublic:
    """The example workflows, by file name."""
    data = [summary for path in _files(settings.examples_dir)
            if (summary := _summary(path)) is not None]
    return ExamplesPublic(data=data, count=len(data))


@router.get("/examples/{name}", response_model=dict[str, Any], responses=errors(404, 422))
async def get_example(name: ExampleName, settings: SettingsDep) -> dict[str, Any]:
    """One example workflow in flowc's JSON format."""
    path = settings.examples_dir / f"{name}.json"
    if path not in _files(settings.examples_dir):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no example {shown_id(name)}")
    source = _read(path)
    if source is None:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR,
                            detail=f"example {name!r} is not a JSON object: fix {path.name}")
    return source


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _read(path: Path) -> dict[str, Any] | None:
    """The example's JSON object; None when the file is unreadable or not one."""
    try:
        source = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return source if isinstance(source, dict) else None


def _summary(path: Path) -> ExamplePublic | None:
    source = _read(path)
    if source is None:
        return None
    return ExamplePublic(name=path.stem, title=str(source.get("name", path.stem)),
                         description=str(source.get("description", "")))
