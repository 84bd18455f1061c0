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


StoreDep = Annotated[Store, Depends(get_store)]
EngineDep = Annotated[EngineAPI, Depends(get_engine)]
RunsDep = Annotated[RunManager, Depends(get_runs)]
PlansDep = Annotated[PlanCache, Depends(get_plans)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TokenizerDep = Annotated[Any, Depends(get_tokenizer)]


_bearer = HTTPBearer(auto_error=False, description="the key given to flowc serve")


def bearer_auth(api_key: str):
    """A dependency that admits only `Authorization: Bearer <api_key>`."""
    expected = api_key.encode()

    def require_api_key(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        token = credentials.credentials.encode() if credentials else b""
        if not secrets.compare_digest(token, expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing or wrong API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_api_key
