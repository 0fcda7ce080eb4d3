"""Role checks for the API. The token itself is authenticated by the request gate
(:mod:`buttress.server.gate`), before the body is read; the routes' dependencies here check the
principal it found against the role each route needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from buttress.catalog.tokens import Principal, Role
from buttress.platform.http import ApiError

__all__ = ["Admin", "Operator", "Viewer", "require"]

# declares the bearer scheme in the OpenAPI document (the gate is what checks the header)
_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer bt_...`")


def require(role: Role) -> object:
    """A dependency that yields the caller's :class:`Principal` if its role allows ``role``."""

    async def dependency(  # no I/O: the gate has looked the token up
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:  # a route the gate does not guard: refuse rather than serve it
            raise ApiError(
                401, "unauthorized", "missing API token: send 'Authorization: Bearer <token>'"
            )
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
