"""Cluster layer for AKS: the cluster (aks.py) with its pools, access and maintenance windows."""

from stacks.cluster.aks import AksCluster, AksClusterArgs

__all__ = ["AksCluster", "AksClusterArgs"]
