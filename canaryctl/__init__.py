"""canaryctl: follow, abort and promote the platform's Flagger canary releases from a terminal or CI.

`make install` installs it as the console script venv/bin/canaryctl (`source venv/bin/activate`
puts it on PATH); run it from the checkout:

    status   [-n NS]                     every Canary, its weight, checks and recent events
    wait     NAME [-n NS] [--timeout S]  follow a release: exit 0 promoted, 1 rolled back, 2 timed out
    history  NAME [-n NS] [--release N]  past releases from Prometheus's retained series
    abort    NAME [-n NS] [--no-wait]    roll a release back through the load tester's rollback gate
    promote  NAME [-n NS] [--no-wait]    approve a release held at the promotion gate
    reset    NAME [-n NS]                close both gates
    plan     [--stack STACK]             the analysis timeline of a stack's settings, no cluster
    restart-mesh [-n NS] [--dry-run]     new proxies for every meshed workload, no release started
    doctor   [--stack STACK]             preflight before `pulumi up`: exit 0 all passed, 3 a check failed

The cluster comes from --kubeconfig/$KUBECONFIG and --context, or --stack NAME (the stack's
kubeconfig output, read through the pulumi CLI into memory). Exit code 3 means canaryctl could not
do what was asked; the one-line message says why and what to do.
"""
