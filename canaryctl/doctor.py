"""`doctor`: preflight of a stack before `pulumi up`: config, tools, Azure, the cluster.

Each check prints one line, `PASS|FAIL|SKIP  <check>: <result>`, and a FAIL a second line with
the fix. Exit 0 when nothing failed, 3 otherwise. What is checked depends on the stack:

  config      first, the stack's config as `pulumi up` judges it (the Pulumi CLI's rules, then the
              program's own): every other check reads the validated values, and with a config
              `pulumi up` would refuse, doctor checks the tools only
  tools       pulumi, az, kubelogin, kubectl on PATH, at least the README's versions
              (local: pulumi and kubectl; it uses no Azure)
  Azure       dev/prod: az logged in to the subscription the stack will use; the Kubernetes
              version offered in the region; the VM sizes offered in the region and zones; vCPU
              quota per family and region; resource providers registered; the rights to create
              resources and role assignments; this machine's address inside the authorized ranges
  cluster     the local stack's kubeContext, or an AKS stack's kubeconfig output once deployed:
              kubeconfig, exec plugin, API, kubectl skew, RBAC (cluster-admin), Flagger CRDs

Nothing is created or changed; the only writes are the tools' own caches (az, kubelogin).
docs/doctor.md describes every check, the command behind it and its fix.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TextIO

from canaryctl import azure_checks, cluster_checks
from canaryctl.egress import Egress, Ipify
from canaryctl.preflight import (
    CONFIG,
    FAIL,
    NEEDS_CONFIG,
    NO_AZURE,
    PASS,
    SKIP,
    Found,
    Pool,
    Report,
    StackFacts,
)
from canaryctl.project import (
    StackRefused,
    project_root,
    provider_setting,
    read_stack,
    stack_settings,
)
from canaryctl.tools import TOOLS, Runner, Subprocess, ToolFailed, dotted, version_of
from stacks.cluster.pools import user_pool_name


class ConfigRefused(Exception):
    """`pulumi up` would refuse the stack's config: the problems, as it would list them."""

    def __init__(self, stack: str, judge: str, problems: tuple[str, ...], environment: str):
        super().__init__(f"{judge} refuses stack {stack}")
        self.stack = stack
        self.judge = judge
        self.problems = problems
        self.environment = environment


def read_facts(root: Path, stack: str, today: date) -> tuple[StackFacts, tuple[str, ...]]:
    """The stack's facts and the program's warnings, from its config as `pulumi up` checks it:
    the Pulumi CLI's rules (stacks/schema/cli.py), then the program's (stacks/schema).
    ConfigRefused lists every problem of a config either would refuse."""
    short = stack.rsplit("/", 1)[-1]
    try:
        settings = stack_settings(root, stack, today)
    except StackRefused as refused:
        environment = ""
        if refused.judge == "the program":
            project, merged = read_stack(root, stack)
            environment = merged.values.get(f"{project}:environment", "")
        raise ConfigRefused(short, refused.judge, refused.problems, environment) from None
    subscription, source, secret = _subscription(root, stack)
    facts = StackFacts(
        stack=short,
        environment=settings.environment,
        location="",
        kubernetes_version="",
        sku_tier="",
        cluster_name="",
        resource_group="",
        kube_context=settings.local.kube_context if settings.local else "",
        kubeconfig_path=settings.local.kubeconfig_path if settings.local else None,
        subscription=subscription,
        subscription_source=source,
        subscription_secret=secret,
    )
    aks = settings.cluster
    if aks is not None:
        system, user = aks.system_pool, aks.user_pool
        facts = replace(
            facts,
            location=aks.location,
            kubernetes_version=aks.kubernetes_version,
            sku_tier=aks.sku_tier,
            cluster_name=aks.cluster_name,
            resource_group=aks.resource_group_name,
            pools=(
                Pool("system", system.vm_size, system.count, system.count),
                Pool(
                    "user",
                    user.vm_size,
                    user.count,
                    user.max_count if user.autoscaling else user.count,
                ),
            ),
            user_pool_name=user_pool_name(user, aks.availability_zones),
            availability_zones=aks.availability_zones,
            authorized_ip_ranges=aks.authorized_ip_ranges,
        )
    project, merged = read_stack(root, stack)
    hidden = sorted(k.split(":", 1)[1] for k in merged.secret_keys if k.startswith(f"{project}:"))
    notes = (f"encrypted, so checked by `pulumi up` only: {', '.join(hidden)}",) if hidden else ()
    return facts, (*(f"{project}:{w}" for w in settings.warnings), *notes)


