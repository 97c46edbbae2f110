"""Runs the real program (__main__.py) under Pulumi mocks with a stack's real config files.

Mirrors what the CLI does: Pulumi.yaml defaults, then Pulumi.<stack>.yaml values, then the test's
overrides; then records every resource the program declares (type, name, inputs, parent, options)
and every stack output, so tests assert on the program as users deploy it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import runpy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks, rpc
from pulumi.runtime.stack import run_pulumi_func

from stack.config import PROJECT, PROJECT_DIR, raw_from_files
from stack.config.common import ENCRYPTED, Encrypted

SAMPLE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: minikube
  cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:32771
contexts:
- name: minikube
  context: {cluster: minikube, user: minikube}
current-context: minikube
users:
- name: minikube
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
"""
MOCK_PUBLIC_IP = "203.0.113.10"
MOCK_AMI = "ami-0123456789abcdef0"
MOCK_SUBNET_ZONE = "us-east-1b"
MOCK_SUBNET_ZONE_ID = "use1-az2"
MOCK_OFFERING_ZONES = ("us-east-1c", "us-east-1a", "us-east-1b")
# The default VPC of the mock account, like us-east-1's: one subnet per zone, one of them in use1-az3,
# where EKS places no control plane. AZ names map to AZ IDs per account.
MOCK_DEFAULT_SUBNETS = {
    "subnet-0aaaaaaaaaaaaaaaa": ("us-east-1a", "use1-az6"),
    "subnet-0bbbbbbbbbbbbbbbb": ("us-east-1b", "use1-az2"),
    "subnet-0cccccccccccccccc": ("us-east-1c", "use1-az3"),
    "subnet-0dddddddddddddddd": ("us-east-1d", "use1-az4"),
}
# Where the GPU type is offered, by AZ ID: not in use1-az4.
MOCK_GPU_ZONE_IDS = ("use1-az6", "use1-az2", "use1-az3")


def _offerings(location_type: str | None) -> dict[str, list[str]]:
    locations = list(MOCK_GPU_ZONE_IDS if location_type == "availability-zone-id" else MOCK_OFFERING_ZONES)
    return {
        "locations": locations,
        "locationTypes": [location_type or "region"] * len(locations),
        "instanceTypes": ["g6.12xlarge"] * len(locations),
    }


