"""Dependencies of the route handlers, as `Annotated` aliases."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine.api import EngineAPI
from web.plans import PlanCache
from web.runs import RunManager
from web.services import Services
from web.settings import Settings
from web.store import Store


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_store(services: ServicesDep) -> Store:
    return services.store


def get_engine(services: ServicesDep) -> EngineAPI:
    return services.engine


def get_runs(services: ServicesDep) -> RunManager:
    return services.runs


def get_plans(services: ServicesDep) -> PlanCache:
    return services.plans


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_tokenizer(services: ServicesDep) -> Any:
    return services.tokenizer


def get_tool_names(services: ServicesDep) -> list[str]:
    return services.runs.runtime.tools.names()


StoreDep = Annotated[Store, Depends(get_store)]
EngineDep = Annotated[EngineAPI, Depends(get_engine)]
RunsDep = Annotated[RunManager, Depends(get_runs)]
PlansDep = Annotated[PlanCache, Depends(get_plans)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenizerDep = Annotated[Any, Depends(get_tokenizer)]
ToolNamesDep = Annotated[list[str], Depends(get_tool_names)]


_bearer = HTTPBearer(auto_error=False, description="the key given to flowc serve")


class KeyGuard:
    """A dependency that admits only `Authorization: Bearer <api_key>`. `CheckedRoute` also
    calls `check` before the body is read, so a request without the key costs no body."""

    def __init__(self, api_key: str) -> None:
        self.expected = api_key.encode()

    def __call__(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        self.check(credentials.credentials if credentials else "")

    def check(self, token: str) -> None:
        if not secrets.compare_digest(token.encode(), self.expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing or wrong API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def check_request(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        self.check(token.strip() if scheme.lower() == "bearer" else "")
