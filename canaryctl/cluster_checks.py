"""doctor's cluster checks: kubeconfig, exec plugin, API, RBAC, Flagger CRDs, kubectl skew.

The local stack's cluster exists before `pulumi up` (its kubeContext); an AKS stack's only once
deployed, and then its kubeconfig output is read through the pulumi CLI into memory. Before the
first `pulumi up` the Flagger CRDs do not exist yet: that is reported as SKIP, not FAIL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from canaryctl import kubeconfig_check
from canaryctl.errors import CanaryctlError, Unavailable
from canaryctl.kube import Cluster
from canaryctl.kubeconfig import Target, connect, from_document, kubeconfig_files, stack_outputs
from canaryctl.tools import Runner, ToolFailed, Version, dotted, parse_version
from stacks.components.access_review import EVERYTHING, REQUIRED_ACCESS, REVIEWS_PATH, allowed

if TYPE_CHECKING:
    from canaryctl.preflight import Found, Report, StackFacts

KUBECONFIG, EXEC, API, RBAC, CRDS, SKEW = (
    "kubeconfig",
    "exec plugin",
    "kubernetes api",
    "rbac",
    "flagger crds",
    "kubectl skew",
)
CHECKS = (KUBECONFIG, EXEC, API, RBAC, CRDS, SKEW)
EXEC_TIMEOUT_SECONDS = 60
FLAGGER_CRDS = ("canaries", "metrictemplates", "alertproviders")
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{}.flagger.app"
# The charts install CRDs, cluster roles and bindings, webhooks and (linkerd-viz) an APIService,
# and grant what their controllers need, which only a cluster admin may: so ask for `* * *` and,
# when that is refused, name which of these is refused too.


def run(report: Report, runner: Runner, facts: StackFacts, found: dict[str, Found]) -> None:
    server_version = (
        _local(report, runner, facts) if facts.local else _aks(report, runner, facts, found)
    )
    planned = None if facts.local else parse_version(facts.kubernetes_version + ".0")
    _skew(report, found.get("kubectl"), server_version or planned)


def _local(report: Report, runner: Runner, facts: StackFacts) -> Version | None:
    paths, files = kubeconfig_files(facts.kubeconfig_path)
    fix = f"fix {paths}, or point kubeconfigPath/kubeContext at a working cluster"
    if not facts.kube_context:
        _stop(report, "kubeContext is not set", "`pulumi config set kubeContext kind-kind`")
        return None
    if not files:
        _stop(
            report,
            f"no kubeconfig at {paths}",
            "create the cluster (`kind create cluster`), or set kubeconfigPath",
        )
        return None
    try:
        document, base_dir = kubeconfig_check.read_files(files, paths)
        info = kubeconfig_check.inspect(document, facts.kube_context, paths, base_dir)
    except CanaryctlError as error:
        _stop(report, str(error), fix)
        return None
    report.add("PASS", KUBECONFIG, f"context {info.name} of {paths}: server {info.server}")
    if not _exec_plugin(report, runner, info):
        _skip_rest(report, EXEC, "needs a working exec plugin")
        return None
    return _cluster(report, lambda: connect(facts.kubeconfig_path, info.name, None), local=True)


def _aks(
    report: Report, runner: Runner, facts: StackFacts, found: dict[str, Found]
) -> Version | None:
    if "pulumi" not in found:
        _skip_rest(report, None, "needs pulumi to read the stack's kubeconfig output")
        return None
    try:
        outputs = stack_outputs(facts.stack, runner)
    except CanaryctlError as error:
        if "no stack named" in str(error):
            _skip_rest(report, None, f"no cluster yet (no stack {facts.stack})")
            return None
        passphrase = "passphrase" in str(error).lower()
        _stop(
            report,
            f"cannot read the stack's outputs: {error}",
            "export PULUMI_CONFIG_PASSPHRASE (or _FILE) for this stack"
            if passphrase
            else f"run `pulumi stack output --stack {facts.stack}` to see why",
        )
        return None
    if not isinstance(outputs.get("kubeconfig"), str):
        _skip_rest(report, None, "no cluster yet (`pulumi up` creates it)")
        return None
    where = f"the kubeconfig output of stack {facts.stack}"
    try:
        document = kubeconfig_check.parse_text(outputs["kubeconfig"], where)
        info = kubeconfig_check.inspect(document, None, where)
    except CanaryctlError as error:
        _stop(report, str(error), "run `pulumi up` to write it again")
        return None
    report.add("PASS", KUBECONFIG, f"{where}: context {info.name}, server {info.server}")
    if not _exec_plugin(report, runner, info):
        _skip_rest(report, EXEC, "needs a working exec plugin")
        return None
    return _cluster(
        report, lambda: from_document(document, info, f"stack {facts.stack}", where), local=False
    )


def _exec_plugin(report: Report, runner: Runner, info: kubeconfig_check.ContextInfo) -> bool:
    """Run the context's exec plugin once, with a timeout, and check it returns a credential."""
    plugin = info.exec_config
    if plugin is None:
        report.add("SKIP", EXEC, f"context {info.name} uses none (credentials in the kubeconfig)")
        return True
    command = str(plugin["command"])
    name = os.path.basename(command)
    path = kubeconfig_check.exec_plugin_path(info)
    if path is None:
        hint = kubeconfig_check.install_hint(info)
        problem = kubeconfig_check.missing_plugin(info).removesuffix(f": {hint}")
        report.add("FAIL", EXEC, problem, hint)
        return False
    env = {
        str(e.get("name")): str(e.get("value"))
        for e in plugin.get("env") or []
        if isinstance(e, dict)
    }
    # What the client passes the plugin; never interactive, so a login prompt fails instead.
    request = {
        "apiVersion": plugin["apiVersion"],
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    env["KUBERNETES_EXEC_INFO"] = json.dumps(request)
    login = (
        "`az login` (kubeloginMode azurecli), or set the AZURE_* variables of your kubeloginMode"
    )
    fix = login if name == "kubelogin" else f"run `{command}` by hand to see why"
    try:
        args = [path, *(str(a) for a in plugin.get("args") or [])]
        cwd = Path(info.base_dir) if info.base_dir else None
        result = runner.run(args, EXEC_TIMEOUT_SECONDS, env=env, cwd=cwd)
    except ToolFailed as error:
        report.add("FAIL", EXEC, f"{name} of context {info.name}: {error}", fix)
        return False
    if result.returncode != 0:
        report.add(
            "FAIL", EXEC, f"{name} of context {info.name} failed: {result.last_error()}", fix
        )
        return False
    try:  # the credential itself is a secret: only look whether there is one
        status = json.loads(result.stdout).get("status") or {}
    except (ValueError, AttributeError):
        status = {}
    if not (status.get("token") or status.get("clientCertificateData")):
        report.add("FAIL", EXEC, f"{name} of context {info.name} returned no credential", fix)
        return False
    report.add("PASS", EXEC, f"{name} at {path} returned a credential")
    return True


def _cluster(report: Report, target: Callable[[], Target], local: bool) -> Version | None:
    """API, RBAC and CRD checks on the cluster `target()` connects to; the server's version."""
    try:
        cluster = Cluster(target())
        status, version = cluster.probe("GET", "/version")
        ready, body = cluster.probe("GET", "/readyz") if status == 200 else (status, version)
    except CanaryctlError as error:
        _skip_rest(report, API, "needs the API", fail=str(error))
        return None
    server: Target = cluster.target
    if status != 200 or ready != 200:
        fix = (
            "`az login` again, or check the cluster runs" if not local else "check the cluster runs"
        )
        _skip_rest(
            report, API, "needs the API", fail=f"{server.server} answered {ready}: {body}", fix=fix
        )
        return None
    git_version = str(version.get("gitVersion") if isinstance(version, dict) else "")
    report.add(
        "PASS", API, f"{server.server} is ready, Kubernetes {git_version or 'version unknown'}"
    )
    try:
        _rbac(report, cluster, local)
        _crds(report, cluster)
    except Unavailable as error:
        report.add("FAIL", RBAC, str(error), "check the cluster runs, then run doctor again")
    return parse_version(git_version)


def _rbac(report: Report, cluster: Cluster, local: bool) -> None:
    fix = (
        "use a context with cluster-admin (kind's own context has it)"
        if local
        else "`pulumi up` makes you cluster admin (Azure Kubernetes Service RBAC Cluster Admin); "
        "a new role assignment takes up to 5 minutes to reach the cluster"
    )
    answers = {}
    for access in (EVERYTHING, *REQUIRED_ACCESS):
        status, answer = cluster.probe("POST", REVIEWS_PATH, access.review())
        if status != 200:
            report.add(
                "FAIL", RBAC, f"cannot ask the API what you may do ({status}: {answer})", fix
            )
            return
        answers[access] = allowed(answer)
        if access == EVERYTHING and answers[access]:
            report.add("PASS", RBAC, "cluster admin (may do everything the platform installs)")
            return
    refused = [str(a) for a, ok in answers.items() if not ok and a != EVERYTHING]
    also = f"; refused: {', '.join(refused)}" if refused else ""
    report.add("FAIL", RBAC, f"not cluster admin (the charts need it){also}", fix)


def _crds(report: Report, cluster: Cluster) -> None:
    present: list[str] = []
    missing: list[str] = []
    for plural in FLAGGER_CRDS:
        status, answer = cluster.probe("GET", CRD_PATH.format(plural))
        if status not in (200, 404):
            report.add(
                "FAIL",
                CRDS,
                f"cannot read CRDs ({status}: {answer})",
                "get cluster-admin (see rbac)",
            )
            return
        (present if status == 200 else missing).append(f"{plural}.flagger.app")
    if not missing:
        report.add("PASS", CRDS, f"installed: {', '.join(present)}")
    elif not present:
        report.add("SKIP", CRDS, "not yet installed (pulumi up installs them)")
    else:
        report.add(
            "FAIL",
            CRDS,
            f"only partly installed: {', '.join(missing)} missing",
            "`pulumi up` applies Flagger's CRDs again",
        )


def _skew(report: Report, kubectl: Found | None, target: Version | None) -> None:
    if kubectl is None or kubectl.version is None:
        report.add("SKIP", SKEW, "needs kubectl and its version")
        return
    if target is None:
        report.add("SKIP", SKEW, "no cluster version to compare with")
        return
    client, wanted = kubectl.version, f"{target[0]}.{target[1]}"
    if client[0] == target[0] and abs(client[1] - target[1]) <= 1:
        report.add("PASS", SKEW, f"kubectl {dotted(client)} works with Kubernetes {wanted}")
        return
    low, high = f"{target[0]}.{target[1] - 1}", f"{target[0]}.{target[1] + 1}"
    report.add(
        "FAIL",
        SKEW,
        f"kubectl {dotted(client)} is more than one minor from Kubernetes {wanted}",
        f"install kubectl {low} to {high} (`az aks install-cli --client-version {wanted}.0`, "
        "or https://kubernetes.io/docs/tasks/tools/)",
    )


def _stop(report: Report, problem: str, fix: str) -> None:
    """The kubeconfig check failed: report it and skip what needs a kubeconfig."""
    report.add("FAIL", KUBECONFIG, problem, fix)
    _skip_rest(report, KUBECONFIG, "needs a usable kubeconfig")


def _skip_rest(
    report: Report, after: str | None, reason: str, fail: str = "", fix: str = ""
) -> None:
    """SKIP every cluster check after `after` (all with None); `fail` first fails `after`."""
    names = (KUBECONFIG, EXEC, API, RBAC, CRDS)
    if fail and after is not None:
        report.add(
            "FAIL", after, fail, fix or "check the cluster runs and the context points at it"
        )
    for name in names[names.index(after) + 1 :] if after else names:
        report.add("SKIP", name, reason)
