// @ts-nocheck
// tsyringe, behind @peculiar/x509, refuses to load without a Reflect metadata polyfill.
import "reflect-metadata"
import * as X509 from "@peculiar/x509"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import type * as TestCertificates from "../TestCertificates.js"
import { thumbprintOf } from "./loopback.js"

const webcrypto = crypto.webcrypto as Crypto
const ec = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const
const rsa = { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: "SHA-256" }

const algorithmOf = (options: TestCertificates.Options | undefined) => options?.keyType === "RSA" ? rsa : ec

const generateKeys = (options: TestCertificates.Options | undefined): Promise<CryptoKeyPair> =>
  webcrypto.subtle.generateKey(algorithmOf(options), true, ["sign", "verify"]) as Promise<CryptoKeyPair>

const validity = (options: TestCertificates.Options | undefined) => {
  const now = Date.now()
  return {
    // a minute back, so that a clock a little behind still accepts it
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + Duration.toMillis(Duration.decode(options?.lifetime ?? "1 day")))
  }
}

const serialNumber = () => crypto.randomBytes(16).toString("hex").replace(/^[89a-f]/, "1")

const toCertificate = (certificate: X509.X509Certificate, privateKey: CryptoKey): TestCertificates.Certificate => ({
  certificate: certificate.toString("pem"),
  privateKey: Redacted.make(
    crypto.KeyObject.from(privateKey).export({ format: "pem", type: "pkcs8" }).toString()
  ),
  subject: certificate.subject,
  thumbprint: thumbprintOf(new Uint8Array(certificate.rawData))
})

const issue = (
  issuer: TestCertificates.Authority,
  subject: string,
  extensions: ReadonlyArray<X509.Extension>,
  options: TestCertificates.Options | undefined
): Effect.Effect<TestCertificates.Certificate> =>
  Effect.promise(async () => {
    const keys = await generateKeys(options)
    // The issuer signs with its own key, whatever the subject's.
    const issuerKey = crypto.createPrivateKey(Redacted.value(issuer.privateKey))
    const algorithm = issuerKey.asymmetricKeyType === "rsa" ? rsa : ec
    const signingKey = await webcrypto.subtle.importKey(
      "pkcs8",
      issuerKey.export({ format: "der", type: "pkcs8" }),
      algorithm,
      false,
      ["sign"]
    )
    const issuerCertificate = new X509.X509Certificate(issuer.certificate)
    const certificate = await X509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject,
      issuer: issuerCertificate.subject,
      ...validity(options),
      signingAlgorithm: algorithm,
      publicKey: keys.publicKey,
      signingKey,
      extensions: [
        new X509.BasicConstraintsExtension(false, undefined, true),
        await X509.AuthorityKeyIdentifierExtension.create(issuerCertificate, false, webcrypto),
        ...extensions
      ]
    }, webcrypto)
    return toCertificate(certificate, keys.privateKey)
  })

const selfSignedWith = (
  name: string,
  extensions: (keys: CryptoKeyPair) => Promise<Array<X509.Extension>>,
  options: TestCertificates.Options | undefined
) =>
  Effect.promise(async () => {
    const keys = await generateKeys(options)
    const certificate = await X509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name,
      ...validity(options),
      signingAlgorithm: algorithmOf(options),
      keys,
      extensions: await extensions(keys)
    }, webcrypto)
    return toCertificate(certificate, keys.privateKey)
  })

/** @internal */
export const authority = (
  name = "Test CA",
  options?: TestCertificates.Options
): Effect.Effect<TestCertificates.Authority> =>
  Effect.map(
    selfSignedWith(`CN=${name}`, async (keys) => [
      new X509.BasicConstraintsExtension(true, 0, true),
      new X509.KeyUsagesExtension(X509.KeyUsageFlags.keyCertSign | X509.KeyUsageFlags.cRLSign, true),
      await X509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto)
    ], options),
    (certificate) => ({ _tag: "Authority", ...certificate })
  )

/** @internal */
export const server = (
  issuer: TestCertificates.Authority,
  options?: TestCertificates.Options
): Effect.Effect<TestCertificates.Certificate> =>
  issue(issuer, "CN=127.0.0.1", [
    new X509.KeyUsagesExtension(X509.KeyUsageFlags.digitalSignature, true),
    new X509.ExtendedKeyUsageExtension([X509.ExtendedKeyUsage.serverAuth]),
    new X509.SubjectAlternativeNameExtension([{ type: "ip", value: "127.0.0.1" }, { type: "dns", value: "localhost" }])
  ], options)

/** @internal */
export const client = (
  issuer: TestCertificates.Authority,
  commonName: string,
  options?: TestCertificates.Options
): Effect.Effect<TestCertificates.Certificate> =>
  issue(issuer, `CN=${commonName}`, [
    new X509.KeyUsagesExtension(X509.KeyUsageFlags.digitalSignature, true),
    new X509.ExtendedKeyUsageExtension([X509.ExtendedKeyUsage.clientAuth])
  ], options)

/** @internal */
export const selfSigned = (
  commonName: string,
  options?: TestCertificates.Options
): Effect.Effect<TestCertificates.Certificate> =>
  selfSignedWith(`CN=${commonName}`, async () => [
    new X509.KeyUsagesExtension(X509.KeyUsageFlags.digitalSignature, true),
    new X509.ExtendedKeyUsageExtension([X509.ExtendedKeyUsage.clientAuth])
  ], options)
