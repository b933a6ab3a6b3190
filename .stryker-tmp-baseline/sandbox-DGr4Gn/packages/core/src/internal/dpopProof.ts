/**
 * DPoP (RFC 9449) machinery: key import and generation, proof signing, access token hashes and the
 * per-origin nonce store. The public surface is `DPoP.ts`.
 */
// @ts-nocheck
function stryNS_9fa48() {
  var g = typeof globalThis === 'object' && globalThis && globalThis.Math === Math && globalThis || new Function("return this")();
  var ns = g.__stryker__ || (g.__stryker__ = {});
  if (ns.activeMutant === undefined && g.process && g.process.env && g.process.env.__STRYKER_ACTIVE_MUTANT__) {
    ns.activeMutant = g.process.env.__STRYKER_ACTIVE_MUTANT__;
  }
  function retrieveNS() {
    return ns;
  }
  stryNS_9fa48 = retrieveNS;
  return retrieveNS();
}
stryNS_9fa48();
function stryCov_9fa48() {
  var ns = stryNS_9fa48();
  var cov = ns.mutantCoverage || (ns.mutantCoverage = {
    static: {},
    perTest: {}
  });
  function cover() {
    var c = cov.static;
    if (ns.currentTestId) {
      c = cov.perTest[ns.currentTestId] = cov.perTest[ns.currentTestId] || {};
    }
    var a = arguments;
    for (var i = 0; i < a.length; i++) {
      c[a[i]] = (c[a[i]] || 0) + 1;
    }
  }
  stryCov_9fa48 = cover;
  cover.apply(null, arguments);
}
function stryMutAct_9fa48(id) {
  var ns = stryNS_9fa48();
  function isActive(id) {
    if (ns.activeMutant === id) {
      if (ns.hitCount !== void 0 && ++ns.hitCount > ns.hitLimit) {
        throw new Error('Stryker: Hit count limit reached (' + ns.hitCount + ')');
      }
      return true;
    }
    return false;
  }
  stryMutAct_9fa48 = isActive;
  return isActive(id);
}
import * as Headers from "@effect/platform/Headers";
import * as HttpClientRequest from "@effect/platform/HttpClientRequest";
import * as Effect from "effect/Effect";
import * as Either from "effect/Either";
import * as Inspectable from "effect/Inspectable";
import * as Redacted from "effect/Redacted";
import * as Jose from "jose";
import type * as AccessToken from "../AccessToken.js";
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js";
import type * as DPoP from "../DPoP.js";
import type { TokenEndpointError } from "../TokenError.js";
import type { NonceStore } from "./dpopNonce.js";
import { htuOf } from "./targetUri.js";

/** @internal */
export const KeyTypeId: typeof DPoP.KeyTypeId = Symbol.for("@access-token/core/DPoP/Key") as typeof DPoP.KeyTypeId;

// Kept in the declarations (not marked internal): the public DPoP.Algorithm is declared with it, and
// stripping it would leave the published DPoP.d.ts pointing at a type that is not there.
export type Algorithm = "ES256" | "ES384" | "ES512" | "PS256" | "PS384" | "PS512" | "RS256" | "RS384" | "RS512" | "Ed25519" | "EdDSA";

/** @internal */
export const algorithms: ReadonlyArray<Algorithm> = stryMutAct_9fa48("71") ? [] : (stryCov_9fa48("71"), [stryMutAct_9fa48("72") ? "" : (stryCov_9fa48("72"), "ES256"), stryMutAct_9fa48("73") ? "" : (stryCov_9fa48("73"), "ES384"), stryMutAct_9fa48("74") ? "" : (stryCov_9fa48("74"), "ES512"), stryMutAct_9fa48("75") ? "" : (stryCov_9fa48("75"), "PS256"), stryMutAct_9fa48("76") ? "" : (stryCov_9fa48("76"), "PS384"), stryMutAct_9fa48("77") ? "" : (stryCov_9fa48("77"), "PS512"), stryMutAct_9fa48("78") ? "" : (stryCov_9fa48("78"), "RS256"), stryMutAct_9fa48("79") ? "" : (stryCov_9fa48("79"), "RS384"), stryMutAct_9fa48("80") ? "" : (stryCov_9fa48("80"), "RS512"), stryMutAct_9fa48("81") ? "" : (stryCov_9fa48("81"), "Ed25519"), stryMutAct_9fa48("82") ? "" : (stryCov_9fa48("82"), "EdDSA")]);

