"""`doctor`: preflight of a stack before `pulumi up`: tools, Azure login and rights, the cluster.

Each check prints one line, `PASS|FAIL|SKIP  <check>: <result>`, and a FAIL a second line with
the fix. Exit 0 when nothing failed, 3 otherwise. What is checked depends on the stack:

  tools       pulumi, az, kubelogin, kubectl on PATH, at least the README's versions
              (local: pulumi and kubectl; it uses no Azure)
  Azure       dev/prod: az logged in to the subscription the stack will use; the Kubernetes
              version offered in the region; the deployer may create role assignments and resources
  cluster     the local stack's kubeContext, or an AKS stack's kubeconfig output once deployed:
              kubeconfig, exec plugin, API, kubectl skew, RBAC (cluster-admin), Flagger CRDs

Nothing is created or changed; the only writes are the tools' own caches (az, kubelogin).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from canaryctl import azure_checks, cluster_checks
from canaryctl.errors import FAILED, OK
from canaryctl.project import project_root, provider_setting, stack_config
from canaryctl.tools import TOOLS, Runner, Subprocess, ToolFailed, Version, dotted, version_of
from stacks import azure_names as names

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
NO_AZURE = "local stack uses no Azure"


@dataclass(frozen=True)
class Check:
    status: str
    name: str
    result: str
    fix: str = ""


class Report:
    """Prints each check as it completes (az calls take seconds) and counts them."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.checks: list[Check] = []

    def add(self, status: str, name: str, result: str, fix: str = "") -> Check:
        check = Check(status, name, result, fix)
        self.checks.append(check)
        self.out.write(f"{status}  {name}: {result}\n")
        if status == FAIL and fix:
            self.out.write(f"      fix: {fix}\n")
        self.out.flush()
        return check

    def finish(self) -> int:
        count = {s: sum(1 for c in self.checks if c.status == s) for s in (PASS, FAIL, SKIP)}
        tally = f"{count[PASS]} passed, {count[FAIL]} failed, {count[SKIP]} skipped"
        if count[FAIL]:
            self.out.write(f"\n{tally}: fix the FAIL lines above, then run doctor again.\n")
            return FAILED
        self.out.write(f"\n{tally}: ready for `pulumi up`.\n")
        return OK


@dataclass(frozen=True)
class StackFacts:
    """What the checks need from the stack's config (Pulumi.yaml defaults + the stack file)."""

    stack: str
    environment: str
    location: str
    kubernetes_version: str
    sku_tier: str
    cluster_name: str
    resource_group: str
    kube_context: str
    kubeconfig_path: str | None
    subscription: str | None
    """The subscription the stack will deploy to, when pinned; None means az's default one."""
    subscription_source: str
    subscription_secret: bool = False
    """azure-native:subscriptionId is set as a secret: doctor cannot read it to compare."""

    @property
    def local(self) -> bool:
        return self.environment == "local"


def read_facts(root: Path, stack: str) -> StackFacts:
    project, values = stack_config(root, stack)
    short = stack.rsplit("/", 1)[-1]

    def value(key: str) -> str:
        return str(values.get(f"{project}:{key}") or "").strip()

    # pulumi-azure-native takes the subscription from its `subscriptionId` config, else from
    # ARM_SUBSCRIPTION_ID (provider.go: getConfig reads k.config first, then the variable), else,
    # logged in with the Azure CLI, from `az account show`: "The Azure CLI, and thus Pulumi, will
    # use the Default Subscription by default" (pulumi.com/registry/packages/azure-native/
    # installation-configuration; auth_azidentity.go: NewAzCoreIdentity).
    subscription, source = None, "az's default subscription"
    configured = provider_setting(root, stack, "azure-native:subscriptionId")
    if configured is not None and not isinstance(configured[0], dict):
        subscription = str(configured[0])
        source = f"azure-native:subscriptionId in {configured[1]}"
    elif configured is not None:
        source = f"azure-native:subscriptionId in {configured[1]} (a secret)"
    elif os.environ.get("ARM_SUBSCRIPTION_ID"):
        subscription, source = os.environ["ARM_SUBSCRIPTION_ID"], "ARM_SUBSCRIPTION_ID"
    return StackFacts(
        stack=short,
        environment=value("environment"),
        location=value("location"),
        kubernetes_version=value("kubernetesVersion"),
        sku_tier=value("skuTier"),
        # The program's own defaults (stacks/azure_names.py), so doctor looks where it deploys.
        cluster_name=value("clusterName") or names.default_cluster_name(short),
        resource_group=value("resourceGroupName") or names.default_resource_group(project, short),
        kube_context=value("kubeContext"),
        kubeconfig_path=value("kubeconfigPath") or None,
        subscription=subscription,
        subscription_source=source,
        subscription_secret=configured is not None and isinstance(configured[0], dict),
    )


def run(stack: str, out: TextIO, runner: Runner | None = None) -> int:
    runner = runner or Subprocess()
    facts = read_facts(project_root(), stack)
    out.write(_intro(facts) + "\n")
    report = Report(out)
    found = check_tools(report, runner, facts)
    if facts.local:
        for name in azure_checks.CHECKS:
            report.add(SKIP, name, NO_AZURE)
    else:
        azure_checks.run(report, runner, found.get("az"), facts)
    cluster_checks.run(report, runner, facts, found)
    return report.finish()


@dataclass(frozen=True)
class Found:
    path: str
    version: Version | None


def check_tools(report: Report, runner: Runner, facts: StackFacts) -> dict[str, Found]:
    """One line per tool; returns the tools that are usable, with their versions."""
    found: dict[str, Found] = {}
    for name, tool in TOOLS.items():
        if facts.local and name in ("az", "kubelogin"):
            report.add(SKIP, name, f"not needed: {NO_AZURE}")
            continue
        path = runner.which(name)
        if path is None:
            report.add(FAIL, name, "not on PATH", tool.install)
            continue
        try:
            version = version_of(runner, tool, path)
        except ToolFailed as error:
            report.add(FAIL, name, f"{path} does not run: {error}", tool.install)
            continue
        if version is None:
            report.add(PASS, name, f"{path} (version unknown; needs {dotted(tool.minimum)}+)")
        elif version < tool.minimum:
            report.add(
                FAIL,
                name,
                f"{dotted(version)} at {path} is older than {dotted(tool.minimum)}",
                tool.install,
            )
            continue
        else:
            report.add(PASS, name, f"{dotted(version)} at {path}")
        found[name] = Found(path, version)
    return found


def _intro(facts: StackFacts) -> str:
    if facts.local:
        where = facts.kubeconfig_path or "$KUBECONFIG or ~/.kube/config"
        return (
            f"canaryctl doctor: stack {facts.stack} (local: context "
            f"{facts.kube_context or '(kubeContext not set)'} of {where}, no Azure)"
        )
    return (
        f"canaryctl doctor: stack {facts.stack} ({facts.environment}: AKS {facts.cluster_name} "
        f"in {facts.resource_group}, {facts.location}, Kubernetes {facts.kubernetes_version}; "
        f"subscription: {facts.subscription or facts.subscription_source})"
    )
