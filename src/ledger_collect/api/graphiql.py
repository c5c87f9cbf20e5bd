"""GraphiQL, the in-browser editor served at ``/graphql`` in development mode, whole from the API.

Strawberry's own page loads React and GraphiQL from a CDN: without internet access (an
air-gapped site, a laptop on a train) it stays a blank "Loading...". Ours is the same page with
those files copied into the package (``static/graphiql``, their README says which and under
what licence) and served under ``/graphiql/static/``; the page names them by relative paths, so
it also works behind a proxy that serves the API under a prefix.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
ASSETS = HERE / "static" / "graphiql"
ASSETS_PATH = "/graphiql/static"


@cache
def page() -> str:
    """The GraphiQL page (read once)."""
    return (HERE / "graphiql.html").read_text(encoding="utf-8")


def assets() -> Mount:
    """The route serving the page's scripts and styles."""
    return Mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="graphiql-assets")