/** The public members of a JWK by key type: exactly those of its RFC 7638 thumbprint. */
const publicMembers: Readonly<Record<string, ReadonlyArray<string>>> = stryMutAct_9fa48("83") ? {} : (stryCov_9fa48("83"), {
  EC: stryMutAct_9fa48("84") ? [] : (stryCov_9fa48("84"), [stryMutAct_9fa48("85") ? "" : (stryCov_9fa48("85"), "crv"), stryMutAct_9fa48("86") ? "" : (stryCov_9fa48("86"), "kty"), stryMutAct_9fa48("87") ? "" : (stryCov_9fa48("87"), "x"), stryMutAct_9fa48("88") ? "" : (stryCov_9fa48("88"), "y")]),
  OKP: stryMutAct_9fa48("89") ? [] : (stryCov_9fa48("89"), [stryMutAct_9fa48("90") ? "" : (stryCov_9fa48("90"), "crv"), stryMutAct_9fa48("91") ? "" : (stryCov_9fa48("91"), "kty"), stryMutAct_9fa48("92") ? "" : (stryCov_9fa48("92"), "x")]),
  RSA: stryMutAct_9fa48("93") ? [] : (stryCov_9fa48("93"), [stryMutAct_9fa48("94") ? "" : (stryCov_9fa48("94"), "e"), stryMutAct_9fa48("95") ? "" : (stryCov_9fa48("95"), "kty"), stryMutAct_9fa48("96") ? "" : (stryCov_9fa48("96"), "n")])
});

/**
 * The private half never leaves this map: a key object holds no reference to it that
 * `JSON.stringify`, `util.inspect` or a structured clone could reach, and the `CryptoKey` itself is
 * not extractable.
 */
const privateKeys = new WeakMap<KeyImpl, CryptoKey>();

/** @internal */
export class KeyImpl implements DPoP.Key, Inspectable.Inspectable {
  readonly [KeyTypeId]: DPoP.KeyTypeId = KeyTypeId;
  /** The protected header of every proof, built once. */
  readonly header: Jose.CompactJWSHeaderParameters;
  constructor(readonly algorithm: Algorithm, readonly publicJwk: Readonly<Jose.JWK>, readonly thumbprint: string, privateKey: CryptoKey) {
    if (stryMutAct_9fa48("97")) {
      {}
    } else {
      stryCov_9fa48("97");
      privateKeys.set(this, privateKey);
      this.header = stryMutAct_9fa48("98") ? {} : (stryCov_9fa48("98"), {
        typ: stryMutAct_9fa48("99") ? "" : (stryCov_9fa48("99"), "dpop+jwt"),
        alg: algorithm,
        jwk: publicJwk as Jose.JWK
      });
    }
  }
  toJSON(): unknown {
    if (stryMutAct_9fa48("100")) {
      {}
    } else {
      stryCov_9fa48("100");
      return stryMutAct_9fa48("101") ? {} : (stryCov_9fa48("101"), {
        _id: stryMutAct_9fa48("102") ? "" : (stryCov_9fa48("102"), "DPoP.Key"),
        algorithm: this.algorithm,
        thumbprint: this.thumbprint
      });
    }
  }
  toString(): string {
    if (stryMutAct_9fa48("103")) {
      {}
    } else {
      stryCov_9fa48("103");
      return Inspectable.format(this.toJSON());
    }
  }
  [Inspectable.NodeInspectSymbol](): unknown {
    if (stryMutAct_9fa48("104")) {
      {}
    } else {
      stryCov_9fa48("104");
      return this.toJSON();
    }
  }
}

/** @internal */
export const isKey = stryMutAct_9fa48("105") ? () => undefined : (stryCov_9fa48("105"), (() => {
  const isKey = (u: unknown): u is KeyImpl => u instanceof KeyImpl;
  return isKey;
})());

