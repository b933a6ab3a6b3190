/**
 * The benchmark suite. Scenarios are added by the benchmarks issue; until then this prints what
 * is measured and exits cleanly.
 */
console.log("access-token benchmarks: no scenarios yet")
