/**
 * A token endpoint on loopback that misbehaves on request: a test scripts its next answers (refused
 * connections, resets, silence, trickles, error statuses, malformed or oversized bodies) and reads
 * back every request it received.
 */
// @ts-nocheck

import { LoopbackServer } from "@access-token/testing"
import { Effect } from "effect"
import type { Scope } from "effect"
import type * as Http from "node:http"

/** One answer of the server. */
export type Reply =
  /** Destroys the connection as soon as the request has arrived: no status line at all. */
  | { readonly _tag: "Destroy" }
  /** Sends the status line, the headers and `sent` bytes of `body`, then destroys the connection. */
  | { readonly _tag: "Reset"; readonly body: string; readonly sent: number }
  /** Reads the request and never answers. */
  | { readonly _tag: "Hang" }
  /** Sends the headers at once, then `body` one byte every `interval` milliseconds. */
  | { readonly _tag: "Trickle"; readonly body: string; readonly interval: number }
  /** A `200` body of `bytes` bytes, written as the client reads it; `chunked` leaves out `Content-Length`. */
  | { readonly _tag: "Large"; readonly bytes: number; readonly chunked: boolean }
  /** Sends `reply` after `delay` milliseconds. */
  | { readonly _tag: "Delay"; readonly delay: number; readonly reply: Reply }
  /** A complete answer; `chunked` leaves out `Content-Length`. */
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string | Uint8Array
    readonly chunked: boolean
  }

const json = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Reply => ({
  _tag: "Respond",
  status,
  headers: { "content-type": "application/json", ...headers },
  body: typeof body === "string" ? body : JSON.stringify(body),
  chunked: false
})

/** What a test may script. */
export const Reply = {
  destroy: { _tag: "Destroy" } as Reply,
  reset: (
    body = JSON.stringify({ access_token: "truncated-token", token_type: "Bearer", expires_in: 3600 })
  ): Reply => ({
    _tag: "Reset",
    body,
    sent: Math.floor(body.length / 3)
  }),
  hang: { _tag: "Hang" } as Reply,
  trickle: (body = JSON.stringify({ access_token: "slow-token", expires_in: 3600 }), interval = 1000): Reply => ({
    _tag: "Trickle",
    body,
    interval
  }),
  json,
  delay: (delay: number, reply: Reply): Reply => ({ _tag: "Delay", delay, reply }),
  status: (status: number, body = "", headers: Readonly<Record<string, string>> = {}): Reply => ({
    _tag: "Respond",
    status,
    headers: { "content-type": "text/plain", ...headers },
    body,
    chunked: false
  }),
  tooManyRequests: (retryAfter: string): Reply => json(429, { message: "slow down" }, { "retry-after": retryAfter }),
  html: (status: number, text = "Service temporarily unavailable"): Reply => ({
    _tag: "Respond",
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
    body: `<!DOCTYPE html><html><head><title>${status}</title></head><body><h1>${text}</h1></body></html>`,
    chunked: false
  }),
  /** A body of `bytes` bytes that would be a token if it were read to the end. */
  large: (bytes: number, chunked: boolean): Reply => ({ _tag: "Large", bytes, chunked }),
  token: (options: {
    readonly value: string
    readonly expiresIn?: unknown
    readonly tokenType?: string | undefined
    readonly extra?: Readonly<Record<string, unknown>> | undefined
  }): Reply =>
    json(200, {
      access_token: options.value,
      token_type: options.tokenType ?? "Bearer",
      ...("expiresIn" in options ? { expires_in: options.expiresIn } : { expires_in: 3600 }),
      ...options.extra
    })
}

/** A request as the server received it. */
export type ReceivedRequest = LoopbackServer.ReceivedRequest

export interface FaultServer {
  /** The token endpoint: `http://127.0.0.1:<port>/connect/token`. */
  readonly url: string
  readonly origin: string
  /** Every request received, in order. */
  readonly requests: ReadonlyArray<ReceivedRequest>
  /** How many requests have arrived. */
  readonly count: number
  /** Answers not yet sent (neither completed nor cut off). */
  readonly openResponses: number
  /** Answers the next requests with `replies`, one each, before falling back. */
  readonly enqueue: (...replies: ReadonlyArray<Reply>) => void
  /** Answers every request with `reply` until {@link FaultServer.clear}, after the queue is empty. */
  readonly fail: (reply: Reply) => void
  /** Empties the queue and stops failing: requests get a valid token again. */
  readonly clear: () => void
  /** Stops listening and drops every connection: new connections are refused (`ECONNREFUSED`). */
  readonly refuse: Effect.Effect<void>
  /** Listens again on the same port. */
  readonly accept: Effect.Effect<void>
}

export interface Options {
  /** The valid answer to request number `n` (from 1); by default a token `token-<n>` for an hour. */
  readonly token?: ((n: number) => Reply) | undefined
}