/** What went wrong with key material, in words that never quote it. */
export type KeyProblem = string;
const inferAlgorithm = (jwk: Jose.JWK): Algorithm | undefined => {
  if (stryMutAct_9fa48("106")) {
    {}
  } else {
    stryCov_9fa48("106");
    switch (jwk.kty) {
      case stryMutAct_9fa48("108") ? "" : (stryCov_9fa48("108"), "EC"):
        if (stryMutAct_9fa48("107")) {} else {
          stryCov_9fa48("107");
          return (stryMutAct_9fa48("111") ? jwk.crv !== "P-256" : stryMutAct_9fa48("110") ? false : stryMutAct_9fa48("109") ? true : (stryCov_9fa48("109", "110", "111"), jwk.crv === (stryMutAct_9fa48("112") ? "" : (stryCov_9fa48("112"), "P-256")))) ? stryMutAct_9fa48("113") ? "" : (stryCov_9fa48("113"), "ES256") : (stryMutAct_9fa48("116") ? jwk.crv !== "P-384" : stryMutAct_9fa48("115") ? false : stryMutAct_9fa48("114") ? true : (stryCov_9fa48("114", "115", "116"), jwk.crv === (stryMutAct_9fa48("117") ? "" : (stryCov_9fa48("117"), "P-384")))) ? stryMutAct_9fa48("118") ? "" : (stryCov_9fa48("118"), "ES384") : (stryMutAct_9fa48("121") ? jwk.crv !== "P-521" : stryMutAct_9fa48("120") ? false : stryMutAct_9fa48("119") ? true : (stryCov_9fa48("119", "120", "121"), jwk.crv === (stryMutAct_9fa48("122") ? "" : (stryCov_9fa48("122"), "P-521")))) ? stryMutAct_9fa48("123") ? "" : (stryCov_9fa48("123"), "ES512") : undefined;
        }
      case stryMutAct_9fa48("125") ? "" : (stryCov_9fa48("125"), "OKP"):
        if (stryMutAct_9fa48("124")) {} else {
          stryCov_9fa48("124");
          return (stryMutAct_9fa48("128") ? jwk.crv !== "Ed25519" : stryMutAct_9fa48("127") ? false : stryMutAct_9fa48("126") ? true : (stryCov_9fa48("126", "127", "128"), jwk.crv === (stryMutAct_9fa48("129") ? "" : (stryCov_9fa48("129"), "Ed25519")))) ? stryMutAct_9fa48("130") ? "" : (stryCov_9fa48("130"), "Ed25519") : undefined;
        }
      case stryMutAct_9fa48("132") ? "" : (stryCov_9fa48("132"), "RSA"):
        if (stryMutAct_9fa48("131")) {} else {
          stryCov_9fa48("131");
          return stryMutAct_9fa48("133") ? "" : (stryCov_9fa48("133"), "PS256");
        }
      default:
        if (stryMutAct_9fa48("134")) {} else {
          stryCov_9fa48("134");
          return undefined;
        }
    }
  }
};
const publicJwkOf = (jwk: Jose.JWK): Jose.JWK => {
  if (stryMutAct_9fa48("135")) {
    {}
  } else {
    stryCov_9fa48("135");
    const out: Record<string, unknown> = {};
    for (const member of stryMutAct_9fa48("136") ? publicMembers[jwk.kty ?? ""] && [] : (stryCov_9fa48("136"), publicMembers[stryMutAct_9fa48("137") ? jwk.kty && "" : (stryCov_9fa48("137"), jwk.kty ?? (stryMutAct_9fa48("138") ? "Stryker was here!" : (stryCov_9fa48("138"), "")))] ?? (stryMutAct_9fa48("139") ? ["Stryker was here"] : (stryCov_9fa48("139"), [])))) out[member] = (jwk as Record<string, unknown>)[member];
    return out as Jose.JWK;
  }
};
const encoder = new TextEncoder();
const signWith = stryMutAct_9fa48("140") ? () => undefined : (stryCov_9fa48("140"), (() => {
  const signWith = (privateKey: CryptoKey, header: Jose.CompactJWSHeaderParameters, claims: object): Promise<string> => new Jose.CompactSign(encoder.encode(JSON.stringify(claims))).setProtectedHeader(header).sign(privateKey);
  return signWith;
})());

/**
 * Builds a key from a private JWK. It signs one probe before it is returned, so that a key and an
 * algorithm that do not go together fail here, with a typed error, and never on a request.
 */
