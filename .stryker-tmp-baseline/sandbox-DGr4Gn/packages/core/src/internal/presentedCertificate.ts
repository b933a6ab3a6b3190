/**
 * How a transport that presents a client certificate says so to the middleware above it, before
 * anything is sent. `@effect/platform` clients are closures that combinators wrap: nothing of the
 * transport can be seen from above, except what its preprocessing does to the request, which every
 * combinator (`mapRequest`, `retryTransient`, `filterStatusOk`, the middleware itself) passes on.
 * So the transport marks each request with its certificate's thumbprint, and takes the mark off
 * again before the request reaches its own transport: it is never sent.
 */
// @ts-nocheck

import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { ClientCertificate } from "../MutualTls.js"

/** Not a real header: it is taken off before the request is sent. */
const mark = "x-access-token-presented-certificate"

const unmarked = (request: HttpClientRequest.HttpClientRequest): HttpClientRequest.HttpClientRequest =>
  request.headers[mark] === undefined ? request : HttpClientRequest.make(request.method)(request.url, {
    headers: Headers.remove(request.headers, mark),
    urlParams: request.urlParams,
    hash: Option.getOrUndefined(request.hash),
    body: request.body
  })

export const presenting = (client: HttpClient.HttpClient, certificate: ClientCertificate): HttpClient.HttpClient =>
  HttpClient.makeWith<HttpClientError.HttpClientError, never, HttpClientError.HttpClientError, never>(
    (request) => Effect.flatMap(request, (request) => client.execute(unmarked(request))),
    (request) => Effect.succeed(HttpClientRequest.setHeader(request, mark, certificate.thumbprint))
  )

export const presentedBy = (request: HttpClientRequest.HttpClientRequest): string | undefined => request.headers[mark]