@dataclass
class Declared:
    """One resource the program declared."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    secret_inputs: set[str]
    parent: str
    dependencies: list[str]
    provider: str
    options: dict[str, Any]

    @property
    def custom(self) -> bool:
        return bool(self.options.get("custom"))


@dataclass
class Program:
    resources: list[Declared] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (token, args) of each data source read

    def invoked(self, token: str) -> list[dict[str, Any]]:
        return [args for called, args in self.invokes if called == token]

    def of_type(self, type_: str) -> list[Declared]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name_contains: str = "") -> Declared:
        found = [r for r in self.of_type(type_) if name_contains in r.name]
        assert len(found) == 1, f"expected one {type_} named *{name_contains}*, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Declared:
        return next(r for r in self.resources if r.urn == urn)

    def ancestors(self, resource: Declared) -> Iterator[Declared]:
        urns = {r.urn for r in self.resources}
        parent = resource.parent
        while parent in urns:
            found = self.by_urn(parent)
            yield found
            parent = found.parent

    def aws_resources(self) -> list[Declared]:
        return [r for r in self.resources if r.type.startswith("aws:")]


def _fake_outputs(args: mocks.MockResourceArgs) -> dict[str, Any]:
    """Outputs the real providers would compute, as far as the program reads them."""
    name = args.name
    by_type: dict[str, dict[str, Any]] = {
        "aws:ec2/instance:Instance": {"publicIp": MOCK_PUBLIC_IP, "privateIp": "10.0.0.10"},
        "aws:ec2/eip:Eip": {"publicIp": MOCK_PUBLIC_IP, "allocationId": f"eipalloc-{name}"},
        "aws:ec2/eipAssociation:EipAssociation": {"publicIp": MOCK_PUBLIC_IP},
        "aws:ec2/keyPair:KeyPair": {"keyName": name},
        "aws:iam/role:Role": {"name": name, "arn": f"arn:aws:iam::123456789012:role/{name}"},
        "aws:iam/instanceProfile:InstanceProfile": {"name": name},
        "aws:kms/key:Key": {"arn": f"arn:aws:kms:us-east-1:123456789012:key/{name}"},
        "tls:index/privateKey:PrivateKey": {
            "privateKeyOpenssh": "-----BEGIN OPENSSH PRIVATE KEY-----\nmock\n-----END OPENSSH PRIVATE KEY-----\n",
            "publicKeyOpenssh": "ssh-ed25519 AAAAmock",
        },
        "random:index/randomPassword:RandomPassword": {"result": "mock-random-password-0123456789"},
        "eks:index:Cluster": {"kubeconfigJson": SAMPLE_KUBECONFIG},
        "aws:ec2/launchTemplate:LaunchTemplate": {"latestVersion": 1},
    }
    outputs = dict(by_type.get(args.typ, {}))
    if args.typ == "command:remote:Command" and name.endswith("-kubeconfig"):
        outputs["stdout"] = SAMPLE_KUBECONFIG
    return outputs


# What the mocked Spot price history answers for any instance type (USD per hour, a string as AWS gives it).
MOCK_SPOT_PRICE = "1.8406"


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self, program: Program | None = None):
        self.program = program

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", {**args.inputs, **_fake_outputs(args)}

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list]:
        if self.program is not None:
            self.program.invokes.append((args.token, dict(args.args)))
        results: dict[str, dict[str, Any]] = {
            "aws:ssm/getParameter:getParameter": {"value": MOCK_AMI, "type": "String"},
            "aws:ec2/getVpc:getVpc": {"id": "vpc-0123456789abcdef0"},
            "aws:ec2/getSubnet:getSubnet": {
                "id": args.args.get("id"),
                "vpcId": "vpc-0fedcba987654321",
                # The default VPC's subnets, one /20 per zone.
                "cidrBlock": f"172.31.{16 * sorted(MOCK_DEFAULT_SUBNETS).index(args.args.get('id'))}.0/20"
                if args.args.get("id") in MOCK_DEFAULT_SUBNETS
                else "10.20.0.0/24",
                **dict(
                    zip(
                        ("availabilityZone", "availabilityZoneId"),
                        MOCK_DEFAULT_SUBNETS.get(args.args.get("id"), (MOCK_SUBNET_ZONE, MOCK_SUBNET_ZONE_ID)),
                        strict=True,
                    )
                ),
            },
            # us-east-1e offers no GPU types: the mock region lists the zones that do, out of order.
            "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": _offerings(args.args.get("locationType")),
            "aws:ec2/getSpotPrice:getSpotPrice": {"spotPrice": MOCK_SPOT_PRICE, "spotPriceTimestamp": "2026-12-04T16:00:00Z"},
            "aws:ec2/getSubnets:getSubnets": {"ids": list(MOCK_DEFAULT_SUBNETS)},
            "aws:index/getRegion:getRegion": {"name": "us-east-1", "region": "us-east-1"},
            "aws:index/getCallerIdentity:getCallerIdentity": {"accountId": "123456789012"},
        }
        return {**args.args, **results.get(args.token, {})}, []


class _RecordingMonitor(mocks.MockMonitor):
    """The stock mock monitor, also keeping what it drops: parents, options and stack outputs."""

    def __init__(self, program: Program):
        super().__init__(_Mocks(program))
        self.program = program

    def RegisterResource(self, request):
        _references_to_urns(request.object)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs, secret_inputs = _unwrap_secrets(request.object)
            self.program.resources.append(
                Declared(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=inputs,
                    secret_inputs=secret_inputs,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    provider=request.provider,
                    options={
                        "custom": request.custom,
                        "delete_before_replace": request.deleteBeforeReplace,
                        "ignore_changes": list(request.ignoreChanges),
                        "additional_secret_outputs": list(request.additionalSecretOutputs),
                        "deleted_with": request.deletedWith,
                        "protect": request.protect,
                        "retain_on_delete": request.retainOnDelete,
                        "replace_on_changes": list(request.replaceOnChanges),
                    },
                )
            )
        return response


def _references_to_urns(properties: struct_pb2.Struct) -> None:
    """Replace resource references (e.g. an EKS cluster passed to its node group) by their URNs, in place.

    Deserializing a reference would rebuild the resource on the monitor's thread, outside the program's loop.
    """
    for value in [*properties.fields.values()]:
        kind = value.WhichOneof("kind")
        if kind == "struct_value":
            fields = value.struct_value.fields
            if fields.get(rpc._special_sig_key, struct_pb2.Value()).string_value == rpc._special_resource_sig:
                value.string_value = fields["urn"].string_value
            else:
                _references_to_urns(value.struct_value)
        elif kind == "list_value":
            for item in value.list_value.values:
                if item.WhichOneof("kind") == "struct_value":
                    wrapper = struct_pb2.Struct()
                    wrapper.fields["item"].CopyFrom(item)
                    _references_to_urns(wrapper)
                    item.CopyFrom(wrapper.fields["item"])


def _unwrap_secrets(properties) -> tuple[dict[str, Any], set[str]]:
    """Plain inputs, and the names of the top-level inputs that carry a secret."""
    inputs: dict[str, Any] = {}
    secret: set[str] = set()
    for key in properties.fields:
        single = struct_pb2.Struct()
        single.fields[key].CopyFrom(properties.fields[key])
        plain, is_secret = rpc.deserialize_properties_unwrap_secrets(single)
        inputs[key] = plain[key]
        if is_secret:
            secret.add(key)
    return inputs, secret


async def _collect_outputs(program: Program) -> None:
    root = pulumi.runtime.settings.get_root_resource()
    for key, output in root.outputs.items():  # type: ignore[union-attr]
        output = pulumi.Output.from_input(output)
        program.outputs[key] = await output.future()
        if await output.is_secret():
            program.secret_outputs.add(key)


# What a stack file asks its user to set before the first deploy (Pulumi.prod.yaml's comments), so the
# tests run that stack as it would be deployed. 100.64.0.0/10 is shared address space (RFC 6598), not a
# documentation range; the receiver URL is stored encrypted, as the file says to.
FILLED_IN: dict[str, dict[str, Any]] = {
    "prod": {
        "allowedCidrs": ["100.64.12.0/28"],
        "budgetAlertEmails": ["llm-platform-alerts@acme.internal"],
        "alertReceiver": "slack",
        "alertReceiverUrl": ENCRYPTED,
    }
}
# The engine knows an encrypted setting's plaintext; the tests do not. These stand in for it, in a form
# the program accepts, and are handed over as secrets.
ENCRYPTED_STAND_INS = {
    "alertReceiverUrl": "https://hooks.receiver.internal/stand-in",
    "kubeconfig": SAMPLE_KUBECONFIG,
    "hfToken": "hf_stand_in_for_an_encrypted_token",
}


def as_deployed(stack: str) -> dict[str, Any]:
    """The stack file's values plus what it asks its user to fill in."""
    return {**raw_from_files(stack), **FILLED_IN.get(stack, {})}