def _subscription(root: Path, stack: str) -> tuple[str | None, str, bool]:
    """The subscription the stack deploys to, where that comes from, and whether it is secret.

    pulumi-azure-native takes it from its `subscriptionId` config, else from ARM_SUBSCRIPTION_ID
    (provider.go: getConfig reads k.config first, then the variable), else, logged in with the
    Azure CLI, from `az account show`: "The Azure CLI, and thus Pulumi, will use the Default
    Subscription by default" (pulumi.com/registry/packages/azure-native/installation-configuration;
    auth_azidentity.go: NewAzCoreIdentity).
    """
    configured = provider_setting(root, stack, "azure-native:subscriptionId")
    if configured is not None and isinstance(configured[0], dict):
        return None, f"azure-native:subscriptionId in {configured[1]} (a secret)", True
    if configured is not None:
        return str(configured[0]), f"azure-native:subscriptionId in {configured[1]}", False
    if os.environ.get("ARM_SUBSCRIPTION_ID"):
        return os.environ["ARM_SUBSCRIPTION_ID"], "ARM_SUBSCRIPTION_ID", False
    return None, "az's default subscription", False


def run(
    stack: str,
    out: TextIO,
    runner: Runner | None = None,
    egress: Egress | None = None,
    today: date | None = None,
) -> int:
    runner = runner or Subprocess()
    report = Report(out)
    try:
        facts, notes = read_facts(project_root(), stack, today or date.today())
    except ConfigRefused as refused:
        out.write(f"canaryctl doctor: stack {refused.stack}\n")
        count = len(refused.problems)
        report.add(
            FAIL,
            CONFIG,
            f"{refused.judge} refuses Pulumi.{refused.stack}.yaml ({count} problem"
            f"{'s' if count > 1 else ''}); doctor advises only on a config `pulumi up` accepts",
            f"correct Pulumi.{refused.stack}.yaml (defaults are in Pulumi.yaml), then run "
            "doctor again",
            details=refused.problems,
        )
        check_tools(report, runner, local=refused.environment == "local")
        for name in (*azure_checks.CHECKS, *cluster_checks.CHECKS):
            report.add(SKIP, name, NEEDS_CONFIG)
        return report.finish()
    out.write(_intro(facts) + "\n")
    report.add(
        PASS,
        CONFIG,
        f"Pulumi.{facts.stack}.yaml passes the Pulumi CLI's and the program's checks",
        details=notes,
    )
    found = check_tools(report, runner, local=facts.local)
    if facts.local:
        for name in azure_checks.CHECKS:
            report.add(SKIP, name, NO_AZURE)
    else:
        azure_checks.run(report, runner, found.get("az"), facts, egress or Ipify())
    cluster_checks.run(report, runner, facts, found)
    return report.finish()


def check_tools(report: Report, runner: Runner, local: bool) -> dict[str, Found]:
    """One line per tool; returns the tools that are usable, with their versions."""
    found: dict[str, Found] = {}
    for name, tool in TOOLS.items():
        if local and name in ("az", "kubelogin"):
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
            f"canaryctl doctor: stack {facts.stack} (local: context {facts.kube_context} of "
            f"{where}, no Azure)"
        )
    zones = f" zones {', '.join(facts.availability_zones)}" if facts.availability_zones else ""
    return (
        f"canaryctl doctor: stack {facts.stack} ({facts.environment}: AKS {facts.cluster_name} "
        f"in {facts.resource_group}, {facts.location}{zones}, Kubernetes "
        f"{facts.kubernetes_version}; subscription: {facts.subscription or facts.subscription_source})"
    )
