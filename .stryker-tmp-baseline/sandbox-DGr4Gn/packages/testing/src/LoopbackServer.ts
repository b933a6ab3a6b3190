/**
 * An HTTP or HTTPS server on 127.0.0.1 for tests: every test that needs a server of its own (a
 * token endpoint that misbehaves, an API that records what it receives, a redirect) starts it
 * here, and closing the scope closes it with every connection, so its port is free again.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Http from "node:http"
import * as internal from "./internal/loopback.js"

/**
 * Serves HTTPS instead of HTTP. With `clientCertificates`, the server asks every client for a
 * certificate (mutual TLS) and accepts the connection whether or not one is presented or trusted:
 * what to do with it is the application's decision, as RFC 8705 wants.
 *
 * @since 0.2.0
 * @category models
 */
export interface Tls {
  /** The server's certificate chain, PEM, for `127.0.0.1`. */
  readonly certificate: string
  /** The server's private key, PEM. */
  readonly privateKey: string | Redacted.Redacted<string>
  readonly clientCertificates?: {
    /** The CA certificates, PEM, that a client certificate must chain to in order to count as authorized. */
    readonly authorities: ReadonlyArray<string>
  } | undefined
}

/**
 * How the server listens: plain HTTP, or HTTPS with a certificate.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Serve HTTPS with this certificate; plain HTTP when absent. */
  readonly tls?: Tls | undefined
}

/**
 * The certificate a client presented on the TLS connection of a request.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClientCertificate {
  /** The certificate, PEM. */
  readonly pem: string
  /** Its SHA-256 thumbprint, base64url: the `x5t#S256` of RFC 8705 §3.1. */
  readonly thumbprint: string
  /** Whether it chains to one of the server's client certificate authorities. */
  readonly authorized: boolean
}

/**
 * A request as the server received it, body read to the end.
 *
 * @since 0.2.0
 * @category models
 */
export interface ReceivedRequest {
  readonly method: string
  /** The request target as sent, such as `/connect/token?x=1`. */
  readonly url: string
  /** The path of the request target, such as `/connect/token`. */
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
  readonly clientCertificate: ClientCertificate | undefined
}

/**
 * Answers request number `n` (from 1). It may answer later, never, or destroy `response.socket`.
 *
 * @since 0.2.0
 * @category models
 */
export type Handler = (request: ReceivedRequest, response: Http.ServerResponse, n: number) => void

/**
 * A listening server, before any request handler: the caller attaches its own to `server`, for
 * example one that needs the origin to be configured, or that reads the body itself.
 *
 * @since 0.2.0
 * @category models
 */
export interface Listening {
  /** Such as `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  readonly origin: string
  readonly port: number
  /** The Node.js server; an HTTPS server when the options ask for TLS. */
  readonly server: Http.Server
  /** Stops listening and drops every connection: new connections are refused (`ECONNREFUSED`). */
  readonly refuse: Effect.Effect<void>
  /** Listens again on the same port. */
  readonly accept: Effect.Effect<void>
}

/**
 * A server answering with a {@link Handler}, recording every request.
 *
 * @since 0.2.0
 * @category models
 */
export interface LoopbackServer extends Listening {
  /** Every request received, oldest first (a live view). */
  readonly requests: ReadonlyArray<ReceivedRequest>
}

/**
 * Listens on 127.0.0.1 on a port chosen by the system, without a request handler.
 *
 * @example
 * ```ts
 * import { LoopbackServer } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * // The origin first, the handler after: for a server whose answers name its own URL.
 * const program = Effect.gen(function*() {
 *   const server = yield* LoopbackServer.listen()
 *   server.server.on("request", (_request, response) => {
 *     response.setHeader("content-type", "application/json")
 *     response.end(JSON.stringify({ issuer: server.origin }))
 *   })
 *   return server.origin
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const listen: (options?: Options) => Effect.Effect<Listening, never, Scope.Scope> = internal.listen

/**
 * Starts a server that reads each request to the end, records it, and passes it to `handler`.
 *
 * @example
 * ```ts
 * import { LoopbackServer } from "@access-token/testing"
 * import { Effect } from "effect"
 *
 * // A token endpoint that fails twice, then answers: a scripted fault for a retry test.
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const server = yield* LoopbackServer.make((_request, response, n) => {
 *       if (n <= 2) {
 *         response.writeHead(503, { "retry-after": "0" }).end()
 *       } else {
 *         response.writeHead(200, { "content-type": "application/json" })
 *         response.end(JSON.stringify({ access_token: "abc", token_type: "Bearer", expires_in: 60 }))
 *       }
 *     })
 *     const statuses: Array<number> = []
 *     for (let i = 0; i < 3; i++) {
 *       statuses.push((yield* Effect.promise(() => fetch(`${server.origin}/token`, { method: "POST" }))).status)
 *     }
 *     assert.deepStrictEqual(statuses, [503, 503, 200])
 *     assert.strictEqual(server.requests.length, 3)
 *   })
 * )
 *
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (handler: Handler, options?: Options) => Effect.Effect<LoopbackServer, never, Scope.Scope> =
  internal.make

/**
 * The path of a request target, `""` when it cannot be parsed.
 *
 * @since 0.2.0
 * @category utils
 */
export const pathnameOf: (request: Http.IncomingMessage) => string = internal.pathnameOf

/**
 * The certificate the client presented on the request's TLS connection, if any.
 *
 * @since 0.2.0
 * @category utils
 */
export const clientCertificateOf: (request: Http.IncomingMessage) => ClientCertificate | undefined =
  internal.clientCertificateOf
