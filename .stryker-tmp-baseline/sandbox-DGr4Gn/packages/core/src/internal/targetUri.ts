/** The target URI a DPoP proof names (`htu`), as the transport sends it. */
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
let lastUrl: string | undefined;
let lastHtu = stryMutAct_9fa48("288") ? "Stryker was here!" : (stryCov_9fa48("288"), "");

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
  if (stryMutAct_9fa48("289")) {
    {}
  } else {
    stryCov_9fa48("289");
    if (stryMutAct_9fa48("292") ? url !== lastUrl : stryMutAct_9fa48("291") ? false : stryMutAct_9fa48("290") ? true : (stryCov_9fa48("290", "291", "292"), url === lastUrl)) return lastHtu;
    const parsed = URL.parse(url);
    let htu: string;
    if (stryMutAct_9fa48("295") ? parsed !== null : stryMutAct_9fa48("294") ? false : stryMutAct_9fa48("293") ? true : (stryCov_9fa48("293", "294", "295"), parsed === null)) {
      if (stryMutAct_9fa48("296")) {
        {}
      } else {
        stryCov_9fa48("296");
        const end = url.search(stryMutAct_9fa48("297") ? /[^?#]/ : (stryCov_9fa48("297"), /[?#]/));
        htu = (stryMutAct_9fa48("300") ? end !== -1 : stryMutAct_9fa48("299") ? false : stryMutAct_9fa48("298") ? true : (stryCov_9fa48("298", "299", "300"), end === (stryMutAct_9fa48("301") ? +1 : (stryCov_9fa48("301"), -1)))) ? url : stryMutAct_9fa48("302") ? url : (stryCov_9fa48("302"), url.slice(0, end));
      }
    } else {
      if (stryMutAct_9fa48("303")) {
        {}
      } else {
        stryCov_9fa48("303");
        htu = stryMutAct_9fa48("304") ? `` : (stryCov_9fa48("304"), `${parsed.protocol}//${parsed.host}${parsed.pathname}`);
      }
    }
    lastUrl = url;
    lastHtu = htu;
    return htu;
  }
};