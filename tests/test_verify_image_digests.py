"""scripts/verify-image-digests.py against a stand-in registry on loopback (no real registry is reached).

The stand-in is a hypothesis of the registry HTTP API v2 as the OCI distribution spec and Docker Hub's
token flow describe it: a manifest request without a token is answered 401 with a Bearer challenge, the
realm hands out an anonymous pull token for the challenge's scope, and a manifest is served as the media
type the Accept header allows (an index when asked for one, else the platform's manifest). The script's
parsing and decisions are what is tested; that real registries answer so is checked where they are
reachable, by the script itself in CI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from stack import versions
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _load_script():
    spec = importlib.util.spec_from_file_location("verify_image_digests", ROOT / "scripts" / "verify-image-digests.py")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


script = _load_script()


def _index(repository: str, tag: str) -> bytes:
    platforms = [{"architecture": arch, "os": "linux"} for arch in ("amd64", "arm64")]
    manifests = [{"mediaType": MANIFEST, "digest": "sha256:" + hashlib.sha256(f"{repository}{p}".encode()).hexdigest(),
                  "size": 1, "platform": p} for p in platforms]
    return json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests, "tag": tag}).encode()


def _manifest(repository: str, tag: str) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "tag": tag, "repository": repository}).encode()


class StandInRegistry(LoopbackServer):
    """Serves every repository and tag; `single_arch` repositories have no index, `lying` ones announce
    a digest their bytes do not hash to."""

    def __init__(self):
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.single_arch: set[str] = set()
        self.lying: set[str] = set()
        super().__init__(self._handler())

    def served(self, repository: str, tag: str) -> bytes:
        return (_manifest if repository in self.single_arch else _index)(repository, tag)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                registry.requests.append((self.path, dict(self.headers)))
                url = urllib.parse.urlparse(self.path)
                if url.path == "/token":
                    scope = urllib.parse.parse_qs(url.query)["scope"][0]
                    return self._send(200, json.dumps({"token": f"pull:{scope}"}).encode(), {})
                repository, _, tag = url.path.removeprefix("/v2/").partition("/manifests/")
                scope = f"repository:{repository}:pull"
                if self.headers.get("Authorization") != f"Bearer pull:{scope}":
                    challenge = f'Bearer realm="{registry.url}/token",service="stand-in",scope="{scope}"'
                    return self._send(401, b"{}", {"WWW-Authenticate": challenge})
                body = registry.served(repository, tag)
                media_type = json.loads(body)["mediaType"]
                if media_type == INDEX and INDEX not in self.headers.get("Accept", ""):
                    body, media_type = _manifest(repository, tag), MANIFEST
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                if repository in registry.lying:
                    digest = "sha256:" + "0" * 64
                self._send(200, body, {"Content-Type": media_type, "Docker-Content-Digest": digest})

        return Handler


@pytest.fixture
def registry():
    with StandInRegistry() as server:
        yield server


def _everywhere(url: str) -> dict[str, str]:
    return {image.registry: url for image in (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES)}


def _pinned_to_what_is_served(registry: StandInRegistry, repository: str = "team/app") -> versions.Image:
    digest = "sha256:" + hashlib.sha256(registry.served(repository, "1.0.0")).hexdigest()
    return versions.Image("docker.io", repository, "1.0.0", digest)


def test_a_tag_is_resolved_through_the_anonymous_token_flow_asking_for_an_index(registry):
    image = _pinned_to_what_is_served(registry)
    found = script.resolve(image, {"docker.io": registry.url})
    assert found == script.Resolved(image.digest, INDEX) and found.is_index
    paths = [path for path, _ in registry.requests]
    assert paths[0] == paths[2] == "/v2/team/app/manifests/1.0.0"
    assert urllib.parse.parse_qs(urllib.parse.urlparse(paths[1]).query) == {
        "scope": ["repository:team/app:pull"], "service": ["stand-in"]}
    accept = registry.requests[2][1]["Accept"]
    assert INDEX in accept and DOCKER_LIST in accept


def test_a_pin_that_matches_the_registry_passes(registry):
    image = _pinned_to_what_is_served(registry)
    assert script.verify([image], {"docker.io": registry.url}) == [f"ok   {image.reference}"]


def test_a_tag_that_moved_fails_naming_both_digests(registry):
    stale = versions.Image("docker.io", "team/app", "1.0.0", "sha256:" + "a" * 64)
    [line] = script.verify([stale], {"docker.io": registry.url})
    served = _pinned_to_what_is_served(registry).digest
    assert line == f"FAIL docker.io/team/app:1.0.0: pinned {stale.digest}, the registry serves {served}"


def test_a_digest_of_one_platforms_manifest_is_not_accepted_as_the_pin(registry):
    registry.single_arch.add("team/app")
    image = _pinned_to_what_is_served(registry)
    [line] = script.verify([image], {"docker.io": registry.url})
    assert line.startswith("FAIL") and "not a multi-arch index" in line


def test_a_registry_whose_bytes_do_not_hash_to_its_digest_fails(registry):
    registry.lying.add("team/app")
    [line] = script.verify([_pinned_to_what_is_served(registry)], {"docker.io": registry.url})
    assert line.startswith("FAIL") and "hashes to" in line


def test_an_image_pinned_by_tag_only_is_reported_with_its_digest_but_not_failed(registry):
    image = versions.Image("docker.io", "team/app", "1.0.0")
    [line] = script.verify([image], {"docker.io": registry.url})
    assert line == f"tag only (DIGEST_EXCEPTIONS) docker.io/team/app:1.0.0: now {_pinned_to_what_is_served(registry).digest}"


def test_the_command_fails_when_the_pins_are_not_what_the_registry_serves(registry, capsys):
    # The stand-in's manifests are not the real ones, so every pinned image fails and the exceptions pass.
    arguments = [f"--endpoint={r}={url}" for r, url in _everywhere(registry.url).items()]
    assert script.main(arguments) == 1
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("FAIL") for line in lines) == sum(1 for i in (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES) if i.digest)
    assert sum(line.startswith("tag only") for line in lines) == len(versions.DIGEST_EXCEPTIONS)


def test_print_gives_each_tags_digest_for_a_version_bump(registry, capsys):
    arguments = ["--print", *(f"--endpoint={r}={url}" for r, url in _everywhere(registry.url).items())]
    assert script.main(arguments) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    images = (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES)
    assert [row[0] for row in rows] == [image.tagged for image in images]
    assert all(row[1] == "sha256:" + hashlib.sha256(registry.served(i.repository, i.tag)).hexdigest() and row[2] == "index"
               for row, i in zip(rows, images, strict=True))


def test_docker_hub_is_reached_at_its_api_host_and_the_others_at_their_own():
    assert script.endpoint("docker.io") == "https://registry-1.docker.io"
    assert script.endpoint("quay.io") == "https://quay.io"
    assert script.endpoint("nvcr.io", {"nvcr.io": "http://127.0.0.1:1"}) == "http://127.0.0.1:1"


def test_an_endpoint_override_must_be_a_url():
    with pytest.raises(SystemExit, match="REGISTRY=URL"):
        script.main(["--endpoint", "docker.io"])
