"""End-to-end test on a real cluster: deploy a stack, release a good and a bad podinfo, restart
the mesh, remove the service, destroy; every step's exit code counts.

Usage: PULUMI_CONFIG_PASSPHRASE=... python scripts/e2e.py --context kind-kind [--keep]

Needs the pulumi and kubectl CLIs, PULUMI_CONFIG_PASSPHRASE (or _FILE) for the stack's secrets,
and a reachable kubeconfig context; when one is missing it prints a line starting "SKIP:" and
exits 0, so a CI job without a cluster stays green. Otherwise, one banner per step:
  1. select the stack (default local, created if needed) and point it at --context
  2. `pulumi up`, then wait for Linkerd, Flagger, the load tester and the Canary (Initialized)
  3. release another podinfo version: `canaryctl wait` must exit 0 (promoted)
  4. release with services.podinfo.faults=errors: `canaryctl wait` must exit 1 (rolled back)
  5. `canaryctl restart-mesh` must exit 0, and start no release (the Canary stays Failed over
     two analysis intervals)
  6. remove podinfo from the stack: `pulumi up` must exit 0 and its namespace be gone
  7. `pulumi destroy` must exit 0 and every namespace the stack made be gone; then `pulumi stack
     rm` if the run created the stack
With --keep it stops after step 5 and leaves the platform running. When a step fails it prints
Flagger's logs, the canaries, the workload's events, Linkerd's pods and `linkerd check`, then
still runs `pulumi destroy` (unless --keep), and exits 1. Pulumi.<stack>.yaml is restored at the
end, so the run leaves no change in the checkout. With the stack's own analysis settings (local:
a run every 20 s) most of a run goes to installing the platform; no run has been timed since
these steps were added (this project's CI has no cluster).

$CANARYCTL, if set, is the canaryctl command line to run (default: the venv's canaryctl, which
`make install` installs beside this Python).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "podinfo"
# Real podinfo tags; the good release uses whichever the stack does not run yet.
VERSIONS = ("6.14.0", "6.14.1")
LINKERD_DEPLOYMENTS = ("linkerd-identity", "linkerd-destination", "linkerd-proxy-injector")
# Namespaces the stack creates besides its services' (stacks/cluster/existing_objects.py wanted()).
PLATFORM_NAMESPACES = ("cert-manager", "linkerd", "linkerd-viz", "monitoring", "flagger-system")


class StepFailed(Exception):
    """A step did not end as the test expects; the message says which and how."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", required=True, help="kubeconfig context, e.g. kind-kind")
    parser.add_argument("--stack", default="local", help="stack to deploy (default local)")
    parser.add_argument(
        "--interval",
        default="",
        help="canaryInterval for the run (default: the stack's own, 20s for local)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the platform deployed")
    args = parser.parse_args(argv)

    missing = missing_prerequisite(args.context)
    if missing:
        print(f"SKIP: {missing}")
        return 0
    run = Run(args.context, args.stack, keep=args.keep)
    stack_file = ROOT / f"Pulumi.{args.stack}.yaml"
    saved = stack_file.read_bytes() if stack_file.exists() else None
    try:
        run.test(args.interval)
        print(
            "\nPASS: the good release was promoted, the failing one rolled back, the mesh "
            "restarted without a release"
            + ("" if args.keep else ", the service removed and the stack destroyed")
        )
        return 0
    except StepFailed as failure:
        print(f"\nFAIL: {failure}")
        run.diagnose()
        return 1
    finally:
        if not args.keep and not run.destroyed:
            run.cleanup()  # after a failure: leave nothing behind (the run failed already)
        if run.created and (run.destroyed or not args.keep):
            # --preserve-config: the stack file is restored from the copy taken at the start.
            run.sh(
                "pulumi",
                "stack",
                "rm",
                "--yes",
                "--preserve-config",
                "--stack",
                args.stack,
                check=False,
            )
        # `pulumi config set` wrote to the committed stack file; put it back as it was.
        if saved is not None:
            stack_file.write_bytes(saved)
        elif stack_file.exists():
            stack_file.unlink()


