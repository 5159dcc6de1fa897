"""Services layer: every declared service released by Flagger, its manifests, analysis and rollout plan."""
