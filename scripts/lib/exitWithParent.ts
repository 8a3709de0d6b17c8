// Loaded into a child the offline tools start (the policy pack's server): it exits once its
// parent is gone, which closes the child's stdin, so that no server outlives a plan or a check
// that crashed, ran out of memory or was killed.
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