/** Starts a fault server on `127.0.0.1`, port 0; releasing the scope closes every connection. */
export const make = (options?: Options): Effect.Effect<FaultServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const script = new Script(options?.token ?? ((n) => Reply.token({ value: `token-${n}` })))
    const server = yield* LoopbackServer.make((_, response, n) => script.handle(response, n))
    // Released before the server closes, so that no scripted answer starts on a closing server.
    yield* Effect.addFinalizer(() => Effect.sync(() => script.stop()))
    const faultServer: FaultServer = {
      url: `${server.origin}/connect/token`,
      origin: server.origin,
      requests: server.requests,
      get count() {
        return server.requests.length
      },
      get openResponses() {
        return script.openResponses
      },
      enqueue: (...replies) => {
        script.queue.push(...replies)
      },
      fail: (reply) => {
        script.failure = reply
      },
      clear: () => script.clear(),
      refuse: Effect.zipRight(Effect.sync(() => script.stopTimers()), server.refuse),
      accept: server.accept
    }
    return faultServer
  })

/** The scripted answers, and the timers of those that are answered later. */
class Script {
  readonly queue: Array<Reply> = []
  failure: Reply | undefined = undefined
  openResponses = 0
  readonly timers = new Set<ReturnType<typeof setTimeout>>()

  constructor(readonly token: (n: number) => Reply) {}

  clear() {
    this.queue.length = 0
    this.failure = undefined
  }

  stop() {
    this.clear()
    this.stopTimers()
  }

  stopTimers() {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  private later(ms: number, f: () => void) {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      f()
    }, ms)
    this.timers.add(timer)
  }

  handle(response: Http.ServerResponse, n: number) {
    this.openResponses++
    response.on("close", () => this.openResponses--)
    const reply = this.queue.shift() ?? this.failure ?? this.token(n)
    this.answer(reply, response)
  }

  private answer(reply: Reply, response: Http.ServerResponse) {
    const socket = response.socket
    switch (reply._tag) {
      case "Destroy": {
        socket?.destroy()
        return
      }
      case "Hang": {
        return
      }
      case "Delay": {
        this.later(reply.delay, () => {
          if (!response.destroyed) this.answer(reply.reply, response)
        })
        return
      }
      case "Reset": {
        response.writeHead(200, {
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(reply.body))
        })
        response.write(reply.body.slice(0, reply.sent), () => socket?.destroy())
        return
      }
      case "Trickle": {
        response.writeHead(200, {
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(reply.body))
        })
        response.flushHeaders()
        const bytes = Buffer.from(reply.body)
        const next = (i: number) => {
          if (response.destroyed) return
          if (i >= bytes.length) {
            response.end()
            return
          }
          response.write(bytes.subarray(i, i + 1))
          this.later(reply.interval, () => next(i + 1))
        }
        next(0)
        return
      }
      case "Large": {
        const prefix = Buffer.from("{\"access_token\":\"")
        const suffix = Buffer.from("\",\"expires_in\":3600}")
        const filler = Buffer.alloc(64 * 1024, "a")
        response.writeHead(200, {
          "content-type": "application/json",
          ...(reply.chunked ? {} : { "content-length": String(reply.bytes) })
        })
        response.write(prefix)
        // Written only as fast as the client reads, and not at all once it has gone.
        let left = reply.bytes - prefix.length - suffix.length
        const write = () => {
          while (left > 0) {
            if (response.destroyed) return
            const piece = filler.subarray(0, Math.min(filler.length, left))
            left -= piece.length
            if (!response.write(piece)) {
              response.once("drain", write)
              return
            }
          }
          response.end(suffix)
        }
        write()
        return
      }
      case "Respond": {
        const body = Buffer.from(reply.body)
        response.writeHead(reply.status, {
          ...reply.headers,
          ...(reply.chunked ? {} : { "content-length": String(body.length) })
        })
        response.end(body)
        return
      }
    }
  }
}

/** What a fault must end in. */
export type Outcome =
  /** A token; `cached` says whether the service keeps it (an `expires_in` of `0` is not kept). */
  | { readonly _tag: "Token"; readonly cached: boolean; readonly type?: string; readonly lifetimeSeconds?: number }
  /** A typed error after `retried ? all attempts of the schedule : one attempt`. */
  | {
    readonly _tag: "Error"
    readonly error: "TokenTransportError" | "InvalidTokenResponseError" | "TokenRefusedError"
    readonly reason?: string
    readonly status?: number
    readonly retried: boolean
    /** The server asked for a wait (`Retry-After`) longer than the test's `maxRetryAfter`. */
    readonly retryAfter?: boolean
  }

/** One misbehaviour of a token endpoint, how to start and stop it, and what it must end in. */
export interface Fault {
  readonly name: string
  readonly start: (server: FaultServer) => Effect.Effect<void>
  readonly stop: (server: FaultServer) => Effect.Effect<void>
  /** Whether a request reaches the server during the fault. */
  readonly reachesServer: boolean
  readonly outcome: Outcome
}

const replying = (name: string, reply: Reply, outcome: Outcome): Fault => ({
  name,
  start: (server) => Effect.sync(() => server.fail(reply)),
  stop: (server) => Effect.sync(() => server.clear()),
  reachesServer: true,
  outcome
})

