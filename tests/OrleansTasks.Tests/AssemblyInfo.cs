// Timing assertions (retries and delayed starts never early and within seconds of plan, backoff gaps) should not
// share two cores with the tests that start whole clusters of processes (chaos run, bench, run.sh): test classes
// run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