const fromPrivateJwk = async (jwk: Jose.JWK, requested: Algorithm | undefined): Promise<Either.Either<KeyImpl, KeyProblem>> => {
  if (stryMutAct_9fa48("141")) {
    {}
  } else {
    stryCov_9fa48("141");
    if (stryMutAct_9fa48("144") ? jwk.kty !== "oct" : stryMutAct_9fa48("143") ? false : stryMutAct_9fa48("142") ? true : (stryCov_9fa48("142", "143", "144"), jwk.kty === (stryMutAct_9fa48("145") ? "" : (stryCov_9fa48("145"), "oct")))) return Either.left(stryMutAct_9fa48("146") ? "" : (stryCov_9fa48("146"), "is a symmetric key: DPoP needs an asymmetric private key"));
    if (stryMutAct_9fa48("149") ? publicMembers[jwk.kty ?? ""] !== undefined : stryMutAct_9fa48("148") ? false : stryMutAct_9fa48("147") ? true : (stryCov_9fa48("147", "148", "149"), publicMembers[stryMutAct_9fa48("150") ? jwk.kty && "" : (stryCov_9fa48("150"), jwk.kty ?? (stryMutAct_9fa48("151") ? "Stryker was here!" : (stryCov_9fa48("151"), "")))] === undefined)) return Either.left(stryMutAct_9fa48("152") ? "" : (stryCov_9fa48("152"), "has an unsupported key type (kty)"));
    if (stryMutAct_9fa48("155") ? typeof jwk.d === "string" : stryMutAct_9fa48("154") ? false : stryMutAct_9fa48("153") ? true : (stryCov_9fa48("153", "154", "155"), typeof jwk.d !== (stryMutAct_9fa48("156") ? "" : (stryCov_9fa48("156"), "string")))) return Either.left(stryMutAct_9fa48("157") ? "" : (stryCov_9fa48("157"), "is a public key: DPoP needs the private key"));
    const algorithm = stryMutAct_9fa48("158") ? requested && (algorithms.includes(jwk.alg as Algorithm) ? jwk.alg as Algorithm : inferAlgorithm(jwk)) : (stryCov_9fa48("158"), requested ?? (algorithms.includes(jwk.alg as Algorithm) ? jwk.alg as Algorithm : inferAlgorithm(jwk)));
    if (stryMutAct_9fa48("161") ? algorithm !== undefined : stryMutAct_9fa48("160") ? false : stryMutAct_9fa48("159") ? true : (stryCov_9fa48("159", "160", "161"), algorithm === undefined)) return Either.left(stryMutAct_9fa48("162") ? "" : (stryCov_9fa48("162"), "has a curve that no DPoP signing algorithm uses"));
    const publicJwk = publicJwkOf(jwk);
    const {
      alg: _alg,
      ext: _ext,
      key_ops: _keyOps,
      use: _use,
      ...material
    } = jwk;
    let privateKey: CryptoKey;
    try {
      if (stryMutAct_9fa48("163")) {
        {}
      } else {
        stryCov_9fa48("163");
        privateKey = (await Jose.importJWK(material, algorithm, {
          extractable: false
        })) as CryptoKey;
      }
    } catch {
      if (stryMutAct_9fa48("164")) {
        {}
      } else {
        stryCov_9fa48("164");
        return Either.left(stryMutAct_9fa48("165") ? `` : (stryCov_9fa48("165"), `cannot be imported as a ${algorithm} signing key`));
      }
    }
    const thumbprint = await Jose.calculateJwkThumbprint(publicJwk, stryMutAct_9fa48("166") ? "" : (stryCov_9fa48("166"), "sha256"));
    const key = new KeyImpl(algorithm, Object.freeze(publicJwk), thumbprint, privateKey);
    try {
      if (stryMutAct_9fa48("167")) {
        {}
      } else {
        stryCov_9fa48("167");
        await signWith(privateKey, key.header, stryMutAct_9fa48("168") ? {} : (stryCov_9fa48("168"), {
          probe: stryMutAct_9fa48("169") ? false : (stryCov_9fa48("169"), true)
        }));
      }
    } catch {
      if (stryMutAct_9fa48("170")) {
        {}
      } else {
        stryCov_9fa48("170");
        return Either.left(stryMutAct_9fa48("171") ? `` : (stryCov_9fa48("171"), `cannot sign with ${algorithm}`));
      }
    }
    return Either.right(key);
  }
};