const retried = (error: "TokenTransportError" | "InvalidTokenResponseError" | "TokenRefusedError", detail: {
  readonly reason?: string
  readonly status?: number
  readonly retryAfter?: boolean
} = {}): Outcome => ({ _tag: "Error", error, retried: true, ...detail })

const once = (error: "InvalidTokenResponseError" | "TokenRefusedError", status: number): Outcome => ({
  _tag: "Error",
  error,
  status,
  retried: false
})

/**
 * Every fault of the issue, for a server whose valid token is `token`: invalid answers carry the
 * token too where a real server might, so that a test can check it goes nowhere it should not.
 */
export const faults = (token: string): ReadonlyArray<Fault> => [
  {
    name: "connection refused",
    start: (server) => server.refuse,
    stop: (server) => server.accept,
    reachesServer: false,
    outcome: retried("TokenTransportError", { reason: "Connect" })
  },
  replying(
    "connection destroyed before any answer",
    Reply.destroy,
    retried("TokenTransportError", { reason: "Reset" })
  ),
  replying(
    "connection reset in the middle of the body",
    Reply.reset(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: 3600 })),
    retried("TokenTransportError", { reason: "Reset" })
  ),
  replying("no answer at all", Reply.hang, retried("TokenTransportError", { reason: "Timeout" })),
  replying(
    "an answer at one byte per second",
    Reply.trickle(JSON.stringify({ access_token: token, expires_in: 3600 })),
    retried("TokenTransportError", { reason: "Timeout" })
  ),
  replying(
    "500 with a plain-text body",
    Reply.status(500, "Internal Server Error"),
    retried("InvalidTokenResponseError", { status: 500 })
  ),
  replying(
    "502 with an HTML page",
    Reply.html(502, "Bad Gateway"),
    retried("InvalidTokenResponseError", { status: 502 })
  ),
  replying(
    "503 temporarily_unavailable",
    Reply.json(503, { error: "temporarily_unavailable", error_description: "maintenance" }),
    retried("TokenRefusedError", { status: 503 })
  ),
  replying(
    "429 with Retry-After in seconds",
    Reply.tooManyRequests("30"),
    retried("InvalidTokenResponseError", { status: 429, retryAfter: true })
  ),
  replying(
    "429 with Retry-After as an HTTP date",
    Reply.tooManyRequests(new Date(Date.now() + 60_000).toUTCString()),
    retried("InvalidTokenResponseError", { status: 429, retryAfter: true })
  ),
  replying("200 with an HTML page", Reply.html(200, "Please sign in"), once("InvalidTokenResponseError", 200)),
  replying(
    "200 with invalid JSON",
    Reply.json(200, `{"access_token":"${token}","expires_in":3600`),
    once("InvalidTokenResponseError", 200)
  ),
  replying("200 with a JSON array", Reply.json(200, [token]), once("InvalidTokenResponseError", 200)),
  replying(
    "200 with JSON of the wrong shape",
    Reply.json(200, { token, expires: 3600 }),
    once("InvalidTokenResponseError", 200)
  ),
  replying(
    "200 with a numeric access_token",
    Reply.json(200, { access_token: 12345, token_type: "Bearer" }),
    once("InvalidTokenResponseError", 200)
  ),
  replying(
    "expires_in of 0",
    Reply.token({ value: token, expiresIn: 0 }),
    { _tag: "Token", cached: false, lifetimeSeconds: 0 }
  ),
  replying("expires_in of -1", Reply.token({ value: token, expiresIn: -1 }), once("InvalidTokenResponseError", 200)),
  replying(
    "expires_in of \"abc\"",
    Reply.token({ value: token, expiresIn: "abc" }),
    once("InvalidTokenResponseError", 200)
  ),
  replying(
    "expires_in of 1e308",
    Reply.json(200, `{"access_token":"${token}","token_type":"Bearer","expires_in":1e308}`),
    { _tag: "Token", cached: true, lifetimeSeconds: 24 * 60 * 60 }
  ),
  replying(
    "a 5 MiB body with its Content-Length",
    Reply.large(5 * 1024 * 1024, false),
    once("InvalidTokenResponseError", 200)
  ),
  replying("a 5 MiB chunked body", Reply.large(5 * 1024 * 1024, true), once("InvalidTokenResponseError", 200)),
  replying(
    "a token_type the client does not know",
    Reply.token({ value: token, tokenType: "N_A" }),
    { _tag: "Token", cached: true, type: "N_A" }
  ),
  replying(
    "a token_type that would split the Authorization header",
    Reply.token({ value: token, tokenType: "Bearer\r\nX-Injected: 1" }),
    once("InvalidTokenResponseError", 200)
  ),
  replying(
    "400 invalid_client",
    Reply.json(400, { error: "invalid_client", error_description: "unknown client" }),
    once("TokenRefusedError", 400)
  ),
  replying("an error member in a 200", Reply.json(200, { error: "invalid_scope" }), once("TokenRefusedError", 200)),
  replying("a valid token", Reply.token({ value: token }), { _tag: "Token", cached: true, type: "Bearer" })
]
