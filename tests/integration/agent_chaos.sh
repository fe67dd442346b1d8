#!/bin/sh
# agent_chaos.sh - scripts/chaos, short: certsyncd killed with SIGKILL 5
# times at random moments of mass reissues of 20 users, then the verdict
# (no key lost, nothing stale or doubled, nothing revoked in the keystore,
# no temporary file left).  The long run (200 kills) is scripts/chaos.
exec sh "$CS_SRCDIR/scripts/chaos" 5 20
