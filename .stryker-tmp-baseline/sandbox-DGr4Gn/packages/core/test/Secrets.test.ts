/**
 * The client secret and the access token go on the wire where they belong and nowhere else: not
 * in a log line at any level, a span, an error in any rendering, nor in the inspection of the
 * services and values that hold them, whatever the token endpoint does.
 */
// @ts-nocheck

import { ClientCredentialsClient, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { SpanRecorder } from "@access-token/testing"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Context,
  Duration,
  Effect,
  Exit,
  HashMap,
  Inspectable,
  Layer,
  List,
  Logger,
  LogLevel,
  Redacted,
  Schedule
} from "effect"
import type { FiberRefs, Scope } from "effect"
import * as Crypto from "node:crypto"
import * as Util from "node:util"
import * as FaultServer from "./utils/FaultServer.js"

const SECRET = "SECRET-9f8e7d-sentinel"
const TOKEN = "TOKEN-1a2b3c-sentinel"
const CLIENT_ID = "worker"
/** The secret as `client_secret_basic` puts it on the wire. */
const BASIC = Buffer.from(`${CLIENT_ID}:${SECRET}`).toString("base64")

const sentinels = [SECRET, TOKEN, BASIC]

/** A private key for `private_key_jwt`, and what a leak of it would show: its PEM lines, its JWK members. */
const PRIVATE_KEY = Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
const PRIVATE_KEY_PEM = PRIVATE_KEY.export({ type: "pkcs8", format: "pem" }) as string
const keySentinels = [
  ...PRIVATE_KEY_PEM.split("\n").filter((line) => line.length > 20 && !line.startsWith("-----")),
  (PRIVATE_KEY.export({ format: "jwk" }) as { d: string }).d
]

/** How the client proves who it is: a credential style of its secret, or a signed assertion. */
type Authentication = ClientCredentialsClient.CredentialStyle | "private_key_jwt" | "client_secret_jwt" | "jwt_bearer"

/** The form member that carries the method's assertion, if it sends one. */
const assertionParameter = (authentication: Authentication): string | undefined =>
  authentication === "jwt_bearer"
    ? "assertion"
    : authentication === "private_key_jwt" || authentication === "client_secret_jwt"
    ? "client_assertion"
    : undefined

/** Every rendering of a value a person or a tool might see. */
const renderings = (value: unknown): ReadonlyArray<string> => {
  const out = [String(value), Util.inspect(value, { depth: 10, getters: true }), Inspectable.toStringUnknown(value)]
  try {
    out.push(JSON.stringify(value) ?? "")
  } catch (error) {
    out.push(`JSON.stringify threw ${String(error)}`)
  }
  if (value instanceof Error) out.push(value.message, value.stack ?? "")
  return out
}

/** Everything the program let out, each piece labelled with where it came from. */
class Observed {
  readonly pieces: Array<{ readonly where: string; readonly text: string }> = []
  /** More sentinels, such as the client assertions that went on the wire. */
  readonly extra: Array<string> = []
  private readonly recorder = Effect.runSync(SpanRecorder.make)
  readonly spans = this.recorder.spans

  add(where: string, value: unknown) {
    for (const text of renderings(value)) this.pieces.push({ where, text })
  }

