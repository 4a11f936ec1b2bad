"""JSON API under /api/v1 (bearer tokens for integrations, or the console session)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CsrfDep, CurrentStaff

router = APIRouter(prefix="/api/v1", tags=["api"], dependencies=[CsrfDep])


class Me(BaseModel):
    username: str
    display_name: str
    role: str


@router.get("/me", response_model=Me)
async def me(user: CurrentStaff) -> Me:
    """Who the caller is (staff session or integration token)."""
    return Me(username=user.username, display_name=user.display_name, role=user.role.value)
