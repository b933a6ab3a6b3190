/**
 * Proof that no secret reaches your telemetry: a tracer that keeps every span whole (attributes,
 * events, links, status with its exit, context, parent), and a walk of everything reachable from a
 * value, the way the most thorough exporter or span processor would read it: every member, every
 * getter, every map and set entry, every byte array decoded. This repository's own span-hygiene
 * tests are written with it.
 *
 * @example
 * ```ts
 * import { SpanRecorder } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * const SECRET = "s3cr3t-sentinel"
 *
 * // Your code under test, traced; here it puts a secret where an exporter would find it.
 * const careless = Effect.void.pipe(Effect.withSpan("login", { attributes: { password: SECRET } }))
 *
 * const program = Effect.gen(function*() {
 *   const { spans } = yield* SpanRecorder.record(careless)
 *   assert.deepStrictEqual(SpanRecorder.leaks(spans, [SECRET]), [`"${SECRET}" is reachable from span login`])
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/**
 * A span that keeps everything it is given, so that a test can walk it in full.
 *
 * @since 0.2.0
 * @category models
 */
export class RecordedSpan implements Tracer.Span {
  /**
   * @since 0.2.0
   */
  readonly _tag = "Span"
  /**
   * @since 0.2.0
   */
  readonly spanId = Math.random().toString(16).slice(2)
  /**
   * @since 0.2.0
   */
  readonly traceId: string
  /**
   * @since 0.2.0
   */
  readonly sampled = true
  /**
   * @since 0.2.0
   */
  status: Tracer.SpanStatus
  /**
   * @since 0.2.0
   */
  readonly attributes = new Map<string, unknown>()
  /**
   * @since 0.2.0
   */
  readonly events: Array<[string, bigint, Record<string, unknown>]> = []
  /**
   * @since 0.2.0
   */
  readonly links: Array<Tracer.SpanLink>

  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: Iterable<Tracer.SpanLink>,
    readonly startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.status = { _tag: "Started", startTime }
    this.traceId = Option.isSome(parent) ? parent.value.traceId : Math.random().toString(16).slice(2)
    this.links = Array.from(links)
  }

  /**
   * @since 0.2.0
   */
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }

  /**
   * @since 0.2.0
   */
  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }

  /**
   * @since 0.2.0
   */
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.events.push([name, startTime, attributes ?? {}])
  }

  /**
   * @since 0.2.0
   */
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }
}

/**
 * A tracer and the spans it has made.
 *
 * @since 0.2.0
 * @category models
 */
export interface SpanRecorder {
  /** Every span made so far, in the order they started. */
  readonly spans: ReadonlyArray<RecordedSpan>
  readonly tracer: Tracer.Tracer
}

