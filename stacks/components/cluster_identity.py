"""Building block: which cluster an existing kubeconfig context points at, and a stop when it changes.

The local stack's Kubernetes provider is named by stack and context (`clusterIdentifier`), so
that a new token or CA is an update, not a replacement of every object. But `kind delete cluster
&& kind create cluster` keeps the context's name: Pulumi would see no change and report
everything as installed into a cluster that has none of it. Replacing the provider instead is no
way out: each object would be deleted through the old provider first, which now reaches the new
cluster, and a Helm release that is not there fails its uninstall (pulumi-kubernetes
provider/pkg/provider/helm_release.go Delete: action.Uninstall returns "release: not found").

So this resource records the UID of the cluster's kube-system namespace (new with every cluster)
and refuses to go on when it differs, before anything in the cluster is touched (the provider
depends on it). `pulumi refresh` reads the current UID (`read`), and, through the provider, drops
from state every object that is gone; the next `pulumi up` installs everything again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi.dynamic

TIMEOUT = (10, 30)


class ClusterChanged(Exception):
    """The context now reaches a different cluster than the one the stack deployed to."""


def refusal(olds: dict[str, Any], news: dict[str, Any]) -> str:
    return (
        f"context {news['context']} now reaches a cluster whose kube-system namespace has UID "
        f"{news['uid']}; this stack deployed to the one with UID {olds['uid']} (context "
        f"{olds['context']}), so its state describes objects that are not there. If the cluster "
        "was re-created: `pulumi refresh --yes` forgets what went with the old one, then "
        "`pulumi up` installs everything again. To move the stack to another cluster, run "
        "`pulumi destroy` against the old one first. Nothing was changed."
    )


def read_uid(context: str, kubeconfig: str | None) -> str | None:
    """kube-system's UID through `context`; None when the cluster cannot be reached."""
    from kubernetes import client, config

    try:
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
        namespace = client.CoreV1Api(api).read_namespace("kube-system", _request_timeout=TIMEOUT)
    except Exception:  # unreachable or no such context: refresh keeps what it knew
        return None
    return str(namespace.metadata.uid) if namespace.metadata else None


class _ClusterIdentityProvider(pulumi.dynamic.ResourceProvider):
    """diff refuses another cluster; read (refresh) takes in the one the context reaches now."""

    # A class attribute: the provider is serialised into the state, and it should hold no data.
    reader: Callable[[str, str | None], str | None] = staticmethod(read_uid)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_=props["uid"], outs=dict(props))

    def diff(
        self, _id: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.DiffResult:
        # `olds` are the recorded outputs, which `pulumi refresh` updates through `read`.
        if olds.get("uid") and news.get("uid") and olds["uid"] != news["uid"]:
            raise ClusterChanged(refusal(olds, news))
        changed = [key for key in ("context", "kubeconfig") if olds.get(key) != news.get(key)]
        return pulumi.dynamic.DiffResult(changes=bool(changed))

    def update(
        self, _id: str, _olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=dict(news))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        uid = self.reader(props["context"], props.get("kubeconfig")) or props.get("uid")
        return pulumi.dynamic.ReadResult(id_=id_, outs={**props, "uid": uid})


class ClusterIdentity(pulumi.dynamic.Resource, module="cluster", name="ClusterIdentity"):
    """The cluster a context reaches, by its kube-system namespace's UID."""

    def __init__(
        self,
        name: str,
        *,
        context: str,
        kubeconfig: str | None,
        uid: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            _ClusterIdentityProvider(),
            name,
            {"context": context, "kubeconfig": kubeconfig, "uid": uid},
            opts,
        )
