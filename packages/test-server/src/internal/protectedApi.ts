import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as Jose from "jose"
import type * as Http from "node:http"
import type * as ProtectedApi from "../ProtectedApi.js"
import { TokenServer } from "../TokenServer.js"
import { listen, pathnameOf } from "./loopback.js"

/** @internal */
export const defaultRequiredScope = "api"

interface Answer {
  readonly status: number
  readonly error?: string | undefined
  readonly headers?: Record<string, string> | undefined
  readonly body?: unknown
}

const challenge = (error: string, description: string): Answer => ({
  status: 401,
  error,
  headers: { "www-authenticate": `Bearer error="${error}", error_description="${description}"` }
})

// The claims as a .NET API returns `User.Claims`: one string-valued claim per value.
const claimsOf = (payload: Jose.JWTPayload): Array<ProtectedApi.Claim> =>
  Object.entries(payload).flatMap(([type, value]) =>
    (Array.isArray(value) ? value : [value]).map((value) => ({
      type,
      value: typeof value === "string" ? value : JSON.stringify(value)
    }))
  )

const bearerTokenOf = (authorization: string | undefined): string | undefined => {
  const match = authorization === undefined ? null : /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization)
  return match === null ? undefined : match[1]
}

const descriptionOf = (error: Jose.errors.JOSEError): string => {
  switch (error.code) {
    case "ERR_JWT_EXPIRED":
      return "the access token expired"
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return `unexpected "${(error as Jose.errors.JWTClaimValidationFailed).claim}" claim`
    default:
      return "the access token is invalid"
  }
}

/** @internal */
export const make = (
  options: ProtectedApi.Options = {}
): Effect.Effect<ProtectedApi.ProtectedApi.Service, never, Scope.Scope | TokenServer> =>
  Effect.gen(function*() {
    const tokenServer = yield* TokenServer
    const requiredScope = options.requiredScope ?? defaultRequiredScope
    const audience = options.audience ?? tokenServer.resource
    // No cooldown: a token signed with a key the API has not seen yet makes it fetch the key set
    // again, so signing key rotation at the token server is picked up at once.
    const keySet = Jose.createRemoteJWKSet(new URL(tokenServer.jwksUri), { cooldownDuration: 0 })

    const requests: Array<ProtectedApi.ApiRequest> = []
    let requestCount = 0
    const accepted = new Set<string>()
    const revoked = new Set<string>()

    const authorize = (authorization: string | undefined): Effect.Effect<Answer> => {
      const token = bearerTokenOf(authorization)
      if (token === undefined) {
        return Effect.succeed({ status: 401, headers: { "www-authenticate": "Bearer" } })
      }
      return Effect.tryPromise({
        try: () =>
          Jose.jwtVerify(token, keySet, {
            issuer: tokenServer.issuer,
            audience,
            algorithms: ["ES256"],
            typ: "at+jwt",
            clockTolerance: 0
          }),
        catch: (error) => error
      }).pipe(
        Effect.map(({ payload }): Answer => {
          if (payload.jti !== undefined && revoked.has(payload.jti)) {
            return challenge("invalid_token", "the access token was revoked")
          }
          const scopes = typeof payload.scope === "string" ? payload.scope.split(" ") : []
          if (!scopes.includes(requiredScope)) {
            return {
              status: 403,
              error: "insufficient_scope",
              headers: {
                "www-authenticate":
                  `Bearer error="insufficient_scope", error_description="the access token lacks the required scope", scope="${requiredScope}"`
              }
            }
          }
          if (payload.jti !== undefined) accepted.add(payload.jti)
          return { status: 200, body: claimsOf(payload) }
        }),
        Effect.catchAll((error) =>
          Effect.succeed(
            error instanceof Jose.errors.JOSEError && !(error instanceof Jose.errors.JWKSTimeout)
              ? challenge("invalid_token", descriptionOf(error))
              // the API could not check the token, which says nothing about the token
              : { status: 500 }
          )
        )
      )
    }

    const handle = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      const path = pathnameOf(request)
      const answer: Effect.Effect<Answer> = path !== "/test"
        ? Effect.succeed({ status: 404 })
        : request.method !== "GET"
        ? Effect.succeed({ status: 405, headers: { allow: "GET" } })
        : authorize(request.headers.authorization)
      return answer.pipe(
        Effect.tap((answer) =>
          Effect.sync(() => {
            requests.push({
              method: request.method ?? "GET",
              path,
              authorization: request.headers.authorization !== undefined,
              status: answer.status,
              error: answer.error
            })
            const body = answer.body === undefined ? undefined : JSON.stringify(answer.body)
            response.writeHead(answer.status, {
              ...answer.headers,
              ...(body === undefined ? { "content-length": "0" } : { "content-type": "application/json" })
            })
            response.end(body)
          })
        )
      )
    }

    const { origin, server } = yield* listen()
    const run = yield* FiberSet.makeRuntime()
    server.on("request", (request, response) => {
      requestCount++
      run(handle(request, response))
    })

    return {
      baseUrl: `${origin}/`,
      requests: Effect.sync(() => [...requests]),
      requestCount: Effect.sync(() => requestCount),
      revokeAll: Effect.sync(() => {
        for (const jti of accepted) revoked.add(jti)
      })
    }
  })
