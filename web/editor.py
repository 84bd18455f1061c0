"""The web graph editor at `/`: the built single-page app of web/frontend (in web/static), or,
when it has not been built, a page that says how to build it. The API never depends on it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flowc: editor not built</title>
<style>body{font:16px system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem}
code,pre{background:#f3f3f3;padding:.1rem .3rem}</style></head>
<body><h1>The flowc editor is not built</h1>
<p>This server's API works (see <a href="/docs">/docs</a>), but the web graph editor has not
been built into <code>web/static/</code>. Build it with Node.js 20 and npm:</p>
<pre>make install</pre>
<p>or by hand:</p>
<pre>cd web/frontend &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>then reload this page.</p></body></html>
"""


def mount_editor(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the editor's page at `/` and its bundle under `/assets` (Vite's layout), so no
    API path is ever shadowed. The page and bundle are public; the API keeps its auth."""
    index = static_dir / "index.html"
    if index.is_file():
        app.mount("/assets", StaticFiles(directory=static_dir / "assets", check_dir=False),
                  name="editor-assets")

    @app.get("/", include_in_schema=False, response_model=None)
    async def editor() -> FileResponse | HTMLResponse:
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(NOT_BUILT, status_code=503)
