"""What travels from one step of a URL to the next: the job, the lease that makes the
chain the URL's current one, and what has been learnt of the URL so far. One typed
value with one JSON form, so no step rebuilds another's dict by hand."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.fetch import FetchResult
from pipeline.frontier import Lease
from pipeline.render import Decision
from pipeline.store import Item


@dataclass(frozen=True)
class Payload:
    """The fetch result, then (after parsing) the title, outlinks and, for a job with
    extractors, its items (None for a job without); `text` is the page body the parse
    step reads and drops."""

    job: str
    lease: Lease
    result: FetchResult
    title: str | None = None
    outlinks: list[str] = field(default_factory=list)
    items: list[Item] | None = None
    extract_error: str | None = None
    # Whether the page goes to the browser and why; None: its host never renders (or it
    # is no whole HTML page).
    render: Decision | None = None
    # Seconds the page took in the browser; None: not rendered.
    render_time: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "lease": self.lease.to_json(),
            "result": self.result.to_json(),
            "title": self.title,
            "outlinks": self.outlinks,
            "items": None if self.items is None else [[item.extractor, item.data] for item in self.items],
            "extract_error": self.extract_error,
            "render": None if self.render is None else self.render.to_json(),
            "render_time": self.render_time,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Payload:
        return cls(
            job=data["job"],
            lease=Lease.from_json(data["lease"]),
            result=FetchResult.from_json(data["result"]),
            title=data.get("title"),
            outlinks=list(data.get("outlinks") or []),
            items=None if data.get("items") is None else [Item(name, item) for name, item in data["items"]],
            extract_error=data.get("extract_error"),
            render=None if data.get("render") is None else Decision.from_json(data["render"]),
            render_time=data.get("render_time"),
        )

    def parsed(self, title: str | None, outlinks: list[str], error: str | None = None) -> Payload:
        """The payload after parsing: the text is dropped, it is not needed any more."""
        result = replace(self.result, text=None, headers=None, error=error or self.result.error)
        return replace(self, result=result, title=title, outlinks=outlinks)

    def rendered(self, html: str | None, elapsed: float, error: str | None = None,
                 render: Decision | None = None) -> Payload:
        """The payload with the DOM the browser built in place of the fetched text (and
        `render`, a sample's decision with its evidence, in place of the one it came
        with); a render that failed makes the page a failure, with the reason."""
        result = replace(self.result, text=html, error=error or self.result.error)
        return replace(self, result=result, render=render or self.render, render_time=elapsed)
