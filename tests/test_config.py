"""Config validation: every bad value is named with what was given and what is allowed, all at once,
and nothing is registered."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from stacks import schema
from stacks.config import ConfigError
from tests.harness import NAME, PROJECT, Run, run_program, source

ADMIN = "11111111-2222-3333-4444-555555555555"
WINDOW = {"dayOfWeek": "Saturday", "startTime": "02:00", "durationHours": 4, "utcOffset": "+00:00"}

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
    (
        "dev",
        {"kubernetesVersion": "1.35.1"},
        "kubernetesVersion",
        "MAJOR.MINOR with upgradeChannel patch",
    ),
    ("dev", {"clusterName": "aks.dev"}, "clusterName", "1-63 letters, digits, '_' or '-'"),
    ("dev", {"clusterName": "aks-dev-"}, "clusterName", "starting and ending with a letter"),
    ("dev", {"clusterName": "a" * 64}, "clusterName", "1-63"),
    ("dev", {"dnsPrefix": "aks_dev"}, "dnsPrefix", "1-54 letters, digits or '-'"),
    ("dev", {"dnsPrefix": "a" * 55}, "dnsPrefix", "1-54"),
    ("dev", {"resourceGroupName": "rg-dev."}, "resourceGroupName", "not ending in '.'"),
    ("dev", {"resourceGroupName": "rg dev"}, "resourceGroupName", "1-90 letters"),
    ("dev", {"location": "westeurop"}, "location", "did you mean westeurope?"),
    ("dev", {"location": "mars"}, "location", "Azure public region"),
    # prod pins zones 1-3: a region without zones refuses them, with its zonal neighbours.
    (
        "prod",
        {"location": "northcentralus"},
        "availabilityZones",
        "northcentralus has no availability zones (Microsoft's Azure regions list, 2026-07-28); "
        "or a location in the same geography (United States) that has zones: centralus, eastus,",
    ),
    ("dev", {"location": "ukwest", "availabilityZones": ["1"]}, "availabilityZones", "uksouth"),
    ("dev", {"deployerPrincipalType": "Group"}, "deployerPrincipalType", "User | ServicePrincipal"),
    (
        "dev",
        {"clusterAdmins": [{"objectId": "admins", "principalType": "Group"}]},
        "clusterAdmins[0].objectId",
        "GUID",
    ),
    (
        "dev",
        {"clusterAdmins": [{"objectId": ADMIN, "principalType": "group"}]},
        "clusterAdmins[0].principalType",
        "User | Group | ServicePrincipal",
    ),
    ("dev", {"clusterAdmins": ["x"]}, "clusterAdmins[0]", "a map of fields"),
    (
        "dev",
        {"autoUpgradeWindow": {**WINDOW, "durationHours": 2}},
        "autoUpgradeWindow.durationHours",
        "4-24",
    ),
    (
        "dev",
        {"nodeOsUpgradeWindow": {**WINDOW, "dayOfWeek": "Sat"}},
        "nodeOsUpgradeWindow.dayOfWeek",
        "Saturday",
    ),
    (
        "dev",
        {"autoUpgradeWindow": {**WINDOW, "startTime": "2am"}},
        "autoUpgradeWindow.startTime",
        "HH:mm",
    ),
    (
        "prod",
        {"apiServerAuthorizedIpRanges": []},
        "apiServerAuthorizedIpRanges",
        "egress addresses",
    ),
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
    ("dev", {"location": ""}, "location", "Azure public region"),
    ("dev", {"location": "West Europe"}, "location", "did you mean westeurope?"),
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
    ("local", {"kubeContext": ""}, "kubeContext", "context"),
    ("dev", {"linkerdVersion": "stable-2.14.10"}, "linkerdVersion", "edge chart version"),
    ("dev", {"linkerdVersion": "2025.12.1"}, "linkerdVersion", "2026.6.3 (Linkerd 2.20) or newer"),
    ("dev", {"gatewayApiVersion": "v1.1.0"}, "gatewayApiVersion", "v1.2.1 to v1.5.1"),
    ("dev", {"gatewayApiVersion": "1.2.1"}, "gatewayApiVersion", "v1.2.1 to v1.5.1"),
    ("dev", {"trustAnchorValidityDays": 30}, "trustAnchorValidityDays", "365-7300"),
    ("dev", {"trustAnchorGenerations": [1, 2, 3]}, "trustAnchorGenerations", "two different"),
    ("dev", {"trustAnchorGenerations": []}, "trustAnchorGenerations", "non-empty list"),
    ("dev", {"trustAnchorGenerations": ["one"]}, "trustAnchorGenerations", "whole numbers"),
    (
        "dev",
        {"trustAnchorGenerations": [2], "issuerAnchorGeneration": 1},
        "issuerAnchorGeneration",
        "one of trustAnchorGenerations [2]",
    ),
    ("dev", {"meshedPods": 0}, "meshedPods", "1-5000"),
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
    ("dev", {"canaryMetricInterval": "20s"}, "canaryMetricInterval", "from 30s to 60m"),
    (
        "dev",
        {"canaryMaxWeight": 50, "canaryStepWeight": 20},
        "canaryStepWeight",
        "a divisor of canaryMaxWeight (50); Flagger would go past it to 60%",
    ),
    ("dev", {"canaryMetricInterval": "1h"}, "canaryMetricInterval", "seconds or minutes"),
    ("dev", {"canaryInterval": "5s"}, "canaryInterval", "from 10s to 60m"),
    ("dev", {"canaryInterval": "soon"}, "canaryInterval", "seconds or minutes"),
    ("dev", {"canaryProgressDeadlineSeconds": 10}, "canaryProgressDeadlineSeconds", "60-3600"),
    ("dev", {"alertProvider": "pagerduty"}, "alertProvider", "none | slack | msteams"),
    ("dev", {"alertReceiver": "pager"}, "alertReceiver", "slack | msteams | webhook"),
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
    if not isinstance(given, list | dict):
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


GOOD: list[dict[str, Any]] = [
    {"kubernetesVersion": "1.31"},
    {"kubernetesVersion": "1.35.1", "upgradeChannel": "node-image"},
    {"kubernetesVersion": "2.0"},
    {"location": "swedencentral"},
    {"location": "northcentralus"},  # no zones pinned: any region will do
    {"location": "indiasouthcentral", "availabilityZones": ["1", "2", "3"]},
    {"clusterName": "aks_dev-2", "dnsPrefix": "dev2"},
    {"resourceGroupName": "rg-(shared).platform"},
    {"deployerPrincipalType": "ServicePrincipal"},
    {"clusterAdmins": [{"objectId": ADMIN, "principalType": "Group"}]},
    {"autoUpgradeWindow": {"dayOfWeek": "Sunday", "startTime": "23:30", "durationHours": 8}},
    {"apiServerAuthorizedIpRanges": ["203.0.113.0/24", "198.51.100.7/32"]},
    {"disableLocalAccounts": False},  # dev may, when its stack says so
    {"autoscaling": True, "nodeMinCount": 1, "nodeMaxCount": 1, "nodeCount": 1},
]


@pytest.mark.parametrize("overrides", GOOD)
def test_good_values_are_accepted(overrides: dict[str, Any]) -> None:
    """The schema, the program's gate before it creates anything, takes each value."""
    schema.load_source(source("dev", overrides))