def missing_prerequisite(context: str) -> str | None:
    """Why the test cannot run here, or None. Cheapest checks first: SKIP must be quick."""
    for tool in ("pulumi", "kubectl"):
        if shutil.which(tool) is None:
            return f"the {tool} CLI is not on PATH"
    if not {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"} & os.environ.keys():
        return "PULUMI_CONFIG_PASSPHRASE is not set (the stack's secrets need it)"
    try:
        probe = subprocess.run(
            ["kubectl", "--context", context, "get", "--raw", "/readyz", "--request-timeout=10s"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"context {context} did not answer within 30 s"
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines() or ["no answer"]
        return f"context {context} is not reachable: {lines[-1]}"
    return None


class Run:
    """One end-to-end run against `context`, with numbered step banners."""

    STEPS = 7

    def __init__(self, context: str, stack: str, keep: bool = False) -> None:
        self.context = context
        self.stack = stack
        self.keep = keep
        self.step = 0
        self.created = False
        self.destroyed = False
        self.interval_seconds = 20.0

    def test(self, interval: str) -> None:
        self.banner("select the stack and point it at the cluster", numbered=True)
        # A stack this run creates is removed again at the end; an existing one is kept.
        self.created = self.sh_output("pulumi", "stack", "select", self.stack) is None
        self.sh("pulumi", "stack", "select", self.stack, "--create")
        self.config("kubeContext", self.context)
        self.config("services.podinfo.faults", "none", path=True)
        if interval:
            self.config("canaryInterval", interval)
        configured = interval or self.sh_output(
            "pulumi", "config", "get", "canaryInterval", "--stack", self.stack
        )
        self.interval_seconds = seconds(configured or "20s")
        current = self.sh_output(
            "pulumi", "config", "get", "--path", "services.podinfo.version", "--stack", self.stack
        )
        new_version = next(v for v in VERSIONS if v != (current or VERSIONS[-1]))

        self.banner("deploy the platform", numbered=True)
        self.sh("pulumi", "up", "--yes", "--stack", self.stack)
        for deployment in LINKERD_DEPLOYMENTS:
            self.kubectl(
                "-n", "linkerd", "rollout", "status", f"deploy/{deployment}", "--timeout=5m"
            )
        self.kubectl("-n", "flagger-system", "rollout", "status", "deploy/flagger", "--timeout=5m")
        self.kubectl(
            "-n", NAMESPACE, "rollout", "status", "deploy/flagger-loadtester", "--timeout=5m"
        )
        # Promoted=True once Flagger has initialised the Canary (or promoted a release).
        self.kubectl(
            "-n", NAMESPACE, "wait", "canary/podinfo", "--for=condition=Promoted", "--timeout=10m"
        )
        self.canaryctl("status", "-n", NAMESPACE)

        self.banner(f"release podinfo {new_version}: expect promotion", numbered=True)
        self.config("services.podinfo.version", new_version, path=True)
        self.sh("pulumi", "up", "--yes", "--stack", self.stack)
        self.expect_wait(0, "promoted")

        self.banner("release podinfo with injected errors: expect rollback", numbered=True)
        self.config("services.podinfo.faults", "errors", path=True)
        self.sh("pulumi", "up", "--yes", "--stack", self.stack)
        self.expect_wait(1, "rolled back")

        self.banner("restart the mesh: expect new proxies and no release", numbered=True)
        before = self.canary_phase()
        self.canaryctl("restart-mesh")
        # A restarted target would be a new revision: Flagger notices it at its next run.
        time.sleep(2 * self.interval_seconds)
        after = self.canary_phase()
        if after != before:
            raise StepFailed(f"restart-mesh started a release: the Canary went {before} -> {after}")
        if self.keep:
            return

        self.banner("remove podinfo from the stack: expect it gone", numbered=True)
        self.sh("pulumi", "config", "rm", "--path", "services.podinfo", "--stack", self.stack)
        self.sh("pulumi", "up", "--yes", "--stack", self.stack)
        self.expect_gone(NAMESPACE)

        self.banner("pulumi destroy: expect every namespace of the stack gone", numbered=True)
        self.destroyed = True  # whatever it does, it is not run again in cleanup
        self.sh("pulumi", "destroy", "--yes", "--stack", self.stack)
        for namespace in PLATFORM_NAMESPACES:
            self.expect_gone(namespace)

    def cleanup(self) -> None:
        self.step = self.STEPS - 1  # cleanup is the last step however far the test got
        self.banner("clean up after the failure: pulumi destroy", numbered=True)
        self.sh("pulumi", "destroy", "--yes", "--stack", self.stack, check=False)

    def canary_phase(self) -> str:
        return (
            self.sh_output(
                "kubectl", "--context", self.context, "-n", NAMESPACE, "get", "canary/podinfo",
                "-o", "jsonpath={.status.phase}",
            )
            or "(unreadable)"
        )  # fmt: skip

    def expect_gone(self, namespace: str) -> None:
        """The namespace is deleted (or was never there) within 5 minutes."""
        code = self.kubectl(
            "wait", "--for=delete", f"namespace/{namespace}", "--timeout=5m", check=False
        )
        if (
            code != 0
            and self.sh_output("kubectl", "--context", self.context, "get", "namespace", namespace)
            is not None
        ):
            raise StepFailed(f"namespace {namespace} is still there 5 minutes later")

    def expect_wait(self, code: int, outcome: str) -> None:
        got = self.canaryctl("wait", "podinfo", "-n", NAMESPACE, check=False)
        if got != code:
            raise StepFailed(f"`canaryctl wait` exited {got}; expected {code} ({outcome})")

    def diagnose(self) -> None:
        self.banner("diagnostics")
        self.kubectl("-n", "flagger-system", "logs", "deploy/flagger", "--tail=200", check=False)
        self.kubectl("get", "canaries", "-A", "-o", "yaml", check=False)
        self.kubectl("-n", NAMESPACE, "get", "events", "--sort-by=.lastTimestamp", check=False)
        self.kubectl("-n", "linkerd", "get", "pods", "-o", "wide", check=False)
        if shutil.which("linkerd"):
            self.sh("linkerd", "check", "--context", self.context, check=False)

    def banner(self, title: str, numbered: bool = False) -> None:
        if numbered:
            self.step += 1
            title = f"[{self.step}/{self.STEPS}] {title}"
        print(f"\n==> {title}", flush=True)

    def config(self, key: str, value: str, path: bool = False) -> None:
        """`pulumi config set`; with `path`, a field inside an object key (services.podinfo...)."""
        where = ("--path",) if path else ()
        self.sh("pulumi", "config", "set", *where, key, value, "--stack", self.stack)

    def kubectl(self, *args: str, check: bool = True) -> int:
        return self.sh("kubectl", "--context", self.context, *args, check=check)

    def canaryctl(self, *args: str, check: bool = True) -> int:
        # The console script `make install` puts beside this Python: venv/bin/canaryctl.
        command = shlex.split(os.environ.get("CANARYCTL", "")) or [
            str(Path(sys.executable).with_name("canaryctl"))
        ]
        return self.sh(*command, *args, "--context", self.context, check=check)

    def sh(self, *command: str, check: bool = True) -> int:
        print(f"$ {' '.join(command)}", flush=True)
        code = subprocess.run(command, cwd=ROOT, check=False).returncode
        if check and code != 0:
            raise StepFailed(f"`{' '.join(command)}` exited {code}")
        return code

    def sh_output(self, *command: str) -> str | None:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else None


def seconds(duration: str) -> float:
    """A Flagger duration (20s, 1m) in seconds."""
    match = re.fullmatch(r"(\d+)(s|m)", duration.strip())
    if match is None:
        return 20.0
    return float(match[1]) * (60 if match[2] == "m" else 1)


if __name__ == "__main__":
    sys.exit(main())
