// @ts-nocheck
// The public module's error, made when a request is checked, never while this module loads.
import * as AccessTokenHttpClient from "../AccessTokenHttpClient.js"

// As the token endpoint's rule in the core (`internal/transport.ts`): this machine only.
const loopbackHost = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i

/**
 * A token sent over plain `http` off loopback can be read and replayed by anyone on the path, as a
 * secret sent to a token endpoint can: refused unless `allowInsecureTransport` says otherwise.
 * `https` URLs, nearly all of them, are told apart without parsing.
 */
export const insecureTransport = (
  url: string,
  options: { readonly client?: string | undefined; readonly allowInsecureTransport?: boolean | undefined } | undefined
): AccessTokenHttpClient.InsecureTransportError | undefined => {
  if (options?.allowInsecureTransport === true || /^https:/i.test(url)) return undefined
  const parsed = URL.parse(url)
  return parsed === null || parsed.protocol !== "http:" || loopbackHost.test(parsed.hostname)
    ? undefined
    : new AccessTokenHttpClient.InsecureTransportError({ client: options?.client, host: parsed.host })
}