/** The algorithms tried, in turn, on a PKCS#8 key that comes with none. */
const pemCandidates: ReadonlyArray<Algorithm> = stryMutAct_9fa48("172") ? [] : (stryCov_9fa48("172"), [stryMutAct_9fa48("173") ? "" : (stryCov_9fa48("173"), "ES256"), stryMutAct_9fa48("174") ? "" : (stryCov_9fa48("174"), "ES384"), stryMutAct_9fa48("175") ? "" : (stryCov_9fa48("175"), "ES512"), stryMutAct_9fa48("176") ? "" : (stryCov_9fa48("176"), "Ed25519"), stryMutAct_9fa48("177") ? "" : (stryCov_9fa48("177"), "PS256")]);
const fromPkcs8 = async (pem: string, requested: Algorithm | undefined): Promise<Either.Either<KeyImpl, KeyProblem>> => {
  if (stryMutAct_9fa48("178")) {
    {}
  } else {
    stryCov_9fa48("178");
    for (const algorithm of (stryMutAct_9fa48("181") ? requested !== undefined : stryMutAct_9fa48("180") ? false : stryMutAct_9fa48("179") ? true : (stryCov_9fa48("179", "180", "181"), requested === undefined)) ? pemCandidates : stryMutAct_9fa48("182") ? [] : (stryCov_9fa48("182"), [requested])) {
      if (stryMutAct_9fa48("183")) {
        {}
      } else {
        stryCov_9fa48("183");
        let jwk: Jose.JWK;
        try {
          if (stryMutAct_9fa48("184")) {
            {}
          } else {
            stryCov_9fa48("184");
            jwk = await Jose.exportJWK(await Jose.importPKCS8(pem, algorithm, stryMutAct_9fa48("185") ? {} : (stryCov_9fa48("185"), {
              extractable: stryMutAct_9fa48("186") ? false : (stryCov_9fa48("186"), true)
            })));
          }
        } catch {
          if (stryMutAct_9fa48("187")) {
            {}
          } else {
            stryCov_9fa48("187");
            continue;
          }
        }
        return fromPrivateJwk(jwk, stryMutAct_9fa48("188") ? requested && inferAlgorithm(jwk) : (stryCov_9fa48("188"), requested ?? inferAlgorithm(jwk)));
      }
    }
    return Either.left((stryMutAct_9fa48("191") ? requested !== undefined : stryMutAct_9fa48("190") ? false : stryMutAct_9fa48("189") ? true : (stryCov_9fa48("189", "190", "191"), requested === undefined)) ? stryMutAct_9fa48("192") ? "" : (stryCov_9fa48("192"), "is not a PKCS#8 private key of a supported type (EC P-256/P-384/P-521, Ed25519, RSA)") : stryMutAct_9fa48("193") ? `` : (stryCov_9fa48("193"), `is not a PKCS#8 private key usable with ${requested}`));
  }
};

/**
 * Imports a private key given as a JWK (JSON) or a PKCS#8 PEM, told apart by their first
 * character.
 *
 * @internal
 */
export const importKey = stryMutAct_9fa48("194") ? () => undefined : (stryCov_9fa48("194"), (() => {
  const importKey = (material: Redacted.Redacted<string>, algorithm: Algorithm | undefined): Effect.Effect<Either.Either<KeyImpl, KeyProblem>> => Effect.promise(async () => {
    if (stryMutAct_9fa48("195")) {
      {}
    } else {
      stryCov_9fa48("195");
      const text = stryMutAct_9fa48("196") ? Redacted.value(material) : (stryCov_9fa48("196"), Redacted.value(material).trim());
      if (stryMutAct_9fa48("199") ? text.endsWith("-----BEGIN") : stryMutAct_9fa48("198") ? false : stryMutAct_9fa48("197") ? true : (stryCov_9fa48("197", "198", "199"), text.startsWith(stryMutAct_9fa48("200") ? "" : (stryCov_9fa48("200"), "-----BEGIN")))) {
        if (stryMutAct_9fa48("201")) {
          {}
        } else {
          stryCov_9fa48("201");
          return (stryMutAct_9fa48("202") ? text.endsWith("-----BEGIN PRIVATE KEY-----") : (stryCov_9fa48("202"), text.startsWith(stryMutAct_9fa48("203") ? "" : (stryCov_9fa48("203"), "-----BEGIN PRIVATE KEY-----")))) ? fromPkcs8(text, algorithm) : Either.left(stryMutAct_9fa48("204") ? "" : (stryCov_9fa48("204"), "is a PEM block other than PKCS#8 (-----BEGIN PRIVATE KEY-----)"));
        }
      }
      let jwk: unknown;
      try {
        if (stryMutAct_9fa48("205")) {
          {}
        } else {
          stryCov_9fa48("205");
          jwk = JSON.parse(text);
        }
      } catch {
        if (stryMutAct_9fa48("206")) {
          {}
        } else {
          stryCov_9fa48("206");
          return Either.left(stryMutAct_9fa48("207") ? "" : (stryCov_9fa48("207"), "is neither a JSON Web Key nor a PKCS#8 PEM"));
        }
      }
      if (stryMutAct_9fa48("210") ? (jwk === null || typeof jwk !== "object") && Array.isArray(jwk) : stryMutAct_9fa48("209") ? false : stryMutAct_9fa48("208") ? true : (stryCov_9fa48("208", "209", "210"), (stryMutAct_9fa48("212") ? jwk === null && typeof jwk !== "object" : stryMutAct_9fa48("211") ? false : (stryCov_9fa48("211", "212"), (stryMutAct_9fa48("214") ? jwk !== null : stryMutAct_9fa48("213") ? false : (stryCov_9fa48("213", "214"), jwk === null)) || (stryMutAct_9fa48("216") ? typeof jwk === "object" : stryMutAct_9fa48("215") ? false : (stryCov_9fa48("215", "216"), typeof jwk !== (stryMutAct_9fa48("217") ? "" : (stryCov_9fa48("217"), "object")))))) || Array.isArray(jwk))) {
        if (stryMutAct_9fa48("218")) {
          {}
        } else {
          stryCov_9fa48("218");
          return Either.left(stryMutAct_9fa48("219") ? "" : (stryCov_9fa48("219"), "is not a JSON Web Key object"));
        }
      }
      return fromPrivateJwk(jwk as Jose.JWK, algorithm);
    }
  });
  return importKey;
})());

