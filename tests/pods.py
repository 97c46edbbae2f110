"""A container's process as Kubernetes would start it, built from the resources the program declares.

From a Deployment, Job or CronJob under Pulumi mocks: the command and args (or the image's entrypoint),
the environment as the kubelet assembles it (service-link variables for every Service of the namespace
unless ``enableServiceLinks`` is false, then the container's own ``env``, which wins), and every volume
written to a temporary directory where the container mounts it: ConfigMap and Secret files under their
``items`` paths, empty directories for ``emptyDir`` and claims.

The user is the declared one: ``run_as`` gives the argv that starts the process with the pod's
``runAsUser``, ``runAsGroup`` and ``fsGroup`` (through ``setpriv``, when the tests run as root), after the
kubelet's own check (``runAsNonRoot`` refuses uid 0; an undeclared user is refused here, as nothing may
rely on an image's USER). Volumes get the modes the kubelet gives them: an emptyDir is 0777 (and owned by
the fsGroup, setgid), a claim 0777 as MiniKube's hostpath provisioner makes it, ConfigMap and Secret files
0644 in root-owned directories. So the process can write its declared volumes and nothing else of this
machine but what any user may (``/tmp``: callers point TMPDIR at the pod's own /tmp volume).

The one translation: a container path under a mount point becomes the same path under that mount's
directory here (in env values, args, and the mounted text files), because nothing here may write to
``/etc`` or ``/var/lib``. Everything else is as declared.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from tests.harness import Declared, Program

POD_OWNERS = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob")
# What the mocks give a Service for its cluster IP: any address works, only its shape matters.
MOCK_CLUSTER_IP = "10.96.0.{}"


@dataclass
class Process:
    """What to exec: argv, environment, where each container mount point lives here, and as whom."""

    argv: list[str]
    env: dict[str, str]
    mounts: dict[str, Path] = field(default_factory=dict)
    # The declared runAsUser, runAsGroup and supplementary groups (fsGroup, supplementalGroups).
    uid: int = 0
    gid: int = 0
    groups: tuple[int, ...] = ()
    read_only_root: bool = False

    def host_path(self, container_path: str) -> Path:
        """The directory or file here that the container sees at ``container_path``."""
        translated = translate(container_path, self.mounts)
        if translated == container_path:
            raise KeyError(f"{container_path} is under no mount of this container ({sorted(self.mounts)})")
        return Path(translated)


def one_named(program: Program, type_: str, name: str = "", labels: Mapping[str, str] | None = None) -> Declared:
    """The one declared resource of this type with this metadata.name (and these labels)."""
    found = [r for r in program.of_type(type_)
             if (not name or r.inputs["metadata"].get("name") == name)
             and all(r.inputs["metadata"].get("labels", {}).get(k) == v for k, v in (labels or {}).items())]
    assert len(found) == 1, f"expected one {type_} named {name!r} with labels {labels}, found {len(found)}"
    return found[0]


def pod_spec(resource: Declared) -> dict[str, Any]:
    spec = resource.inputs["spec"]
    if resource.type.endswith(":CronJob"):
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def namespace_of(resource: Declared) -> str:
    return resource.inputs["metadata"]["namespace"]


def services_in(program: Program, namespace: str) -> list[Declared]:
    return [r for r in program.of_type("kubernetes:core/v1:Service") if namespace_of(r) == namespace]


def service_link_env(services: list[Declared]) -> dict[str, str]:
    """The Docker-links-style variables the kubelet injects for each Service of the pod's namespace
    (kubernetes pkg/kubelet/envvars/envvars.go: FromServices), with mock cluster IPs."""
    env: dict[str, str] = {}
    for number, service in enumerate(services, 1):
        name = service.inputs["metadata"]["name"].upper().replace("-", "_")
        host = MOCK_CLUSTER_IP.format(number)
        ports = service.inputs["spec"].get("ports") or []
        if not ports:
            continue
        env[f"{name}_SERVICE_HOST"] = host
        env[f"{name}_SERVICE_PORT"] = str(int(ports[0]["port"]))
        for port in ports:
            if port.get("name"):
                env[f"{name}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(int(port["port"]))
        first = ports[0]
        env[f"{name}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{host}:{int(first['port'])}"
        for port in ports:
            protocol, number = port.get("protocol", "TCP"), int(port["port"])
            prefix = f"{name}_PORT_{number}_{protocol}"
            env[prefix] = f"{protocol.lower()}://{host}:{number}"
            env[f"{prefix}_PROTO"] = protocol.lower()
            env[f"{prefix}_PORT"] = str(number)
            env[f"{prefix}_ADDR"] = host
    return env


def translate(text: str, mounts: Mapping[str, Path]) -> str:
    """Container paths under a mount point, rewritten to the mount's directory here (longest first)."""
    if not mounts:
        return text
    by_path = {path.rstrip("/"): str(directory) for path, directory in mounts.items()}
    pattern = "|".join(re.escape(path) for path in sorted(by_path, key=len, reverse=True))
    # One pass, so a directory here is never translated again.
    return re.sub(rf"(?<![\w/.-])({pattern})(?=/|[^\w.-]|$)", lambda m: by_path[m.group(1)], text)


