// @ts-nocheck
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as Jose from "jose"
import * as crypto from "node:crypto"
import type * as Http from "node:http"
import type * as ProtectedApi from "../ProtectedApi.js"
import { TokenServer } from "../TokenServer.js"
import { clientCertificateOf, listen, pathnameOf } from "./loopback.js"
import { trustingFetch } from "./trustingFetch.js"

/** @internal */
export const defaultRequiredScope = "api"

interface Answer {
  readonly status: number
  readonly error?: string | undefined
  readonly headers?: Record<string, string> | undefined
  readonly body?: unknown
}

/** @internal */
export const defaultProofLifetime = Duration.seconds(60)

/** The algorithms a proof may be signed with, as oidc-provider's default and then some. */
const proofAlgorithms = ["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "Ed25519", "EdDSA"]

const challenge = (error: string, description: string, scheme: "Bearer" | "DPoP" = "Bearer"): Answer => ({
  status: 401,
  error,
  headers: {
    "www-authenticate": `${scheme} error="${error}", error_description="${description}"${
      scheme === "DPoP" ? ` algs="${proofAlgorithms.join(" ")}"` : ""
    }`
  }
})

// The claims as a .NET API returns `User.Claims`: one string-valued claim per value.
const claimsOf = (payload: Jose.JWTPayload): Array<ProtectedApi.Claim> =>
  Object.entries(payload).flatMap(([type, value]) =>
    (Array.isArray(value) ? value : [value]).map((value) => ({
      type,
      value: typeof value === "string" ? value : JSON.stringify(value)
    }))
  )

const credentialsOf = (
  authorization: string | undefined
): { readonly scheme: "Bearer" | "DPoP"; readonly token: string } | undefined => {
  const match = authorization === undefined
    ? null
    : /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization)
  if (match === null) return undefined
  return { scheme: match[1]!.toLowerCase() === "dpop" ? "DPoP" : "Bearer", token: match[2]! }
}

/**
 * What `htu` must be, compared literally as RFC 9449 §4.3 allows: the target URI of the request as
 * it reached the API (its origin and the path as sent), without query and fragment. A proof whose
 * `htu` names the same resource in another spelling (`:443`, upper case, `..`, a space) is refused,
 * as a verifier that does not normalise would refuse it.
 */