/** @internal */
export const generate = stryMutAct_9fa48("220") ? () => undefined : (stryCov_9fa48("220"), (() => {
  const generate = (algorithm: Algorithm): Effect.Effect<Either.Either<KeyImpl, KeyProblem>> => Effect.promise(async () => {
    if (stryMutAct_9fa48("221")) {
      {}
    } else {
      stryCov_9fa48("221");
      let pair: Jose.GenerateKeyPairResult;
      try {
        if (stryMutAct_9fa48("222")) {
          {}
        } else {
          stryCov_9fa48("222");
          pair = await Jose.generateKeyPair(algorithm, stryMutAct_9fa48("223") ? {} : (stryCov_9fa48("223"), {
            extractable: stryMutAct_9fa48("224") ? true : (stryCov_9fa48("224"), false)
          }));
        }
      } catch {
        if (stryMutAct_9fa48("225")) {
          {}
        } else {
          stryCov_9fa48("225");
          return Either.left(stryMutAct_9fa48("226") ? `` : (stryCov_9fa48("226"), `cannot be generated for ${algorithm} on this runtime`));
        }
      }
      const publicJwk = publicJwkOf(await Jose.exportJWK(pair.publicKey));
      const thumbprint = await Jose.calculateJwkThumbprint(publicJwk, stryMutAct_9fa48("227") ? "" : (stryCov_9fa48("227"), "sha256"));
      return Either.right(new KeyImpl(algorithm, Object.freeze(publicJwk), thumbprint, pair.privateKey));
    }
  });
  return generate;
})());

/** @internal */
export interface ProofClaims {
  readonly htm: string;
  readonly htu: string;
  readonly iat: number;
  readonly jti: string;
  readonly nonce?: string | undefined;
  readonly ath?: string | undefined;
}

/**
 * Signs one proof. Signing with a key that already signed its probe cannot fail short of a broken
 * runtime, so a failure here is a defect.
 *
 * @internal
 */
export const sign = stryMutAct_9fa48("228") ? () => undefined : (stryCov_9fa48("228"), (() => {
  const sign = (key: KeyImpl, claims: ProofClaims): Effect.Effect<Redacted.Redacted<string>> => Effect.promise(stryMutAct_9fa48("229") ? () => undefined : (stryCov_9fa48("229"), () => signWith(privateKeys.get(key)!, key.header, claims))).pipe(Effect.map(Redacted.make));
  return sign;
})());

/**
 * Builds the claims of a proof for a request sent now, with a fresh `jti`.
 *
 * @internal
 */
