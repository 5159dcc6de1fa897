"""Config validation: every bad value is named with what was given and what is allowed, all at once,
and nothing is registered."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigError
from tests.harness import NAME, Run, run_program

# (stack, overrides, key named in the error, text of what is allowed)
REJECTED = [
    ("dev", {"nodeCount": 0}, "nodeCount", "1-1000"),
    ("dev", {"nodeCount": -2}, "nodeCount", "1-1000"),
    ("dev", {"systemNodeCount": 0}, "systemNodeCount", "1-100"),
    ("dev", {"nodeCount": "three"}, "nodeCount", "a whole number"),
    ("dev", {"autoscaling": True, "nodeMinCount": 6, "nodeMaxCount": 3}, "nodeMinCount", "at most"),
    (
        "dev",
        {"autoscaling": True, "nodeMinCount": 2, "nodeMaxCount": 3, "nodeCount": 5},
        "nodeCount",
        "between nodeMinCount and nodeMaxCount",
    ),
    ("dev", {"kubernetesVersion": "latest"}, "kubernetesVersion", "MAJOR.MINOR"),
    ("dev", {"kubernetesVersion": "1.34.2.1"}, "kubernetesVersion", "MAJOR.MINOR"),
    ("dev", {"kubernetesVersion": "v1.34"}, "kubernetesVersion", "MAJOR.MINOR"),
    ("dev", {"kubernetesVersion": "1.30"}, "kubernetesVersion", "1.31 or newer"),
    ("dev", {"environment": "staging"}, "environment", "dev | prod | local"),
    (
        "dev",
        {"apiServerAuthorizedIpRanges": ["10.0.0.0/33"]},
        "apiServerAuthorizedIpRanges",
        "CIDR",
    ),
    ("dev", {"apiServerAuthorizedIpRanges": ["not-an-ip"]}, "apiServerAuthorizedIpRanges", "CIDR"),
    (
        "dev",
        {"apiServerAuthorizedIpRanges": ["10.0.0.1/24"]},
        "apiServerAuthorizedIpRanges",
        "no host bits",
    ),
    ("dev", {"location": ""}, "location", "Azure region"),
    ("dev", {"location": "West Europe"}, "location", "Azure region"),
    ("dev", {"nodeVmSize": ""}, "nodeVmSize", "VM size"),
    ("dev", {"nodeVmSize": "D4s v5"}, "nodeVmSize", "VM size"),
    ("dev", {"systemNodeVmSize": "large"}, "systemNodeVmSize", "VM size"),
    (
        "prod",
        {"disableLocalAccounts": False},
        "disableLocalAccounts",
        "true when environment is prod",
    ),
    ("prod", {"skuTier": "Free"}, "skuTier", "Standard or Premium"),
    ("dev", {"kubeloginMode": "devicecode"}, "kubeloginMode", "azurecli | workloadidentity"),
    ("dev", {"upgradeChannel": "weekly"}, "upgradeChannel", "patch"),
    ("dev", {"networkPolicy": "cilium"}, "networkPolicy", "calico | azure"),
    ("dev", {"availabilityZones": ["4"]}, "availabilityZones", "zone numbers"),
    ("dev", {"adminGroupObjectIds": ["admins"]}, "adminGroupObjectIds", "GUID"),
    ("local", {"kubeContext": ""}, "kubeContext", "context"),
    ("dev", {"linkerdVersion": "stable-2.14.10"}, "linkerdVersion", "edge chart version"),
    ("dev", {"linkerdVersion": "2025.12.1"}, "linkerdVersion", "2026.6.3 (Linkerd 2.20) or newer"),
    ("dev", {"gatewayApiVersion": "v1.1.0"}, "gatewayApiVersion", "v1.2.1 to v1.5.1"),
    ("dev", {"gatewayApiVersion": "1.2.1"}, "gatewayApiVersion", "v1.2.1 to v1.5.1"),
    ("dev", {"trustAnchorValidityDays": 30}, "trustAnchorValidityDays", "365-7300"),
    ("dev", {"issuerValidityDays": 30}, "issuerValidityDays", "90-730"),
    (
        "dev",
        {"issuerValidityDays": 700, "trustAnchorValidityDays": 400},
        "issuerValidityDays",
        "less than trustAnchorValidityDays",
    ),
    ("dev", {"meshHighAvailability": True, "nodeCount": 2}, "nodeCount", ">= 3"),
    ("dev", {"meshHighAvailability": "yes"}, "meshHighAvailability", "true | false"),
    ("dev", {"prometheusRetention": "0h"}, "prometheusRetention", "hours, days"),
    ("dev", {"prometheusRetention": "forever"}, "prometheusRetention", "hours, days"),
    ("dev", {"prometheusStorageSize": "50GB"}, "prometheusStorageSize", "20Gi"),
    ("dev", {"canaryStepWeight": 60}, "canaryStepWeight", "1 to canaryMaxWeight (50)"),
    ("dev", {"canaryStepWeight": 0}, "canaryStepWeight", "1-100"),
    ("dev", {"canaryMaxWeight": 0}, "canaryMaxWeight", "1-100"),
    ("dev", {"canaryMaxWeight": 101}, "canaryMaxWeight", "1-100"),
    ("dev", {"canaryThreshold": 0}, "canaryThreshold", "1-100"),
    ("dev", {"canaryMetricInterval": "30s"}, "canaryMetricInterval", "from 1m to 60m"),
    ("dev", {"canaryMetricInterval": "1h"}, "canaryMetricInterval", "seconds or minutes"),
    ("dev", {"canaryInterval": "5s"}, "canaryInterval", "from 10s to 60m"),
    ("dev", {"canaryInterval": "soon"}, "canaryInterval", "seconds or minutes"),
    ("dev", {"canarySuccessRate": 101}, "canarySuccessRate", "1-100"),
    ("dev", {"canaryLatencyP99Ms": 0}, "canaryLatencyP99Ms", "1-60000"),
    ("dev", {"canaryProgressDeadlineSeconds": 10}, "canaryProgressDeadlineSeconds", "60-3600"),
    ("dev", {"podinfoVersion": "latest"}, "podinfoVersion", "fixed version tag"),
    ("dev", {"podinfoVersion": "v6.14.1"}, "podinfoVersion", "without a leading v"),
    ("dev", {"podinfoVersion": "6.14.1 beta"}, "podinfoVersion", "image tag"),
    (
        "dev",
        {"podinfoMinReplicas": 5, "podinfoMaxReplicas": 3},
        "podinfoMaxReplicas",
        "at least podinfoMinReplicas (5)",
    ),
    ("dev", {"workloadNamespace": "Shop"}, "workloadNamespace", "DNS label"),
    ("dev", {"workloadNamespace": "linkerd"}, "workloadNamespace", "does not already own"),
    ("dev", {"alertProvider": "pagerduty"}, "alertProvider", "none | slack | msteams"),
    ("dev", {"podinfoFaults": "chaos"}, "podinfoFaults", "none | errors | latency"),
    ("dev", {"flaggerReplicas": 4}, "flaggerReplicas", "1-3"),
]


def rejection(stack: str, overrides: dict[str, Any]) -> tuple[str, Run]:
    run = Run(stack=stack)
    with pytest.raises(ConfigError) as raised:
        run_program(stack, overrides, run=run)
    return str(raised.value), run


@pytest.mark.parametrize(
    ("stack", "overrides", "key", "allowed"),
    REJECTED,
    ids=[f"{stack}-{key}-{list(o.values())[-1]}" for stack, o, key, _ in REJECTED],
)
def test_bad_value_is_rejected_with_key_given_and_allowed(
    stack: str, overrides: dict[str, Any], key: str, allowed: str
) -> None:
    message, run = rejection(stack, overrides)
    line = next((ln for ln in message.splitlines() if f"{NAME}:{key}:" in ln), None)
    assert line is not None, f"error does not name {key}:\n{message}"
    given = overrides.get(key, next(iter(overrides.values())))
    if not isinstance(given, list):
        assert repr(given).strip("'") in line or str(given) in line, f"given value missing: {line}"
    assert allowed in line, f"allowed values missing: {line}"
    assert run.resources == [], f"resources registered despite bad config: {run.resources}"


def test_all_problems_are_reported_together() -> None:
    message, run = rejection(
        "prod",
        {
            "nodeCount": 0,
            "kubernetesVersion": "1.29",
            "location": "",
            "disableLocalAccounts": False,
        },
    )
    for key in ("nodeCount", "kubernetesVersion", "location", "disableLocalAccounts"):
        assert f"{NAME}:{key}:" in message, f"{key} missing from:\n{message}"
    assert "4 problem(s)" in message
    assert run.resources == []


def test_missing_key_names_pulumi_yaml() -> None:
    message, _ = rejection("dev", {"location": None})
    assert f"{NAME}:location: got None" in message
    assert "Pulumi.yaml" in message


@pytest.mark.parametrize(
    "overrides",
    [
        {"kubernetesVersion": "1.31"},
        {"kubernetesVersion": "1.35.1"},
        {"kubernetesVersion": "2.0"},
        {"apiServerAuthorizedIpRanges": ["203.0.113.0/24", "198.51.100.7/32"]},
        {"disableLocalAccounts": False},  # dev may, when its stack says so
        {"autoscaling": True, "nodeMinCount": 1, "nodeMaxCount": 1, "nodeCount": 1},
    ],
)
def test_good_values_are_accepted(overrides: dict[str, Any]) -> None:
    run = run_program("dev", overrides)
    assert run.of_type("azure-native:containerservice:ManagedCluster")


def test_every_declared_key_has_a_description_and_type() -> None:
    from tests.harness import PROJECT

    for key, spec in PROJECT["config"].items():
        assert spec.get("description"), f"{key} has no description in Pulumi.yaml"
        assert spec.get("type") in ("string", "integer", "boolean", "array"), key
        assert "default" in spec or spec.get("secret"), f"{key} has no default in Pulumi.yaml"


def test_stack_files_only_set_declared_keys() -> None:
    import yaml

    from tests.harness import PROJECT, ROOT, STACKS

    for stack in STACKS:
        stack_file = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        for key in stack_file["config"]:
            namespace, name = key.split(":", 1)
            assert namespace == NAME and name in PROJECT["config"], f"Pulumi.{stack}.yaml: {key}"