def _declared(program: Program, type_: str, namespace: str, name: str) -> Declared:
    found = [r for r in program.of_type(type_)
             if namespace_of(r) == namespace and r.inputs["metadata"].get("name") == name]
    assert len(found) == 1, f"the pod needs {type_} {namespace}/{name}, which the program declares {len(found)} times"
    return found[0]


def _secret_data(secret: Declared) -> dict[str, str]:
    data = {key: base64.b64decode(value).decode() for key, value in (secret.inputs.get("data") or {}).items()}
    return {**data, **(secret.inputs.get("stringData") or {})}


def _volume_files(program: Program, namespace: str, volume: dict[str, Any]) -> dict[str, str] | None:
    """path -> text for a ConfigMap or Secret volume (``items`` applied); None for empty volumes."""
    if "configMap" in volume:
        source = volume["configMap"]
        data = _declared(program, "kubernetes:core/v1:ConfigMap", namespace, source["name"]).inputs.get("data") or {}
    elif "secret" in volume:
        source = volume["secret"]
        data = _secret_data(_declared(program, "kubernetes:core/v1:Secret", namespace, source["secretName"]))
    elif "emptyDir" in volume or "persistentVolumeClaim" in volume:
        return None
    else:
        raise NotImplementedError(f"volume {volume['name']}: only configMap, secret, emptyDir and claims are built")
    items = source.get("items")
    if not items:
        return dict(data)
    return {item["path"]: data[item["key"]] for item in items}


def env_value(program: Program, namespace: str, variable: dict[str, Any]) -> str:
    """A container's env entry resolved as the kubelet would: its value, or the declared Secret's or
    ConfigMap's key it names."""
    if "value" in variable:
        return str(variable["value"])
    reference = variable["valueFrom"]
    if "secretKeyRef" in reference:
        ref = reference["secretKeyRef"]
        return _secret_data(_declared(program, "kubernetes:core/v1:Secret", namespace, ref["name"]))[ref["key"]]
    if "configMapKeyRef" in reference:
        ref = reference["configMapKeyRef"]
        return _declared(program, "kubernetes:core/v1:ConfigMap", namespace, ref["name"]).inputs["data"][ref["key"]]
    raise NotImplementedError(f"env {variable['name']}: {reference}")


def security(spec: Mapping[str, Any], container: Mapping[str, Any]) -> tuple[int, int, tuple[int, ...], bool]:
    """uid, gid, supplementary groups and read-only root of a container, as the kubelet resolves them
    (the container's securityContext over the pod's), refused where the kubelet would refuse to start it."""
    pod = spec.get("securityContext") or {}
    own = container.get("securityContext") or {}
    uid, gid = own.get("runAsUser", pod.get("runAsUser")), own.get("runAsGroup", pod.get("runAsGroup"))
    if uid is None or gid is None:
        raise NotImplementedError(f"container {container['name']} runs as its image's USER: declare runAsUser and runAsGroup")
    if own.get("runAsNonRoot", pod.get("runAsNonRoot")) and uid == 0:
        raise PermissionError(f"container {container['name']}: runAsNonRoot with runAsUser 0, the kubelet refuses to start it")
    # Numbers come back from the mocks as floats (protobuf Struct).
    groups = tuple(int(g) for g in [pod.get("fsGroup"), *(pod.get("supplementalGroups") or [])] if g is not None)
    return int(uid), int(gid), groups, bool(own.get("readOnlyRootFilesystem"))


def _own(path: Path, mode: int, group: int | None = None) -> None:
    if group is not None and os.geteuid() == 0:
        os.chown(path, 0, group)
    path.chmod(mode)