export const claims = (nowMillis: number, method: string, url: string, nonce: string | undefined, ath: string | undefined): ProofClaims => {
  if (stryMutAct_9fa48("230")) {
    {}
  } else {
    stryCov_9fa48("230");
    const out: {
      htm: string;
      htu: string;
      iat: number;
      jti: string;
      nonce?: string;
      ath?: string;
    } = stryMutAct_9fa48("231") ? {} : (stryCov_9fa48("231"), {
      htm: stryMutAct_9fa48("232") ? method.toLowerCase() : (stryCov_9fa48("232"), method.toUpperCase()),
      htu: htuOf(url),
      iat: Math.floor(stryMutAct_9fa48("233") ? nowMillis * 1000 : (stryCov_9fa48("233"), nowMillis / 1000)),
      jti: crypto.randomUUID()
    });
    if (stryMutAct_9fa48("236") ? nonce === undefined : stryMutAct_9fa48("235") ? false : stryMutAct_9fa48("234") ? true : (stryCov_9fa48("234", "235", "236"), nonce !== undefined)) out.nonce = nonce;
    if (stryMutAct_9fa48("239") ? ath === undefined : stryMutAct_9fa48("238") ? false : stryMutAct_9fa48("237") ? true : (stryCov_9fa48("237", "238", "239"), ath !== undefined)) out.ath = ath;
    return out;
  }
};
const athCache = new WeakMap<Redacted.Redacted<string>, string>();
const base64url = stryMutAct_9fa48("240") ? () => undefined : (stryCov_9fa48("240"), (() => {
  const base64url = (bytes: ArrayBuffer): string => Jose.base64url.encode(new Uint8Array(bytes));
  return base64url;
})());

/**
 * `ath` (RFC 9449 §4.2): base64url of the SHA-256 of the access token. A token is used for many
 * requests, so its hash is computed once and kept with the token's `Redacted` box, which lives
 * exactly as long as the token.
 *
 * @internal
 */
export const accessTokenHash = (token: Redacted.Redacted<string>): Effect.Effect<string> => {
  if (stryMutAct_9fa48("241")) {
    {}
  } else {
    stryCov_9fa48("241");
    const cached = athCache.get(token);
    if (stryMutAct_9fa48("244") ? cached === undefined : stryMutAct_9fa48("243") ? false : stryMutAct_9fa48("242") ? true : (stryCov_9fa48("242", "243", "244"), cached !== undefined)) return Effect.succeed(cached);
    return Effect.promise(stryMutAct_9fa48("245") ? () => undefined : (stryCov_9fa48("245"), () => crypto.subtle.digest(stryMutAct_9fa48("246") ? "" : (stryCov_9fa48("246"), "SHA-256"), encoder.encode(Redacted.value(token))))).pipe(Effect.map(digest => {
      if (stryMutAct_9fa48("247")) {
        {}
      } else {
        stryCov_9fa48("247");
        const ath = base64url(digest);
        athCache.set(token, ath);
        return ath;
      }
    }));
  }
};
let lastNames: ReadonlyArray<string | RegExp> | undefined;
let lastWithProof: ReadonlyArray<string | RegExp> = stryMutAct_9fa48("248") ? ["Stryker was here"] : (stryCov_9fa48("248"), []);

/** The redacted header names with `dpop` added, computed once per distinct list. */
const withProofName = (names: ReadonlyArray<string | RegExp>): ReadonlyArray<string | RegExp> => {
  if (stryMutAct_9fa48("249")) {
    {}
  } else {
    stryCov_9fa48("249");
    if (stryMutAct_9fa48("252") ? names !== lastNames : stryMutAct_9fa48("251") ? false : stryMutAct_9fa48("250") ? true : (stryCov_9fa48("250", "251", "252"), names === lastNames)) return lastWithProof;
    lastNames = names;
    lastWithProof = names.includes(stryMutAct_9fa48("253") ? "" : (stryCov_9fa48("253"), "dpop")) ? names : stryMutAct_9fa48("254") ? [] : (stryCov_9fa48("254"), [...names, stryMutAct_9fa48("255") ? "" : (stryCov_9fa48("255"), "dpop")]);
    return lastWithProof;
  }
};

/**
 * Masks the `DPoP` header wherever `@effect/platform` shows request headers (client spans): a proof
 * can be replayed until it is too old, as the token beside it can.
 *
 * @internal
 */
export const redactingProofs = stryMutAct_9fa48("256") ? () => undefined : (stryCov_9fa48("256"), (() => {
  const redactingProofs = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.locallyWith(effect, Headers.currentRedactedNames, withProofName);
  return redactingProofs;
})());

/**
 * Adds a new proof to `request` (its method and URL), with the nonce its origin gave last and, for
 * a resource request, `ath` of the token it carries.
 *
 * @internal
 */
