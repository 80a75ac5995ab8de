#!/bin/sh
# The full simulator runs behind the tables in docs/BENCHMARKS.md: the DHT
# at 1,000 and 10,000 nodes with 0 % and 20 % churn, then gossip at 20 to
# 10,000 nodes with its scenarios. About 6 minutes on this machine; SEED picks
# another reproducible run.
set -eu
build=${1:-build}
seed=${SEED:-1}
for nodes in 1000 10000; do
    for churn in 0 20; do
        echo "== sim_dht --nodes $nodes --churn $churn --seed $seed"
        "$build"/tests/sim_dht --nodes "$nodes" --churn "$churn" --seed "$seed"
    done
done
echo "== sim_gossip --seed $seed"
"$build"/tests/sim_gossip --seed "$seed"