@pytest.mark.slow
@pytest.mark.parametrize("overrides", GOOD)
def test_good_values_make_the_whole_program_run(overrides: dict[str, Any]) -> None:
    run = run_program("dev", overrides)
    assert run.of_type("azure-native:containerservice:ManagedCluster")


def test_every_declared_key_has_a_description_and_a_default() -> None:
    for key, spec in PROJECT["config"].items():
        assert spec.get("description"), f"{key} has no description in Pulumi.yaml"
        # A key without a default is required on every stack by the CLI.
        assert "default" in spec, f"{key} has no default in Pulumi.yaml"


def test_a_typo_in_a_stack_key_is_named_with_the_closest_setting() -> None:
    message, run = rejection("dev", {"nodeCont": 3, "canaryIntervall": "1m", "zzz": "1"})
    assert f"{NAME}:nodeCont: not a setting of this project; did you mean nodeCount?" in message
    assert "canaryIntervall: not a setting of this project; did you mean canaryInterval?" in message
    assert f"{NAME}:zzz: not a setting of this project\n" in message + "\n"
    assert run.resources == []


def test_an_unknown_field_in_a_map_is_named_with_the_closest_field() -> None:
    admins = [{"objectID": ADMIN, "principalType": "User"}]
    message, _ = rejection("dev", {"clusterAdmins": admins})
    assert "clusterAdmins[0].objectID: not a field here; did you mean objectId?" in message
    assert "clusterAdmins[0].objectId: got None" in message


