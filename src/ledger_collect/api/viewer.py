"""``me``: who the server takes the caller for, and what they may do (frontends hide what
the user cannot use; the server checks again anyway)."""

from __future__ import annotations

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.permissions import GRANTS, OWN, Role

strawberry.enum(Role, description="What a user is allowed to do is decided by their role.")


@strawberry.type(description="A permission of the viewer's role.")
class Grant:
    action: str
    only_own_segments: bool = strawberry.field(
        description="True when it holds only for customers of the viewer's segments.")


@strawberry.type(description="The authenticated user.")
class Viewer:
    id: str = strawberry.field(description="The token's subject; the actor of their commands.")
    role: Role
    segments: list[str]
    grants: list[Grant]


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="The authenticated user, their role, segments and grants.")
    def me(self, info: Info) -> Viewer:
        user = info.context.user
        grants = [Grant(action=action.value, only_own_segments=scope is OWN)
                  for action, scope in GRANTS[user.role].items()]
        return Viewer(id=user.id, role=user.role, segments=sorted(user.segments), grants=grants)
