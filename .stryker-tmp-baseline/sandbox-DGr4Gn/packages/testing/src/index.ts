/**
 * @since 0.1.0
 */
// @ts-nocheck


/**
 * A protected API on loopback that accepts the token server's JWT access tokens, for testing
 * clients end to end.
 *
 * @since 0.1.0
 */
export * as ProtectedApi from "./ProtectedApi.js"

/**
 * A real OAuth 2.0 authorization server on loopback, built on oidc-provider, that issues JWT
 * access tokens with the client credentials grant.
 *
 * @since 0.1.0
 */
export * as TokenServer from "./TokenServer.js"

/**
 * An HTTP or HTTPS server on 127.0.0.1 for tests: every test that needs a server of its own (a
 * token endpoint that misbehaves, an API that records what it receives, a redirect) starts it
 * here, and closing the scope closes it with every connection, so its port is free again.
 *
 * @since 0.2.0
 */
export * as LoopbackServer from "./LoopbackServer.js"

/**
 * @since 0.1.0
 */
export * as RedisServer from "./RedisServer.js"

/**
 * X.509 certificates made by the tests themselves, for mutual TLS on loopback: a certificate
 * authority, a server certificate for `127.0.0.1`, client certificates issued by the authority, and
 * self-signed client certificates. ECDSA P-256 keys, generated at each call, so a fresh clone
 * needs nothing else.
 *
 * @since 0.2.0
 */
export * as TestCertificates from "./TestCertificates.js"

/**
 * Proof that no secret reaches your telemetry: a tracer that keeps every span whole, and a walk of
 * everything reachable from a span, as the most thorough exporter would read it.
 *
 * @since 0.2.0
 */
export * as SpanRecorder from "./SpanRecorder.js"