  readonly logger = Logger.make(({ annotations, cause, logLevel, message, spans }) => {
    const line = [
      logLevel.label,
      ...(Array.isArray(message) ? message : [message]).map((part) => Inspectable.toStringUnknown(part)),
      JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations))),
      List.toArray(spans).map((span) => span.label).join(","),
      Cause.isEmpty(cause) ? "" : Cause.pretty(cause, { renderErrorCause: true })
    ].join(" ")
    this.pieces.push({ where: "log", text: line })
  })

  readonly tracer = this.recorder.tracer

  /** The fiber refs of the program, as Effect's loggers render values with them. */
  fiberRefs: FiberRefs.FiberRefs | undefined = undefined

  /**
   * Adds every recorded span: its name, attributes, events and outcome. The outcome of
   * `@effect/platform`'s own `http.client` spans holds its request, whose headers are redacted by
   * the fiber's `Headers.currentRedactedNames` when Effect renders them (in a log line, or by an
   * exporter through `Cause.pretty`): they are rendered that way. Every other outcome is rendered
   * in every way, in no context at all.
   */
  collectSpans() {
    for (const span of this.spans) {
      const where = `span ${span.name}`
      const platform = span.name.startsWith("http.client")
      const add = (label: string, value: unknown) =>
        platform && this.fiberRefs !== undefined
          ? Inspectable.withRedactableContext(this.fiberRefs, () => this.add(label, value))
          : this.add(label, value)
      this.pieces.push({ where, text: span.name })
      for (const [key, value] of span.attributes) this.add(`${where} attribute ${key}`, value)
      for (const [name, , attributes] of span.events) this.add(`${where} event ${name}`, attributes)
      if (span.status._tag === "Ended") {
        const exit = span.status.exit
        if (Exit.isFailure(exit)) {
          this.pieces.push({ where: `${where} failure`, text: Cause.pretty(exit.cause, { renderErrorCause: true }) })
          for (const failure of Cause.failures(exit.cause)) add(`${where} error`, failure)
        } else {
          add(`${where} value`, exit.value)
        }
      }
    }
  }

  /** Fails naming every place a sentinel turned up. */
  assertClean() {
    this.collectSpans()
    const leaks = this.pieces.flatMap(({ text, where }) =>
      [...sentinels, ...this.extra].filter((sentinel) => text.includes(sentinel)).map((sentinel) =>
        `${sentinel} in ${where}: ${text}`
      )
    )
    assert.deepStrictEqual(leaks, [])
  }
}

const setup = (authentication: Authentication, observed: Observed) =>
  Effect.gen(function*() {
    const server = yield* FaultServer.make({ token: () => FaultServer.Reply.token({ value: TOKEN }) })
    const input: ClientCredentialsClient.Input = authentication === "jwt_bearer"
      ? {
        tokenEndpoint: server.url,
        clientId: CLIENT_ID,
        // The key on one line with literal \n, as the environment holds it, and an audience given as it is.
        grant: { privateKey: Redacted.make(PRIVATE_KEY_PEM.trim().replaceAll("\n", "\\n")), audience: server.url }
      }
      : authentication === "private_key_jwt"
      ? {
        tokenEndpoint: server.url,
        clientId: CLIENT_ID,
        authentication: {
          method: authentication,
          privateKey: Redacted.make(PRIVATE_KEY_PEM),
          audience: "tokenEndpoint"
        }
      }
      : authentication === "client_secret_jwt"
      ? {
        tokenEndpoint: server.url,
        clientId: CLIENT_ID,
        clientSecret: Redacted.make(SECRET),
        authentication: { method: authentication, audience: "tokenEndpoint" }
      }
      : {
        tokenEndpoint: server.url,
        clientId: CLIENT_ID,
        clientSecret: Redacted.make(SECRET),
        credentialStyle: authentication
      }
    const endpoint = TokenEndpointClient.layer({
      requestTimeout: "200 millis",
      retrySchedule: Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(1))),
      maxRetryAfter: "50 millis"
    }).pipe(Layer.provide(NodeHttpClient.layerUndici))
    const service = TokenService.layer({
      clients: { worker: input },
      // A renewal right away, retried once: so that a failed renewal is logged.
      refreshWindow: { margin: "1 hour" },
      refreshRetrySchedule: Schedule.recurs(1)
    }).pipe(Layer.provide([endpoint, TokenCache.layerMemory()]), Layer.orDie)
    const context = yield* Layer.build(Layer.merge(service, endpoint))
    const tokens = Context.get(context, TokenService.TokenService)
    const client = yield* Effect.orDie(ClientCredentialsClient.make(input, "worker"))
    observed.add("the TokenService service", tokens)
    observed.add("the TokenEndpointClient service", Context.get(context, TokenEndpointClient.TokenEndpointClient))
    observed.add("the ClientCredentialsClient", client)
    return { server, tokens, client }
  })

/** Runs `effect` with every log level on, every log line and span captured by `observed`. */
const observing = <A, E>(observed: Observed, effect: Effect.Effect<A, E, Scope.Scope>) =>
  effect.pipe(
    Effect.scoped,
    Effect.zipLeft(Effect.flatMap(Effect.getFiberRefs, (refs) =>
      Effect.sync(() => {
        observed.fiberRefs = refs
      }))),
    Effect.withTracer(observed.tracer),
    Logger.withMinimumLogLevel(LogLevel.All),
    Effect.provide(Logger.replace(Logger.defaultLogger, observed.logger))
  )

