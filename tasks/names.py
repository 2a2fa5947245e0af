"""Task and queue names, written once: configuration, routing and the tasks all use these."""

FETCH, PARSE, STORE, DISPATCH = "crawler.fetch", "crawler.parse", "crawler.store", "crawler.dispatch"
RENDER = "crawler.render"
QUEUES = {FETCH: "fetch", RENDER: "render", PARSE: "parse", STORE: "store", DISPATCH: "store"}
