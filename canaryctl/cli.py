"""canaryctl's command line: parse the arguments, run one command, turn failures into exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from canaryctl.errors import BROKEN_PIPE, FAILED, INTERRUPTED, CanaryctlError, Forbidden

if TYPE_CHECKING:  # imported at run time only by commands that talk to a cluster
    from canaryctl.kube import Cluster
    from canaryctl.kubeconfig import Target

DEFAULT_POLL_SECONDS = 5.0

EPILOG = """\
exit codes: 0 done (promoted), 1 rolled back, 2 timed out, 3 could not do it (usage, config,
cluster access or a refused request) or `doctor` found a problem."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 3 so CI never reads them as `wait` timing out (2)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(FAILED, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="canaryctl",
        description="Follow, abort and promote the platform's Flagger canary releases.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cluster = _Parser(add_help=False)
    where = cluster.add_argument_group("cluster (default: $KUBECONFIG or ~/.kube/config)")
    where.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file to read")
    where.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    where.add_argument(
        "--stack",
        metavar="NAME",
        help="take the kubeconfig from this Pulumi stack's outputs (needs the pulumi CLI)",
    )

    one = _Parser(add_help=False)
    one.add_argument("name", metavar="NAME", help="the Canary's name, e.g. podinfo")
    one.add_argument(
        "-n",
        "--namespace",
        help="its namespace (default: the service's namespace in the stack's outputs, else the "
        "one namespace that has a Canary of that name)",
    )
    polling = _Parser(add_help=False)
    polling.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS", help="give up after this long"
    )
    polling.add_argument(
        "--poll",
        type=_positive,
        default=DEFAULT_POLL_SECONDS,
        metavar="SECONDS",
        help=f"seconds between looks at the Canary (default {DEFAULT_POLL_SECONDS:g})",
    )
    gated = _Parser(add_help=False)
    gated.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="open the gate and return; close it later with `reset`",
    )

    status = commands.add_parser(
        "status", parents=[cluster], help="every Canary, with recent events"
    )
    status.add_argument("-n", "--namespace", help="only this namespace (default: all)")
    status.add_argument(
        "--events", type=int, default=5, metavar="N", help="events per Canary (default 5)"
    )

    wait = commands.add_parser(
        "wait",
        parents=[one, polling, cluster],
        help="follow a release until promoted (0), rolled back (1) or timed out (2)",
        description="Follow a release live, with each check's value against its threshold as "
        "Flagger measures it, and end with the release report (each step, each check, the "
        "verdict). The default timeout is the slowest way the release can end by its live "
        "analysis settings (see canaryctl/canary.py); 0 waits forever.",
    )
    wait.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="json: the release report as JSON on stdout, progress on stderr (for CI)",
    )
    history = commands.add_parser(
        "history",
        parents=[one, cluster],
        help="past releases from Prometheus: version, start, outcome, steps, worst check values",
        description="List a service's past releases, newest first, reconstructed from the "
        "series the platform's Prometheus retains (asked through the API server's service "
        "proxy): version, start, duration, outcome, how far it got and each check's worst value "
        "against the threshold recorded then. --release N shows release N in full, step by step.",
    )
    history.add_argument(
        "--release", type=_release, metavar="N", help="show release N (1 is the newest) in full"
    )
    history.add_argument(
        "--since",
        type=_since,
        default="7d",
        metavar="DURATION",
        help="how far back to look, e.g. 24h, 7d, 2w (default 7d; Prometheus keeps "
        "prometheusRetention)",
    )
    history.add_argument("-o", "--output", choices=("text", "json"), default="text")
    commands.add_parser(
        "abort",
        parents=[one, gated, polling, cluster],
        help="roll the release back now (opens, then closes the load tester's rollback gate)",
        description="Open the load tester's rollback gate: Flagger rolls the release back at its "
        "next analysis run. canaryctl then waits for the rollback and closes the gate again, "
        "because an open gate would roll back the next release too. Exit 0 once rolled back.",
    )
    commands.add_parser(
        "promote",
        parents=[one, gated, polling, cluster],
        help="approve a release held at the promotion gate (opens, then closes the gate)",
        description="Open the load tester's promotion gate (needs a confirm-promotion webhook): "
        "Flagger promotes the release once it is at max weight. canaryctl waits until Flagger "
        "has passed the gate and closes it again, so the next release waits for approval too.",
    )
    commands.add_parser(
        "reset",
        parents=[one, cluster],
        help="close the rollback and promotion gates",
        description="Close both gates, e.g. after `abort --no-wait` or an interrupted promote.",
    )
    restart = commands.add_parser(
        "restart-mesh",
        parents=[cluster],
        help="restart every meshed workload (new proxies) without starting a release",
        description="Give every Deployment, StatefulSet and DaemonSet that Linkerd's proxy "
        "injector meshes new pods, one at a time, waiting for each rollout and checking that its "
        "pods have a proxy: after a Linkerd upgrade or a trust-anchor rotation. Flagger targets "
        "are left alone (a restart would start a canary release); their primaries are "
        "restarted. Namespaces with a release under way are skipped unless --force. Exit 0 when "
        "all rolled out with proxies, 2 when one did not within --timeout, 3 when one failed, "
        "started without a proxy, or a namespace was skipped.",
    )
    restart.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="only this namespace (repeatable; default: every namespace)",
    )
    restart.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up on a rollout after this long (default 300; 0 waits forever)",
    )
    restart.add_argument(
        "--poll",
        type=_positive,
        default=DEFAULT_POLL_SECONDS,
        metavar="SECONDS",
        help=f"seconds between looks at a rollout (default {DEFAULT_POLL_SECONDS:g})",
    )
    restart.add_argument(
        "--dry-run", action="store_true", help="list what would be restarted and stop"
    )
    restart.add_argument(
        "--force",
        action="store_true",
        help="restart in namespaces where a release is under way too (its webhooks may fail)",
    )
    doctor = commands.add_parser(
        "doctor",
        help="preflight a stack before `pulumi up`: config, tools, Azure, the cluster",
        description="Check everything `pulumi up` and canaryctl need for a stack, one line per "
        "check (PASS, FAIL with a fix, or SKIP), without changing anything. First the stack's "
        "config as `pulumi up` judges it (with a config it refuses, only the tools are checked "
        "besides); then the tools and their versions; for dev/prod the az login and "
        "subscription, the Kubernetes version offered in the region, the VM sizes offered in its "
        "zones, vCPU quota at creation, at the autoscaler maximum, during an upgrade and while "
        "the user pool is replaced, the resource providers, the rights to create resources and "
        "role assignments, and whether this machine's address is inside "
        "apiServerAuthorizedIpRanges; and the cluster (local: kubeContext; AKS: once deployed): "
        "kubeconfig, exec plugin, API, RBAC, Flagger CRDs, kubectl skew. docs/doctor.md "
        "describes each check. Exit 0 when nothing failed, 3 otherwise.",
    )
    doctor.add_argument(
        "--stack", default="dev", metavar="NAME", help="the stack to check (default: dev)"
    )
    check = commands.add_parser(
        "check",
        help="judge a stack's config as `pulumi up` would, offline: every problem at once",
        description="Apply every rule `pulumi up` applies to a stack's config before creating "
        "anything: the Pulumi CLI's own (required keys, types, secrets), every stack key, every "
        "service declaration and the rules across them. Prints each problem with where it is "
        "written, what was given and what is allowed (with a did-you-mean for unknown keys). "
        "Exit 0 when the config is accepted, 1 when it is refused. No cluster or Azure needed.",
    )
    check.add_argument(
        "stack",
        nargs="?",
        default="dev",
        metavar="STACK",
        help="a stack name or its file, e.g. dev or Pulumi.staging.yaml (default: dev)",
    )
    plan = commands.add_parser(
        "plan", help="the release timeline of each of a stack's services (no cluster)"
    )
    plan.add_argument(
        "names", nargs="*", metavar="NAME", help="only these services (default: all the stack runs)"
    )
    plan.add_argument(
        "--stack", default="dev", help="stack whose Pulumi.<stack>.yaml to read (default dev)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except CanaryctlError as error:
        sys.stdout.flush()
        print(f"canaryctl: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("\ncanaryctl: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`canaryctl status | head`): stop quietly, as Unix tools do, and
        # keep Python from complaining again while it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE


def _run(args: argparse.Namespace) -> int:
    # Imported here so `plan` and `--help` do not pay for importing the Kubernetes client.
    if args.command == "plan":
        from canaryctl import plan

        return plan.run(args.stack, args.names, sys.stdout)
    if args.command == "check":
        from canaryctl import check

        return check.run(args.stack, sys.stdout)
    if args.command == "doctor":
        from canaryctl import doctor

        return doctor.run(args.stack, sys.stdout)

    from canaryctl import gates, status, wait
    from canaryctl.canary import Canary
    from canaryctl.kube import Cluster
    from canaryctl.kubeconfig import connect

    target = connect(args.kubeconfig, args.context, args.stack)
    cluster = Cluster(target)
    if args.command == "status":
        return status.run(cluster, args.namespace, args.events, sys.stdout)
    if args.command == "restart-mesh":
        from canaryctl import restart

        return restart.run(
            cluster,
            args.namespace,
            args.timeout,
            args.poll,
            args.dry_run,
            sys.stdout,
            force=args.force,
        )
    namespace = (
        args.namespace or target.services.get(args.name) or _find(cluster, args.name, target)
    )
    if args.command == "wait":
        return wait.run(
            cluster, namespace, args.name, args.timeout, args.poll, sys.stdout, args.output
        )
    if args.command == "history":
        from canaryctl import history

        return history.run(
            cluster, namespace, args.name, args.release, args.since, args.output, sys.stdout
        )
    canary = Canary.from_object(cluster.get_canary(namespace, args.name))
    if args.command == "abort":
        return gates.abort(cluster, canary, args.wait, args.timeout, args.poll, sys.stdout)
    if args.command == "promote":
        return gates.promote(cluster, canary, args.wait, args.timeout, args.poll, sys.stdout)
    return gates.reset(cluster, canary, sys.stdout)


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _release(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("1 is the newest release")
    return value


def _since(text: str) -> int:
    from canaryctl.history import since_seconds

    try:
        return since_seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a whole number of minutes, hours, days or weeks, e.g. 24h or 7d"
        ) from None


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _find(cluster: Cluster, name: str, target: Target) -> str:
    """The namespace of the one Canary called `name`, an error naming them all when there are
    several. When there is none, or the identity may not list Canaries across namespaces, the
    context's namespace, else the name itself (a service's namespace unless it sets another)."""
    fallback = target.namespace or name
    try:
        canaries = cluster.list_canaries(None)
    except Forbidden:
        return fallback
    found = sorted(
        str((c.get("metadata") or {}).get("namespace"))
        for c in canaries
        if (c.get("metadata") or {}).get("name") == name
    )
    if len(found) > 1:
        raise CanaryctlError(
            f"Canaries named {name} exist in {', '.join(found)}: pass -n NAMESPACE"
        )
    return found[0] if found else fallback
