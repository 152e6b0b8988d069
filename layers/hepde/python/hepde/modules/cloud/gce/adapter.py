"""The Compute Engine adapter: ``instances.aggregatedList`` over HTTPS, every page."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

from hepde.modules.cloud.common import ProviderError
from hepde.modules.cloud.http import HttpClient

COMPUTE_ENDPOINT = "https://compute.googleapis.com/compute/v1"


class ComputeAdapter:
    """Reads the instances of one project; takes its HTTP client and token provider."""

    def __init__(
        self,
        http: HttpClient,
        token: Any,
        project: str,
        *,
        endpoint: str = COMPUTE_ENDPOINT,
        page_size: int = 500,
        max_pages: int = 1000,
    ) -> None:
        self.http, self.tokens, self.project = http, token, project
        self.endpoint = endpoint.rstrip("/")
        self.page_size, self.max_pages = page_size, max_pages

    def aggregated_pages(self) -> Iterator[dict[str, Any]]:
        """Each page of ``GET .../projects/{project}/aggregated/instances``."""
        base = f"{self.endpoint}/projects/{urllib.parse.quote(self.project)}/aggregated/instances"
        token: str | None = None
        for _ in range(self.max_pages):
            query = {"maxResults": str(self.page_size)}
            if token:
                query["pageToken"] = token
            page = self.http.get_json(
                f"{base}?{urllib.parse.urlencode(query)}",
                headers={"Authorization": f"Bearer {self.tokens.token()}"},
            )
            if not isinstance(page, dict):
                raise ProviderError(f"{base}: expected a JSON object, got {type(page).__name__}")
            yield page
            token = page.get("nextPageToken")
            if not token:
                return
        raise ProviderError(f"{base}: more than {self.max_pages} pages; stopping")

    def instances(self) -> Iterator[dict[str, Any]]:
        for page in self.aggregated_pages():
            for scoped in (page.get("items") or {}).values():
                yield from (scoped or {}).get("instances", [])