export const withProof = stryMutAct_9fa48("257") ? () => undefined : (stryCov_9fa48("257"), (() => {
  const withProof = (request: HttpClientRequest.HttpClientRequest, key: KeyImpl, nonces: NonceStore, accessToken: Redacted.Redacted<string> | undefined): Effect.Effect<HttpClientRequest.HttpClientRequest> => Effect.flatMap((stryMutAct_9fa48("260") ? accessToken !== undefined : stryMutAct_9fa48("259") ? false : stryMutAct_9fa48("258") ? true : (stryCov_9fa48("258", "259", "260"), accessToken === undefined)) ? Effect.void : accessTokenHash(accessToken), stryMutAct_9fa48("261") ? () => undefined : (stryCov_9fa48("261"), ath => Effect.clockWith(stryMutAct_9fa48("262") ? () => undefined : (stryCov_9fa48("262"), clock => Effect.map(sign(key, claims(clock.unsafeCurrentTimeMillis(), request.method, request.url, nonces.get(request.url), stryMutAct_9fa48("263") ? ath && undefined : (stryCov_9fa48("263"), ath ?? undefined))), stryMutAct_9fa48("264") ? () => undefined : (stryCov_9fa48("264"), proof => HttpClientRequest.setHeader(request, stryMutAct_9fa48("265") ? "" : (stryCov_9fa48("265"), "dpop"), Redacted.value(proof))))))));
  return withProof;
})());
const isNonceRefusal = stryMutAct_9fa48("266") ? () => undefined : (stryCov_9fa48("266"), (() => {
  const isNonceRefusal = (error: TokenEndpointError): boolean => stryMutAct_9fa48("269") ? error._tag === "TokenRefusedError" || error.error === "use_dpop_nonce" : stryMutAct_9fa48("268") ? false : stryMutAct_9fa48("267") ? true : (stryCov_9fa48("267", "268", "269"), (stryMutAct_9fa48("271") ? error._tag !== "TokenRefusedError" : stryMutAct_9fa48("270") ? true : (stryCov_9fa48("270", "271"), error._tag === (stryMutAct_9fa48("272") ? "" : (stryCov_9fa48("272"), "TokenRefusedError")))) && (stryMutAct_9fa48("274") ? error.error !== "use_dpop_nonce" : stryMutAct_9fa48("273") ? true : (stryCov_9fa48("273", "274"), error.error === (stryMutAct_9fa48("275") ? "" : (stryCov_9fa48("275"), "use_dpop_nonce")))));
  return isNonceRefusal;
})());

/**
 * One attempt at the token endpoint, with DPoP when the client uses it: a new proof on every try
 * (built after `encode`, so after a fresh client assertion too), one more try when the endpoint
 * refuses with `use_dpop_nonce` and has just given a nonce (RFC 9449 §8). `send` must feed `nonces`
 * from every response, and refuse a `Bearer` answer unless the client allows the downgrade (the
 * token response does, with the answer's status and content type at hand).
 *
 * @internal
 */
export const tokenAttempt = (client: ClientCredentialsClient.ClientCredentialsClient, tokenEndpoint: string, nonces: NonceStore, encode: Effect.Effect<HttpClientRequest.HttpClientRequest, TokenEndpointError>, send: (request: HttpClientRequest.HttpClientRequest) => Effect.Effect<AccessToken.AccessToken, TokenEndpointError>): Effect.Effect<AccessToken.AccessToken, TokenEndpointError> => {
  if (stryMutAct_9fa48("276")) {
    {}
  } else {
    stryCov_9fa48("276");
    const dpop = client.dpop;
    if (stryMutAct_9fa48("279") ? dpop !== undefined : stryMutAct_9fa48("278") ? false : stryMutAct_9fa48("277") ? true : (stryCov_9fa48("277", "278", "279"), dpop === undefined)) return Effect.flatMap(encode, send);
    const key = dpop.key as KeyImpl;
    const once = encode.pipe(Effect.flatMap(stryMutAct_9fa48("280") ? () => undefined : (stryCov_9fa48("280"), request => withProof(request, key, nonces, undefined))), Effect.flatMap(send));
    return once.pipe(Effect.catchIf(stryMutAct_9fa48("281") ? () => undefined : (stryCov_9fa48("281"), error => stryMutAct_9fa48("284") ? isNonceRefusal(error) || nonces.get(tokenEndpoint) !== undefined : stryMutAct_9fa48("283") ? false : stryMutAct_9fa48("282") ? true : (stryCov_9fa48("282", "283", "284"), isNonceRefusal(error) && (stryMutAct_9fa48("286") ? nonces.get(tokenEndpoint) === undefined : stryMutAct_9fa48("285") ? true : (stryCov_9fa48("285", "286"), nonces.get(tokenEndpoint) !== undefined)))), stryMutAct_9fa48("287") ? () => undefined : (stryCov_9fa48("287"), () => once)), redactingProofs);
  }
};