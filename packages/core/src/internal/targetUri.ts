/** The target URI a DPoP proof names (`htu`), as the transport sends it. */
let lastUrl: string | undefined
// Stryker disable next-line StringLiteral: never read before the first URL sets it, as no string equals undefined
let lastHtu = ""

/**
 * `htu` (RFC 9449 §4.2): the target URI the transport sends (RFC 9110 §4.2.4), as the URL parser
 * of every transport writes it: scheme and host lower-cased, default port and dot segments removed,
 * percent-encoded, without userinfo (which is never sent, and may be a password), query or
 * fragment. A verifier may compare it literally (RFC 9449 §4.3). The last URL's is kept, as a
 * client calls the same URL again and again; a string that is no URL (the request will fail to
 * be sent) is cut at its query.
 *
 * @internal
 */
export const htuOf = (url: string): string => {
  if (url === lastUrl) return lastHtu
  const parsed = URL.parse(url)
  let htu: string
  if (parsed === null) {
    const end = url.search(/[?#]/)
    htu = end === -1 ? url : url.slice(0, end)
  } else {
    htu = `${parsed.protocol}//${parsed.host}${parsed.pathname}`
  }
  lastUrl = url
  lastHtu = htu
  return htu
}
