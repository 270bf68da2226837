"""Static assets (the pages' JS and CSS, Plotly.js from the installed ``plotly`` package, the
catalog's generated colours): versioned URLs cached for a year, gzip-compressed once in memory.

Plotly.js is 4.8 MB; compressed it is about 1.4 MB, and with a versioned URL a browser fetches it
once per Plotly release instead of revalidating it on every page.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import Request, Response

from ssl_core.contract import catalog

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PLOTLY_JS = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
FILES = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in (".js", ".css", ".svg")}
FILES["plotly.min.js"] = PLOTLY_JS
YEAR = 365 * 24 * 3600


def algorithms_css() -> str:
    """Each algorithm's colour as ``--c-<name>`` and its chip class, from the catalog."""
    colors = catalog.colors()
    variables = "".join(f"  --c-{name}: {color};\n" for name, color in colors.items())
    chips = "".join(f".algo-{name} {{ --chip: var(--c-{name}); }}\n" for name in colors)
    return f":root {{\n{variables}}}\n{chips}"


GENERATED = {"algorithms.css": algorithms_css}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # None when compression would not pay (tiny or already compressed)
    media_type: str
    version: str  # of the content: a new file gets a new URL


@lru_cache
def asset(name: str) -> Asset | None:
    if name in GENERATED:
        body = GENERATED[name]().encode()
    elif name in FILES:
        body = FILES[name].read_bytes()
    else:
        return None
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type in ("text/javascript", "application/javascript", "text/css", "image/svg+xml"):
        media_type += "; charset=utf-8" if not media_type.startswith("image") else ""
    gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) > 1024 else None
    return Asset(body, gzipped, media_type, hashlib.sha256(body).hexdigest()[:12])


def static_url(name: str) -> str:
    found = asset(name)
    if found is None:
        raise KeyError(f"no static asset {name!r}")
    return f"/static/{name}?v={found.version}"


def serve(name: str, request: Request) -> Response:
    """The asset, compressed when the browser accepts gzip; immutable for a year when the URL
    names the current version (an old version's URL revalidates instead)."""
    found = asset(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    current = request.query_params.get("v") == found.version
    headers = {
        "Cache-Control": f"public, max-age={YEAR}, immutable" if current else "no-cache",
        "ETag": f'"{found.version}"',
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    body = found.body
    if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body, headers["Content-Encoding"] = found.gzipped, "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=found.media_type)
    return Response(body, media_type=found.media_type, headers=headers)