def test_pulumi_yaml_declares_exactly_the_schemas_keys() -> None:
    assert set(PROJECT["config"]) == set(schema.declared())


def test_a_minor_past_aks_standard_support_warns_with_its_end_date() -> None:
    for today, warned in ((date(2026, 11, 30), False), (date(2026, 12, 1), True)):
        settings = schema.load_source(source("dev", {"kubernetesVersion": "1.34"}, today=today))
        text = "\n".join(settings.warnings)
        assert ("ended on 2026-11-30" in text) is warned, text
        if warned:
            assert "Move to 1.37" in text


def test_default_names_are_derived_validly_from_any_stack_name() -> None:
    from stacks.schema import azure_names

    for stack in ("dev", "feature_x.v2", "a" * 80, "x..y"):
        cluster = azure_names.default_cluster_name(stack)
        assert azure_names.CLUSTER_NAME.match(cluster), cluster
        assert azure_names.DNS_PREFIX.match(azure_names.dns_prefix_for(cluster)), cluster
        group = azure_names.default_resource_group(NAME, stack)
        assert azure_names.RESOURCE_GROUP.match(group), group
    assert azure_names.default_cluster_name("feature_x.v2") == "aks-feature_x-v2"
    assert azure_names.dns_prefix_for("aks-feature_x-v2") == "aks-feature-x-v2"
    assert azure_names.default_resource_group(NAME, "dev") == "rg-progressive-delivery-dev"


def test_the_zone_table_covers_exactly_the_region_table() -> None:
    from stacks.schema.azure_regions import (
        GEOGRAPHY,
        PUBLIC_REGIONS,
        REGIONS_WITH_ZONES,
        zone_problem,
    )

    assert REGIONS_WITH_ZONES < PUBLIC_REGIONS == set(GEOGRAPHY)
    for region in PUBLIC_REGIONS - REGIONS_WITH_ZONES:
        # Every region without zones has one with zones in its geography to point at.
        assert "that has zones:" in (zone_problem(region, ["1"]) or ""), region
        assert zone_problem(region, []) is None, region
    for region in REGIONS_WITH_ZONES:
        assert zone_problem(region, ["1", "2", "3"]) is None, region


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"canaryInterval": "5s"}, "canaryInterval"),
        ({"canaryThreshold": 0}, "canaryThreshold"),
        ({"canaryProgressDeadlineSeconds": 5}, "canaryProgressDeadlineSeconds"),
    ],
)
def test_one_bad_pacing_key_is_one_problem_not_one_per_service(
    overrides: dict[str, Any], key: str
) -> None:
    """The services are judged against the stack's pacing; when a key of it fails, against the
    keys that passed and the defaults, so the declarations are not blamed for the stack's key."""
    message, _ = rejection("dev", overrides)
    problems = [line for line in message.splitlines() if line.startswith("  - ")]
    assert len(problems) == 1, message
    assert problems[0].startswith(f"  - {NAME}:{key}: got "), message