/**
 * A recorder, for a test that installs its tracer itself (`Effect.withTracer`, `Layer.setTracer`).
 *
 * @example
 * ```ts
 * import { SpanRecorder } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const recorder = yield* SpanRecorder.make
 *   yield* Effect.void.pipe(Effect.withSpan("work"), Effect.withTracer(recorder.tracer))
 *   assert.deepStrictEqual(recorder.spans.map((span) => span.name), ["work"])
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<SpanRecorder> = Effect.sync(() => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const span = new RecordedSpan(name, parent, context, links, startTime, kind)
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  return { spans, tracer }
})

/**
 * Runs `effect` under a recording tracer: its exit, and every span it made.
 *
 * @example
 * ```ts
 * import { SpanRecorder } from "@access-token/testing"
 * import { Effect, Exit } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const { exit, spans } = yield* SpanRecorder.record(Effect.fail("boom").pipe(Effect.withSpan("failing")))
 *   assert.ok(Exit.isFailure(exit))
 *   assert.strictEqual(spans[0]?.status._tag, "Ended")
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const record = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<{ readonly exit: Exit.Exit<A, E>; readonly spans: ReadonlyArray<RecordedSpan> }, never, R> =>
  Effect.flatMap(
    make,
    (recorder) =>
      Effect.map(Effect.exit(Effect.withTracer(effect, recorder.tracer)), (exit) => ({ exit, spans: recorder.spans }))
  )

const decoder = new TextDecoder()

/**
 * Every string reachable from `root`: the strings among its members of any kind (own and
 * inherited getters included, a getter that throws skipped), map and set entries, byte arrays
 * decoded as UTF-8, and each object's `String()` and `JSON.stringify()`, to a depth of 60.
 *
 * @example
 * ```ts
 * import { SpanRecorder } from "@access-token/testing"
 *
 * const found = SpanRecorder.reachableText({ headers: new Map([["authorization", "Bearer abc"]]) })
 * assert.ok(found.includes("Bearer abc"))
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const reachableText = (root: unknown): Array<string> => {
  const out: Array<string> = []
  const seen = new Set<object>()
  const visit = (value: unknown, depth: number): void => {
    if (typeof value === "string") {
      out.push(value)
      return
    }
    if (value === null || typeof value !== "object" || depth > 60 || seen.has(value)) return
    seen.add(value)
    if (ArrayBuffer.isView(value)) {
      out.push(decoder.decode(value))
      return
    }
    if (value instanceof Map) {
      for (const [key, member] of value) {
        visit(key, depth + 1)
        visit(member, depth + 1)
      }
    }
    if (value instanceof Set) { for (const member of value) visit(member, depth + 1) }
    for (
      let holder: object | null = value;
      holder !== null && holder !== Object.prototype;
      holder = Object.getPrototypeOf(holder)
    ) {
      for (const key of Reflect.ownKeys(holder)) {
        const descriptor = Object.getOwnPropertyDescriptor(holder, key)
        if (descriptor === undefined) continue
        if (holder === value && "value" in descriptor) {
          visit(descriptor.value, depth + 1)
        } else if (descriptor.get !== undefined) {
          try {
            visit(descriptor.get.call(value), depth + 1)
          } catch {
            // A getter that throws holds nothing to find.
          }
        }
      }
    }
    try {
      out.push(String(value), JSON.stringify(value) ?? "")
    } catch {
      // Not serialisable this way: its members were walked above.
    }
  }
  visit(root, 0)
  return out
}

/**
 * Which of `secrets` are reachable from which of `spans`, one line each (empty when none is):
 * the assertion of a span-hygiene test.
 *
 * @example
 * ```ts
 * import { SpanRecorder } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const { spans } = yield* SpanRecorder.record(Effect.void.pipe(Effect.withSpan("clean")))
 *   assert.deepStrictEqual(SpanRecorder.leaks(spans, ["s3cr3t"]), [])
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const leaks = (spans: ReadonlyArray<RecordedSpan>, secrets: ReadonlyArray<string>): Array<string> => {
  const found = new Set<string>()
  for (const span of spans) {
    const texts = reachableText(span)
    for (const secret of secrets) {
      if (texts.some((text) => text.includes(secret))) found.add(`"${secret}" is reachable from span ${span.name}`)
    }
  }
  return Array.from(found)
}

/**
 * What {@link watch} saw of an effect: its exit, its spans recorded whole, and its log lines (each
 * message, cause and annotation) as text.
 *
 * @since 0.2.0
 * @category models
 */
export interface Watched<A, E> {
  readonly exit: Exit.Exit<A, E>
  readonly spans: ReadonlyArray<RecordedSpan>
  readonly logs: ReadonlyArray<string>
}

/**
 * {@link record}, with every log line at every level kept as text too, for {@link leaksOf}.
 *
 * @example
 * ```ts
 * import { SpanRecorder } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const watched = yield* SpanRecorder.watch(Effect.logDebug("token sent"))
 *   assert.deepStrictEqual(SpanRecorder.leaksOf(watched, ["s3cr3t"]), [])
 *   assert.deepStrictEqual(SpanRecorder.leaksOf(watched, ["token sent"]), ['"token sent" is logged'])
 * })
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const watch = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Watched<A, E>, never, R> =>
  Effect.suspend(() => {
    const logs: Array<string> = []
    const logger = Logger.make(({ annotations, cause, message }) => {
      logs.push(
        Inspectable.toStringUnknown(message),
        Cause.pretty(cause, { renderErrorCause: true }),
        Inspectable.format([...annotations])
      )
    })
    return Effect.map(
      record(
        effect.pipe(
          Logger.withMinimumLogLevel(LogLevel.All),
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
      ),
      ({ exit, spans }) => ({ exit, spans, logs })
    )
  })

/**
 * Which of `secrets` a span or a log line of {@link watch} holds, one line each (empty when none
 * does): {@link leaks}, and the logs besides.
 *
 * @since 0.2.0
 * @category utils
 */
export const leaksOf = (
  watched: Pick<Watched<unknown, unknown>, "logs" | "spans">,
  secrets: ReadonlyArray<string>
): Array<string> => [
  ...leaks(watched.spans, secrets),
  ...secrets.filter((secret) => watched.logs.some((line) => line.includes(secret))).map((secret) =>
    `"${secret}" is logged`
  )
]
