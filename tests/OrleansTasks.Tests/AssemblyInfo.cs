// Timing assertions (retries within 250 ms of plan, backoff gaps) must not share two cores with the tests that
// start whole clusters of processes (chaos run, bench, run.sh): test classes run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
