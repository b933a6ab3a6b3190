/**
 * Side-by-side measurement on a noisy machine: every variant runs once per repetition, in an order
 * that rotates from one repetition to the next (A B C, B C A, C A B, ...), so that drift and
 * ordering effects fall on every variant alike; ratios are then taken within a repetition.
 */
import * as Effect from "effect/Effect"

export interface Variant<K extends string, A, E, R> {
  readonly key: K
  readonly run: Effect.Effect<A, E, R>
}

/** Repetitions, from `BENCH_REPS` (at least 5). */
export const repetitions = Math.max(5, Number(process.env.BENCH_REPS ?? 5) || 5)

/** The length of one timed sample in ms, from `BENCH_SAMPLE_MS` (default 1000). */
export const sampleMs = Math.max(200, Number(process.env.BENCH_SAMPLE_MS ?? 1000) || 1000)

const collectGarbage = (globalThis as { gc?: () => void }).gc

/** A full collection before each sample (with `--expose-gc`), so that no sample inherits another's garbage. */
const settle = Effect.sync(() => collectGarbage?.())

/**
 * Runs each variant once to warm up (results dropped), then `reps` rotations; returns, for each
 * variant, its results by repetition.
 */
export const interleave = <K extends string, A, E, R>(
  variants: ReadonlyArray<Variant<K, A, E, R>>,
  options: { readonly reps?: number | undefined; readonly warmup?: boolean | undefined } = {}
): Effect.Effect<Record<K, Array<A>>, E, R> =>
  Effect.gen(function*() {
    const reps = options.reps ?? repetitions
    const results = {} as Record<K, Array<A>>
    for (const variant of variants) results[variant.key] = []
    if (options.warmup !== false) {
      for (const variant of variants) yield* Effect.zipRight(settle, variant.run)
    }
    for (let rep = 0; rep < reps; rep++) {
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(i + rep) % variants.length]
        results[variant.key].push(yield* Effect.zipRight(settle, variant.run))
      }
    }
    return results
  })

/** Element-wise `numerator[i] / denominator[i]`: the ratio within each repetition. */
export const ratios = (numerator: ReadonlyArray<number>, denominator: ReadonlyArray<number>): Array<number> =>
  numerator.map((value, i) => value / denominator[i])

/**
 * Paired measurement: for every pair `[baseline, variant]`, each repetition runs the two back to
 * back, in alternating order (A B, then B A), so that each ratio compares samples taken moments
 * apart. Returns every run's samples by key, and for each pair its samples by repetition.
 */
export const pairwise = <K extends string, A, E, R>(
  runs: Record<K, Effect.Effect<A, E, R>>,
  pairs: ReadonlyArray<readonly [K, K]>,
  options: { readonly reps?: number | undefined } = {}
): Effect.Effect<
  {
    readonly samples: Record<K, Array<A>>
    readonly pairs: ReadonlyArray<{ readonly baseline: Array<A>; readonly variant: Array<A> }>
  },
  E,
  R
> =>
  Effect.gen(function*() {
    const reps = options.reps ?? repetitions
    const keys = Object.keys(runs) as Array<K>
    const samples = {} as Record<K, Array<A>>
    for (const key of keys) {
      samples[key] = []
      yield* Effect.zipRight(settle, runs[key])
    }
    const paired = pairs.map(() => ({ baseline: [] as Array<A>, variant: [] as Array<A> }))
    for (let rep = 0; rep < reps; rep++) {
      for (let i = 0; i < pairs.length; i++) {
        const index = (i + rep) % pairs.length
        const [baseline, variant] = pairs[index]
        const order = rep % 2 === 0 ? [baseline, variant] : [variant, baseline]
        for (const key of order) {
          const sample = yield* Effect.zipRight(settle, runs[key])
          samples[key].push(sample)
          paired[index][key === baseline ? "baseline" : "variant"].push(sample)
        }
      }
    }
    return { samples, pairs: paired }
  })
