/**
 * Closed-loop load: `concurrency` workers each send one request after the other until the time or
 * the request budget runs out, recording every latency.
 */
import * as Effect from "effect/Effect"
import { quantile } from "./stats.js"

export interface LoadOptions {
  readonly concurrency: number
  readonly durationMs: number
  /** A hard bound on the requests of one run, whatever the time. */
  readonly maxRequests?: number | undefined
}

export interface LoadResult {
  readonly requests: number
  /** Requests that failed or were not answered `200`. */
  readonly failures: number
  readonly seconds: number
  /** CPU time of this process (user + system) per request, in µs: the client's own cost. */
  readonly cpuMicrosPerRequest: number
  /** Latencies in ms, ascending. */
  readonly latencies: Float64Array
}

export const requestsPerSecond = (result: LoadResult): number => result.requests / result.seconds
export const p50 = (result: LoadResult): number => quantile(result.latencies, 0.5)
export const p99 = (result: LoadResult): number => quantile(result.latencies, 0.99)
export const cpuPerRequest = (result: LoadResult): number => result.cpuMicrosPerRequest

const defaultMaxRequests = 2_000_000

class Recorder {
  readonly latencies: Float64Array
  issued = 0
  done = 0
  failures = 0
  readonly start = performance.now()
  readonly cpu = process.cpuUsage()
  readonly deadline: number
  constructor(readonly options: LoadOptions) {
    this.latencies = new Float64Array(options.maxRequests ?? defaultMaxRequests)
    this.deadline = this.start + options.durationMs
  }
  next(): boolean {
    if (this.issued >= this.latencies.length || performance.now() >= this.deadline) return false
    this.issued++
    return true
  }
  record(startedAt: number, status: number): void {
    this.latencies[this.done++] = performance.now() - startedAt
    if (status !== 200) this.failures++
  }
  result(): LoadResult {
    const cpu = process.cpuUsage(this.cpu)
    return {
      requests: this.done,
      failures: this.failures,
      seconds: (performance.now() - this.start) / 1000,
      cpuMicrosPerRequest: (cpu.user + cpu.system) / this.done,
      latencies: this.latencies.slice(0, this.done).sort()
    }
  }
}

/** Load from a promise-returning request that resolves to the HTTP status. */
export const loadAsync = async (request: () => Promise<number>, options: LoadOptions): Promise<LoadResult> => {
  const recorder = new Recorder(options)
  const worker = async () => {
    while (recorder.next()) {
      const startedAt = performance.now()
      let status = 0
      try {
        status = await request()
      } catch {
        status = 0
      }
      recorder.record(startedAt, status)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  return recorder.result()
}

/** Load from an effect that succeeds with the HTTP status; a failure counts as a failed request. */
export const loadEffect = <E, R>(request: Effect.Effect<number, E, R>, options: LoadOptions) =>
  Effect.suspend(() => {
    const recorder = new Recorder(options)
    const guarded = Effect.catchAllCause(request, () => Effect.succeed(0))
    const worker = Effect.gen(function*() {
      while (recorder.next()) {
        const startedAt = performance.now()
        const status = yield* guarded
        recorder.record(startedAt, status)
      }
    })
    return Effect.as(
      Effect.all(Array.from({ length: options.concurrency }, () => worker), {
        concurrency: "unbounded",
        discard: true
      }),
      recorder
    ).pipe(Effect.map((recorder) => recorder.result()))
  })
