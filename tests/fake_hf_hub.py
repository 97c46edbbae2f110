"""A stand-in for the Hugging Face Hub on loopback, serving one small repository, for the prefetch Job.

Only what ``huggingface_hub.snapshot_download`` asks for (huggingface_hub 1.31): the repository's
revision (``/api/models/<repo>/revision/<rev>``), its file tree (``/api/models/<repo>/tree/<rev>``), and
each file by ``/<repo>/resolve/<rev>/<file>`` with the commit, ETag and size headers the Hub sends.
"""

from __future__ import annotations

import hashlib
import json
import re
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class _Handler(BaseHTTPRequestHandler):
    server: "FakeHfHub"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str], with_body: bool = True) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _json(self, body: Any) -> None:
        self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's name)
        self._file(with_body=False)

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        files = self.server.files
        if match := re.fullmatch(r"/api/models/(.+)/revision/([^/]+)", path):
            self.server.requested.append(match.group(1))
            self._json({"id": match.group(1), "modelId": match.group(1), "sha": COMMIT, "private": False,
                        "siblings": [{"rfilename": name} for name in files]})
        elif match := re.fullmatch(r"/api/models/(.+)/tree/([^/]+)(/.*)?", path):
            self._json([{"type": "file", "oid": hashlib.sha1(body).hexdigest(), "size": len(body), "path": name}
                        for name, body in files.items()])
        else:
            self._file(with_body=True)

    def _file(self, with_body: bool) -> None:
        match = re.fullmatch(r"/(.+)/resolve/([^/]+)/(.+)", self.path.split("?")[0])
        body = self.server.files.get(match.group(3)) if match else None
        if body is None:
            self._send(404, b"", {"X-Error-Code": "EntryNotFound"}, with_body)
            return
        if with_body:
            self.server.downloaded.append(match.group(3))
        self._send(200, body, {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha1(body).hexdigest()}"',
                               "Content-Type": "application/octet-stream"}, with_body)


class FakeHfHub(LoopbackServer):
    def __init__(self, files: dict[str, bytes]):
        super().__init__(_Handler)
        self.files = files
        self.requested: list[str] = []
        self.downloaded: list[str] = []