def _prepare_volume(directory: Path, volume: Mapping[str, Any], fs_group: int | None, files: list[Path]) -> None:
    """The modes the kubelet leaves on a volume (pkg/volume: emptyDir's 0777 and SetVolumeOwnership's
    group, setgid and group write; configMap/secret files 0644); a claim as MiniKube's provisioner makes it."""
    if "emptyDir" in volume:
        _own(directory, 0o2777 if fs_group is not None else 0o777, fs_group)
    elif "persistentVolumeClaim" in volume:
        _own(directory, 0o777)
    else:
        for path in files:
            _own(path, 0o644)
        for path in {p.parent for p in files} | {directory}:
            _own(path, 0o755)


@contextmanager
def node_directory(prefix: str) -> Iterator[Path]:
    """Where pods' volumes go: a directory every user may traverse (a test's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _traversable(path: Path) -> bool:
    """Whether a user other than the owner can reach ``path`` (every directory above it searchable, on
    the way written and on the way its links lead)."""
    parents = [*path.absolute().parents, *path.resolve().parents]
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in parents)


def run_as(process: Process, reads: Sequence[Path] = ()) -> list[str]:
    """The argv that starts ``process`` as its declared user, groups and no capabilities.

    When the tests run as a user other than root they cannot switch users: the process then runs as
    that (non-root) user. ``reads`` are files of this machine the image would hold (the interpreter);
    where one lies under a directory only root may search (a pyenv under /root), the process keeps
    CAP_DAC_READ_SEARCH, which reads and searches anything and writes nothing.
    """
    if os.geteuid() != 0:
        return list(process.argv)
    groups = ",".join(str(g) for g in process.groups)
    switch = ["setpriv", f"--reuid={process.uid}", f"--regid={process.gid}",
              f"--groups={groups}" if groups else "--clear-groups"]
    if not all(_traversable(path) for path in reads):
        switch += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    return [*switch, "--", *process.argv]


def build(
    program: Program,
    owner: Declared,
    root: Path,
    entrypoint: Callable[[dict[str, str]], list[str]] | None = None,
    container: str | None = None,
) -> Process:
    """The process of one container of ``owner``'s pod, its volumes written under ``root``.

    ``entrypoint`` gives the image's ENTRYPOINT (from the environment) for containers that declare no
    command; the caller says where it comes from.
    """
    namespace = namespace_of(owner)
    spec = pod_spec(owner)
    containers = spec["containers"]
    chosen = next(c for c in containers if container is None or c["name"] == container)
    uid, gid, groups, read_only_root = security(spec, chosen)
    volumes = {volume["name"]: volume for volume in spec.get("volumes") or []}
    mounts: dict[str, Path] = {}
    written: dict[str, list[Path]] = {}
    for mount in chosen.get("volumeMounts") or []:
        directory = root / "volumes" / mount["name"]
        directory.mkdir(parents=True, exist_ok=True)
        mounts[mount["mountPath"]] = directory
        files = _volume_files(program, namespace, volumes[mount["name"]])
        written[mount["name"]] = []
        for path, text in (files or {}).items():
            target = directory / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written[mount["name"]].append(target)
    for paths in written.values():
        for path in paths:
            path.write_text(translate(path.read_text(), mounts))
    for directory in (root, root / "volumes"):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
    fs_group = groups[0] if (spec.get("securityContext") or {}).get("fsGroup") is not None else None
    for name, paths in written.items():
        _prepare_volume(root / "volumes" / name, volumes[name], fs_group, paths)
    env: dict[str, str] = {}
    if spec.get("enableServiceLinks", True):
        env.update(service_link_env(services_in(program, namespace)))
    for variable in chosen.get("env") or []:
        env[variable["name"]] = translate(env_value(program, namespace, variable), mounts)
    command = chosen.get("command")
    args = [translate(part, mounts) for part in chosen.get("args") or []]
    if command is None:
        assert entrypoint is not None, f"container {chosen['name']} runs its image's entrypoint: say what it is"
        # Built from the environment, whose paths are already translated.
        argv = [*entrypoint(env), *args]
    else:
        argv = [*(translate(part, mounts) for part in command), *args]
    return Process(argv=argv, env=env, mounts=mounts, uid=uid, gid=gid, groups=groups, read_only_root=read_only_root)

