"""A site whose links are all made by scripts, for the render tests and the benchmark:
the home page builds its links from a JSON file it fetches, each article page its text
and links from a JSON of its own, and a single-page app under /app/ draws its routes with
pushState from one shell that the server answers for every /app/ path. Without a
browser the crawler sees only the home page's empty shell."""

from __future__ import annotations

import json

from tests.integration.site import NOT_FOUND, Host, Response

ARTICLES = 3
SPA_ROUTES = ("about", "contact")

HOME = """<html><head><title>Home</title></head><body><nav id="nav"></nav>
<script>
fetch('/links.json').then(r => r.json()).then(data => {
  for (const href of data.links) {
    const a = document.createElement('a'); a.href = href; a.textContent = href;
    document.getElementById('nav').appendChild(a);
  }
});
</script></body></html>"""

ARTICLE = """<html><head><title>Article {n}</title></head><body><main id="main"></main>
<script>
fetch('/articles/{n}.json').then(r => r.json()).then(data => {{
  const main = document.getElementById('main');
  main.textContent = data.text;
  for (const href of data.links) {{
    const a = document.createElement('a'); a.href = href; main.appendChild(a);
  }}
}});
</script></body></html>"""

APP = """<html><head><title>App</title></head><body><div id="view"></div>
<script>
const routes = {routes};
function draw() {{
  const name = location.pathname.replace(/^\\/app\\/?/, '') || 'home';
  document.title = 'App ' + name;
  const view = document.getElementById('view');
  view.textContent = 'Route ' + name;
  for (const route of Object.keys(routes)) {{
    const a = document.createElement('a'); a.href = '/app/' + route; a.textContent = route;
    a.addEventListener('click', event => {{ event.preventDefault(); history.pushState({{}}, '', a.href); draw(); }});
    view.appendChild(a);
  }}
}}
draw();
</script></body></html>"""


def article(n: int) -> dict[str, Response]:
    """Article `n`'s shell, and the JSON its script fills it from."""
    following = [f"/articles/{n + 1}"] if n < ARTICLES else ["/app/"]
    data = {"text": f"Article {n} text, fetched by a script.", "links": following}
    return {
        f"/articles/{n}": Response(body=ARTICLE.format(n=n)),
        f"/articles/{n}.json": Response(body=json.dumps(data), content_type="application/json"),
    }


def js_host(address: str = "127.0.0.1") -> Host:
    """The site on `address`, not started."""
    routes = {
        "/": Response(body=HOME),
        "/links.json": Response(body=json.dumps({"links": ["/articles/1"]}), content_type="application/json"),
        **{path: response for n in range(1, ARTICLES + 1) for path, response in article(n).items()},
    }
    host = Host(address, routes)
    shell = Response(body=APP.format(routes=json.dumps(dict.fromkeys(SPA_ROUTES, 1))))
    host.fallback = lambda path: shell if path.startswith("/app/") else NOT_FOUND
    return host


def pages(base: str) -> set[str]:
    """Every page a browser finds from the home page."""
    paths = ["/", *(f"/articles/{n}" for n in range(1, ARTICLES + 1)), "/app/", *(f"/app/{r}" for r in SPA_ROUTES)]
    return {base + path for path in paths}
