"""canaryctl: follow, abort and promote the platform's Flagger canary releases from a terminal or CI.

Run from the checkout (or after `make install`) as `python -m canaryctl COMMAND`:

    status   [-n NS]                     every Canary, its weight, checks and recent events
    wait     NAME [-n NS] [--timeout S]  follow a release: exit 0 promoted, 1 rolled back, 2 timed out
    abort    NAME [-n NS] [--no-wait]    roll a release back through the load tester's rollback gate
    promote  NAME [-n NS] [--no-wait]    approve a release held at the promotion gate
    reset    NAME [-n NS]                close both gates
    plan     [--stack STACK]             the analysis timeline of a stack's settings, no cluster
    doctor   [--stack STACK]             preflight before `pulumi up`: exit 0 all passed, 3 a check failed

The cluster comes from --kubeconfig/$KUBECONFIG and --context, or --stack NAME (the stack's
kubeconfig output, read through the pulumi CLI into memory). Exit code 3 means canaryctl could not
do what was asked; the one-line message says why and what to do.
"""