const targetUriOf = (origin: string, target: string): string => {
  const end = target.search(/[?#]/)
  return `${origin}${end === -1 ? target : target.slice(0, end)}`
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
    const keySet = Jose.createRemoteJWKSet(new URL(tokenServer.jwksUri), {
      cooldownDuration: 0,
      ...(options.trustedAuthorities === undefined ? {} : {
        [Jose.customFetch]: yield* trustingFetch(options.trustedAuthorities)
      })
    })

    const requests: Array<ProtectedApi.ApiRequest> = []
    let requestCount = 0
    const accepted = new Set<string>()
    const revoked = new Set<string>()
    let unavailable = 0

    const requireNonce = options.dpop?.requireNonce === true
    const proofLifetime = Duration.toSeconds(options.dpop?.proofLifetime ?? defaultProofLifetime)
    const newNonce = () => crypto.randomBytes(18).toString("base64url")
    let nonce = newNonce()
    /** The `jti` of each proof accepted, with its `iat`, kept for as long as a proof is accepted. */
    const proofsSeen = new Map<string, number>()

    const proofFailure = (description: string) => challenge("invalid_dpop_proof", description, "DPoP")

    /**
     * Checks a DPoP proof (RFC 9449 §4.3, §7.1) for a request carrying `token`, bound to `jkt`:
     * `undefined` when it is good.
     */
    const checkProof = (
      request: Http.IncomingMessage,
      url: string,
      token: string,
      jkt: string
    ): Effect.Effect<Answer | undefined> => {
      const header = request.headers.dpop
      if (header === undefined) return Effect.succeed(proofFailure("a DPoP proof is required"))
      // Node joins repeated headers with commas, which a compact JWS never contains.
      if (Array.isArray(header) || header.includes(",")) {
        return Effect.succeed(proofFailure("exactly one DPoP proof is allowed"))
      }
      return Effect.promise(async (): Promise<Answer | undefined> => {
        let verified: Jose.JWTVerifyResult & Jose.ResolvedKey
        try {
          verified = await Jose.jwtVerify(header, Jose.EmbeddedJWK, { typ: "dpop+jwt", algorithms: proofAlgorithms })
        } catch {
          return proofFailure("the DPoP proof is not a valid dpop+jwt signed by its jwk")
        }
        const { payload, protectedHeader } = verified
        if (payload.htm !== request.method) return proofFailure("htm does not match the request method")
        if (payload.htu !== url) {
          return proofFailure("htu does not match the request URL")
        }
        if (payload.ath !== crypto.createHash("sha256").update(token).digest("base64url")) {
          return proofFailure("ath does not match the access token")
        }
        const now = Date.now() / 1000
        if (typeof payload.iat !== "number" || Math.abs(now - payload.iat) > proofLifetime) {
          return proofFailure("the DPoP proof is too old, or from the future")
        }
        if (typeof payload.jti !== "string" || payload.jti.length === 0) return proofFailure("jti is missing")
        if (await Jose.calculateJwkThumbprint(protectedHeader.jwk!) !== jkt) {
          return proofFailure("the DPoP proof is signed by another key than the access token is bound to")
        }
        if (requireNonce && payload.nonce !== nonce) {
          return challenge("use_dpop_nonce", "Resource server requires nonce in DPoP proof", "DPoP")
        }
        for (const [jti, iat] of proofsSeen) {
          if (iat < now - proofLifetime) proofsSeen.delete(jti)
        }
        if (proofsSeen.has(payload.jti)) return proofFailure("the DPoP proof was used before")
        proofsSeen.set(payload.jti, payload.iat)
        return undefined
      })
    }

    const authorize = (request: Http.IncomingMessage, url: string): Effect.Effect<Answer> => {
      const credentials = credentialsOf(request.headers.authorization)
      if (credentials === undefined) {
        return Effect.succeed({ status: 401, headers: { "www-authenticate": "Bearer" } })
      }
      const { scheme, token } = credentials
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
        Effect.flatMap(({ payload }) => {
          // RFC 8705 §3: a certificate-bound token is good only on a connection presenting that certificate.
          const x5t = (payload.cnf as { readonly "x5t#S256"?: unknown } | undefined)?.["x5t#S256"]
          if (x5t !== undefined && x5t !== clientCertificateOf(request)?.thumbprint) {
            return Effect.succeed(
              challenge("invalid_token", "the access token is bound to a certificate this connection did not present")
            )
          }
          const jkt = (payload.cnf as { readonly jkt?: unknown } | undefined)?.jkt
          if (typeof jkt !== "string") {
            return Effect.succeed(
              scheme === "DPoP" ? challenge("invalid_token", "the access token is not DPoP-bound", "DPoP") : payload
            )
          }
          // A bound token without its proof is what a thief would send: it is refused.
          if (scheme === "Bearer") {
            return Effect.succeed(
              challenge("invalid_token", "the access token is DPoP-bound: send it with a proof", "DPoP")
            )
          }
          return Effect.map(checkProof(request, url, token, jkt), (failure) => failure ?? payload)
        }),
        Effect.map((checked): Answer => {
          if ("status" in checked) return checked as Answer
          const payload = checked as Jose.JWTPayload
          if (payload.jti !== undefined && revoked.has(payload.jti)) {
            return challenge("invalid_token", "the access token was revoked", scheme)
          }
          if (unavailable > 0) {
            unavailable--
            return { status: 503 }
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
        : request.method !== "GET" && request.method !== "POST"
        ? Effect.succeed({ status: 405, headers: { allow: "GET, POST" } })
        : authorize(request, targetUriOf(origin, request.url ?? "/"))
      return answer.pipe(
        Effect.tap((answer) =>
          Effect.sync(() => {
            const authorization = request.headers.authorization
            requests.push({
              method: request.method ?? "GET",
              path,
              authorization: authorization !== undefined,
              ...(authorization === undefined ? {} : { scheme: authorization.split(" ", 1)[0] }),
              status: answer.status,
              error: answer.error
            })
            const body = answer.body === undefined ? undefined : JSON.stringify(answer.body)
            response.writeHead(answer.status, {
              // RFC 9449 §8: a server that wants nonces may hand out the next one with any answer.
              ...(requireNonce ? { "dpop-nonce": nonce } : {}),
              ...answer.headers,
              ...(body === undefined ? { "content-length": "0" } : { "content-type": "application/json" })
            })
            response.end(body)
          })
        )
      )
    }

    const { origin, server } = yield* listen({ tls: options.tls })
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
      }),
      rotateNonce: Effect.sync(() => {
        nonce = newNonce()
      }),
      answerUnavailable: (times) =>
        Effect.sync(() => {
          unavailable = times
        })
    }
  })