describe("secrets and tokens", () => {
  for (const authentication of ["header", "body", "private_key_jwt", "client_secret_jwt", "jwt_bearer"] as const) {
    const how = authentication === "header" || authentication === "body"
      ? `credentials in the ${authentication}`
      : authentication
    it.live(`stay out of logs, spans, errors and inspection through every fault (${how})`, () => {
      const observed = new Observed()
      observed.extra.push(...keySentinels)
      return observing(
        observed,
        Effect.gen(function*() {
          const { server, tokens } = yield* setup(authentication, observed)
          for (const fault of FaultServer.faults(TOKEN)) {
            yield* fault.start(server)
            const exit = yield* Effect.exit(tokens.getToken("worker"))
            if (Exit.isFailure(exit)) {
              assert.isTrue(Cause.isFailType(exit.cause), Cause.pretty(exit.cause))
              observed.pieces.push({ where: `${fault.name}: cause`, text: Cause.pretty(exit.cause) })
              for (const error of Cause.failures(exit.cause)) observed.add(`${fault.name}: error`, error)
            } else {
              observed.add(`${fault.name}: token`, exit.value)
            }
            // The readiness view quotes the last failure's message.
            observed.add(`${fault.name}: readiness`, yield* tokens.readiness)
            yield* fault.stop(server)
            // Drop, not invalidate: a refusal's backoff ends too, so the next fault reaches the server.
            yield* tokens.drop("worker")
          }
          // A refused client's backoff warned once, through the same check as every other line.
          assert.isTrue(
            observed.pieces.some(({ text, where }) =>
              where === "log" && text.includes("check the client's credentials")
            ),
            "the refusal backoff's warning was logged"
          )

          // A token that enters its refresh window at once, and a renewal that fails: a warning.
          server.enqueue(FaultServer.Reply.token({ value: TOKEN, expiresIn: 30 }))
          const token = yield* tokens.getToken("worker")
          observed.add("the AccessToken", token)
          // The server echoes the client's credentials: its secret, or an assertion it sent before.
          const sent = server.requests.at(-1)?.body ?? ""
          const lastAssertion = new URLSearchParams(sent).get(assertionParameter(authentication) ?? "") ?? ""
          const echoed = authentication === "private_key_jwt" || authentication === "jwt_bearer"
            ? lastAssertion
            : `${SECRET} ${lastAssertion}`
          server.fail(FaultServer.Reply.json(500, { error: "server_error", error_description: `no ${echoed}` }))
          yield* tokens.getToken("worker")
          const renewalLogged = () =>
            observed.pieces.some(({ text, where }) => where === "log" && text.includes("Background renewal"))
          yield* Effect.sleep("20 millis").pipe(Effect.repeat({ until: renewalLogged, times: 100 }))
          assert.isTrue(renewalLogged(), "the failed renewal was logged")
          const view = yield* tokens.readiness
          assert.include(
            view.clients[0].tokens[0].lastFailure?.message,
            "server_error: no ",
            "the echo is quoted, masked"
          )
          observed.add("the readiness view after the echo", view)

          // The wire: the secret only where the credential style puts it, the token never; an
          // assertion, new on every attempt, never anywhere else.
          assert.isAbove(server.count, 0)
          const assertions = new Set<string>()
          for (const request of server.requests) {
            const headers = JSON.stringify(request.headers)
            assert.notInclude(headers + request.body, TOKEN)
            for (const sentinel of keySentinels) assert.notInclude(headers + request.body, sentinel)
            const parameter = assertionParameter(authentication)
            if (parameter !== undefined) {
              const assertion = new URLSearchParams(request.body).get(parameter)
              assert.isString(assertion)
              assertions.add(assertion!)
              assert.isUndefined(request.headers.authorization)
              assert.notInclude(headers + request.body, SECRET)
            } else if (authentication === "header") {
              assert.strictEqual(request.headers.authorization, `Basic ${BASIC}`)
              assert.notInclude(request.body, SECRET)
            } else {
              assert.isUndefined(request.headers.authorization)
              assert.include(request.body, `client_secret=${SECRET}`)
              assert.notInclude(headers, SECRET)
            }
          }
          if (assertions.size > 0) {
            assert.strictEqual(assertions.size, server.requests.length, "one assertion per attempt")
          }
          observed.extra.push(...assertions)
        })
      ).pipe(Effect.tap(() => {
        // No `http.client` span of the platform for a token request: it would keep the request,
        // credentials included, where any exporter could reach them (see tracing.test.ts).
        assert.deepStrictEqual(observed.spans.filter((span) => span.name.startsWith("http.client")), [])
        observed.assertClean()
      }))
    })
  }

  it.live("stay out of logs, spans and errors of a resolved tenant: hanging, dying, resolved again, refused", () => {
    const observed = new Observed()
    observed.extra.push(...keySentinels)
    return observing(
      observed,
      Effect.gen(function*() {
        const server = yield* FaultServer.make({ token: () => FaultServer.Reply.token({ value: TOKEN }) })
        let resolutions = 0
        const layer = TokenService.layer({
          clients: {},
          resolverTimeout: "200 millis",
          resolvedClientTimeToLive: "50 millis",
          resolveClient: (name) => {
            resolutions++
            if (resolutions === 1) return Effect.never
            if (resolutions === 2) return Effect.die(new Error(`the store of ${name} is unavailable`))
            return Effect.succeed({
              tokenEndpoint: server.url,
              clientId: CLIENT_ID,
              authentication: {
                method: "private_key_jwt" as const,
                privateKey: Redacted.make(PRIVATE_KEY_PEM),
                audience: "tokenEndpoint" as const
              }
            })
          }
        }).pipe(
          Layer.provide([TokenEndpointClient.layer(), TokenCache.layerMemory()]),
          Layer.provide(NodeHttpClient.layerUndici)
        )
        const tokens = Context.get(yield* Layer.build(layer), TokenService.TokenService)
        observed.add("the TokenService service", tokens)
        for (let call = 0; call < 4; call++) {
          const exit = yield* Effect.exit(tokens.getToken("acme"))
          observed.add(`call ${call}`, exit)
          if (Exit.isFailure(exit)) {
            observed.pieces.push({ where: `call ${call}: cause`, text: Cause.pretty(exit.cause) })
          }
          // Resolved again after its time to live: unchanged, it keeps its token.
          yield* Effect.sleep("100 millis")
        }
        assert.strictEqual(server.count, 1)
        server.fail(FaultServer.Reply.json(400, { error: "invalid_client", error_description: "unknown client" }))
        const refused = yield* Effect.exit(tokens.getToken("acme", { forceRenewal: true }))
        assert.isTrue(Exit.isFailure(refused))
        observed.add("the refusal", refused)
        observed.add("the definition", yield* tokens.client("acme"))
      })
    ).pipe(Effect.tap(() => {
      observed.collectSpans()
      observed.assertClean()
    }))
  })

  it.live("the sentinels are found where they are: the check can fail", () => {
    const observed = new Observed()
    return observing(
      observed,
      Effect.gen(function*() {
        yield* Effect.logDebug(`leaked ${TOKEN}`)
        yield* Effect.annotateCurrentSpan("leak", Duration.seconds(1)).pipe(
          Effect.zipRight(Effect.annotateCurrentSpan("basic", `Basic ${BASIC}`)),
          Effect.withSpan("leaky")
        )
        observed.add("a secret in clear", { secret: SECRET })
      })
    ).pipe(Effect.tap(() => {
      observed.collectSpans()
      const found = sentinels.map((sentinel) => observed.pieces.some(({ text }) => text.includes(sentinel)))
      assert.deepStrictEqual(found, [true, true, true])
      assert.isTrue(
        observed.pieces.some(({ text, where }) => where === "log" && text.includes(TOKEN)),
        "debug lines are captured"
      )
    }))
  })

  it.effect("a client with a secret renders it redacted, whatever renders it", () =>
    Effect.gen(function*() {
      const client = yield* ClientCredentialsClient.make({
        tokenEndpoint: "https://auth.example.com/token",
        clientId: CLIENT_ID,
        clientSecret: Redacted.make(SECRET)
      })
      for (const text of renderings(client)) assert.notInclude(text, SECRET)
      for (const text of renderings({ nested: [client] })) assert.notInclude(text, SECRET)
      assert.include(Util.inspect(client), "<redacted>")
    }))
})
