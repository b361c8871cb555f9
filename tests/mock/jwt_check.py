"""Verify a JWT a request carries (lowcode cases: "jwt" in an exchange's
expected request), with PyJWT (Debian python3-jwt, python3-cryptography):

  {"in": "header:Authorization" | "query:NAME" | "form:NAME",
   "prefix": "Bearer ",     text before the token
   "alg": "RS256", "key": public key PEM (or the HMAC secret),
   "header": {...},         the JOSE header, exactly
   "claims": {...},         these payload members, with these values
   "duration": 1200,        exp - iat; nbf == iat; iat within 10 min of now
   "other_form": {...}}     with "in": "form:NAME": the rest of the form, exactly

The signature is checked with the key and only the expected algorithm.
"""
import time
import urllib.parse

import jwt


def token_of(spec, got):
    where, _, name = spec.get("in", "header:Authorization").partition(":")
    if where == "header":
        return got["headers"].get(name.lower())
    if where == "query":
        v = got["query"].get(name)
        return v[0] if v else None
    if where == "form":
        v = urllib.parse.parse_qs(got["body"], keep_blank_values=True).get(name)
        return v[0] if v else None
    return None


def check(where, spec, got, problems):
    raw = token_of(spec, got)
    prefix = spec.get("prefix", "")
    if raw is None:
        problems.append("%s: no token in %s" % (where, spec.get("in", "header:Authorization")))
        return
    if not raw.startswith(prefix):
        problems.append("%s: token %r does not start with %r" % (where, raw[:40], prefix))
        return
    tok = raw[len(prefix):]
    if "other_form" in spec:
        form = urllib.parse.parse_qs(got["body"], keep_blank_values=True)
        form.pop(spec["in"].partition(":")[2], None)
        if form != spec["other_form"]:
            problems.append("%s: form body besides the token %s, expected %s" % (where, form, spec["other_form"]))
    try:
        header = jwt.get_unverified_header(tok)
        claims = jwt.decode(tok, spec["key"], algorithms=[spec["alg"]],
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                     "verify_aud": False, "require": ["exp", "iat", "nbf"]})
    except Exception as e:  # any PyJWT failure is the finding
        problems.append("%s: JWT does not verify (%s): %s" % (where, spec["alg"], e))
        return
    if "header" in spec and header != spec["header"]:
        problems.append("%s: JWT header %s, expected %s" % (where, header, spec["header"]))
    for k, v in spec.get("claims", {}).items():
        if claims.get(k) != v:
            problems.append("%s: JWT claim %s = %r, expected %r" % (where, k, claims.get(k), v))
    if "duration" in spec and claims["exp"] - claims["iat"] != spec["duration"]:
        problems.append("%s: JWT exp - iat = %d, expected %d" % (where, claims["exp"] - claims["iat"], spec["duration"]))
    if claims["nbf"] != claims["iat"]:
        problems.append("%s: JWT nbf %d != iat %d" % (where, claims["nbf"], claims["iat"]))
    if abs(claims["iat"] - time.time()) > 600:
        problems.append("%s: JWT iat %d is not about now" % (where, claims["iat"]))
