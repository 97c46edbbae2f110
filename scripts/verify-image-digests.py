#!/usr/bin/env python3
"""Checks every image digest in stack/versions.py against its registry: each tag must still resolve to
the pinned digest, the digest of a multi-arch index. Needs the registries (a workstation, GitHub
Actions); CI runs it on every pull request.

    scripts/verify-image-digests.py           # exit 1 when a tag resolves to another digest
    scripts/verify-image-digests.py --print   # what each tag resolves to now, for a version bump

Speaks the registry HTTP API v2 (the OCI distribution spec) anonymously: a manifest request answered
401 with a Bearer challenge is retried with a pull token from the challenge's realm (docker.io, ghcr.io,
quay.io, nvcr.io and registry.k8s.io all work so). The digest is the SHA-256 of the manifest bytes the
registry serves, checked against its Docker-Content-Digest header. Images without a digest (versions.
DIGEST_EXCEPTIONS) are resolved and reported, never failed: their digest is what `--print` is for.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack import versions  # noqa: E402

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")
# Docker Hub's API is not at docker.io.
API_HOSTS = {"docker.io": "registry-1.docker.io"}
TIMEOUT_SECONDS = 30
CHALLENGE_PARAMETER = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """A registry answered something other than a manifest."""


@dataclass(frozen=True)
class Resolved:
    digest: str
    media_type: str

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def endpoint(registry: str, overrides: Mapping[str, str] | None = None) -> str:
    """The registry's API base URL: its own host over HTTPS, unless overridden (a mirror, a test's stand-in)."""
    return (overrides or {}).get(registry) or f"https://{API_HOSTS.get(registry, registry)}"


def _get(url: str, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def bearer_token(challenge: str, repository: str) -> str:
    """An anonymous pull token from a `WWW-Authenticate: Bearer realm=...,service=...` challenge."""
    scheme, _, parameters = challenge.partition(" ")
    if scheme.lower() != "bearer":
        raise RegistryError(f"unsupported authentication challenge {challenge!r}")
    found = dict(CHALLENGE_PARAMETER.findall(parameters))
    if "realm" not in found:
        raise RegistryError(f"challenge without a realm: {challenge!r}")
    query = {"scope": found.get("scope") or f"repository:{repository}:pull"}
    if "service" in found:
        query["service"] = found["service"]
    status, _, body = _get(f"{found['realm']}?{urllib.parse.urlencode(query)}", {})
    if status != 200:
        raise RegistryError(f"token endpoint {found['realm']} answered {status}")
    answer = json.loads(body)
    token = answer.get("token") or answer.get("access_token")
    if not token:
        raise RegistryError(f"token endpoint {found['realm']} gave no token")
    return token


def resolve(image: versions.Image, overrides: Mapping[str, str] | None = None) -> Resolved:
    """What the image's tag points to now: its digest and whether that is an index (multi-arch)."""
    url = f"{endpoint(image.registry, overrides)}/v2/{image.repository}/manifests/{image.tag}"
    headers = {"Accept": ", ".join((*INDEX_TYPES, *MANIFEST_TYPES))}
    status, answer_headers, body = _get(url, headers)
    if status == 401:
        challenge = answer_headers.get("WWW-Authenticate", "")
        headers["Authorization"] = f"Bearer {bearer_token(challenge, image.repository)}"
        status, answer_headers, body = _get(url, headers)
    if status != 200:
        raise RegistryError(f"{image.tagged}: the registry answered {status}")
    digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
    announced = answer_headers.get("Docker-Content-Digest")
    if announced and announced != digest:
        raise RegistryError(f"{image.tagged}: the registry says {announced}, its manifest hashes to {digest}")
    media_type = (answer_headers.get("Content-Type") or json.loads(body).get("mediaType") or "").split(";")[0]
    return Resolved(digest, media_type.strip())


def verify(images: Iterable[versions.Image], overrides: Mapping[str, str] | None = None) -> list[str]:
    """One line per image; those starting with FAIL are mismatches or errors."""
    lines = []
    for image in images:
        try:
            found = resolve(image, overrides)
        except (RegistryError, OSError, ValueError) as error:
            lines.append(f"FAIL {image.tagged}: {error}")
            continue
        if not image.digest:
            lines.append(f"tag only (DIGEST_EXCEPTIONS) {image.tagged}: now {found.digest}")
        elif found.digest != image.digest:
            lines.append(f"FAIL {image.tagged}: pinned {image.digest}, the registry serves {found.digest}")
        elif not found.is_index:
            lines.append(f"FAIL {image.tagged}: {found.digest} is a {found.media_type or 'manifest'}, not a multi-arch index")
        else:
            lines.append(f"ok   {image.reference}")
    return lines


def print_digests(images: Iterable[versions.Image], overrides: Mapping[str, str] | None = None) -> list[str]:
    lines = []
    for image in images:
        found = resolve(image, overrides)
        kind = "index" if found.is_index else f"NOT an index: {found.media_type}"
        lines.append(f"{image.tagged}\t{found.digest}\t{kind}")
    return lines


def _overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        registry, separator, url = pair.partition("=")
        if not separator or not url.startswith(("http://", "https://")):
            raise SystemExit(f"--endpoint {pair!r}: expected REGISTRY=URL, e.g. docker.io=https://mirror.example")
        overrides[registry] = url.rstrip("/")
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--print", action="store_true", help="print what each tag resolves to now, check nothing")
    parser.add_argument("--endpoint", action="append", default=[], metavar="REGISTRY=URL",
                        help="reach a registry at another URL (a mirror)")
    args = parser.parse_args(argv)
    overrides = _overrides(args.endpoint)
    images = (*versions.IMAGES, *versions.CHART_DEFAULT_IMAGES)
    if args.print:
        print("\n".join(print_digests(images, overrides)))
        return 0
    lines = verify(images, overrides)
    print("\n".join(lines))
    failed = [line for line in lines if line.startswith("FAIL")]
    if failed:
        print(f"{len(failed)} of {len(lines)} images do not match their pins", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