def stack_config(stack: str, overrides: dict[str, Any] | None = None) -> tuple[dict[str, str], list[str]]:
    """The engine's view of the config: namespaced keys, every value JSON-encoded unless a string; and
    the keys whose values were stored encrypted."""
    raw = {**as_deployed(stack), **(overrides or {})}
    encoded, encrypted = {}, []
    for key, value in raw.items():
        if value is None:
            continue
        if isinstance(value, Encrypted):
            value = ENCRYPTED_STAND_INS[key]
            encrypted.append(f"{PROJECT}:{key}")
        encoded[f"{PROJECT}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return encoded, encrypted


def run_program(
    stack: str = "dev", overrides: dict[str, Any] | None = None, secret_keys: tuple[str, ...] = ()
) -> Program:
    """Run __main__.py for `stack`; raises what the program raises, with `.program` holding what it declared.

    `secret_keys` names the overrides to treat as set with `pulumi config set --secret`.
    """
    program = Program()

    def _run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # The mock monitor answers on executor threads, each needing an event loop of its own: make them
        # here, so they can be closed with the run instead of being left to the garbage collector.
        thread_loops: list[asyncio.AbstractEventLoop] = []

        def _thread_loop() -> None:
            thread_loops.append(asyncio.new_event_loop())
            asyncio.set_event_loop(thread_loops[-1])

        executor = ThreadPoolExecutor(initializer=_thread_loop)
        loop.set_default_executor(executor)
        config, encrypted = stack_config(stack, overrides)
        pulumi.runtime.set_all_config(config, [f"{PROJECT}:{key}" for key in secret_keys] + encrypted)
        pulumi.runtime.set_mocks(
            _Mocks(), project=PROJECT, stack=stack, preview=False, monitor=_RecordingMonitor(program)
        )
        try:
            loop.run_until_complete(
                run_pulumi_func(lambda: runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__"))
            )
            loop.run_until_complete(_collect_outputs(program))
        except Exception as error:
            error.program = program  # type: ignore[attr-defined]
            raise
        finally:
            executor.shutdown(wait=True)
            for thread_loop in [*thread_loops, loop]:
                thread_loop.close()
            asyncio.set_event_loop(None)

    contextvars.Context().run(_run)
    return program
