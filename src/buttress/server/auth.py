"""Bearer-token authentication and role checks for the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from buttress.catalog import tokens
from buttress.catalog.tokens import Principal, Role
from buttress.server.errors import ApiError

__all__ = ["Admin", "Operator", "Viewer", "require"]

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer bt_...`")


def require(role: Role) -> object:
    """A dependency that yields the caller's :class:`Principal` if its role allows ``role``."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        # the request gate has already authenticated the token before the body was read
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None and credentials is None:
            raise ApiError(
                401, "unauthorized", "missing API token: send 'Authorization: Bearer <token>'"
            )
        if principal is None and credentials is not None:
            with request.app.state.catalog.begin() as session:
                principal = tokens.authenticate(session=session, token=credentials.credentials)
        if principal is None:
            raise ApiError(401, "unauthorized", "invalid or revoked API token")
        request.state.principal = principal
        if not principal.role.allows(role):
            raise ApiError(
                403,
                "forbidden",
                f"this action needs the {role.value!r} role; token {principal.name!r} "
                f"has {principal.role.value!r}",
            )
        return principal

    return Depends(dependency)


Viewer = Annotated[Principal, require(Role.VIEWER)]
Operator = Annotated[Principal, require(Role.OPERATOR)]
Admin = Annotated[Principal, require(Role.ADMIN)]
