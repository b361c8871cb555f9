/* JwtAuthenticator's token (also OAuthAuthenticator.profile_assertion):
 * header and payload as the CDK builds them, signed with OpenSSL. Debian's
 * libjwt 1.10 knows 9 of the schema's 14 algorithms (no PS*, ES256K,
 * EdDSA), so one EVP path signs them all (docs/lowcode.md, JWT). */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc.h"

typedef enum { JK_HMAC, JK_RSA, JK_PSS, JK_EC, JK_ED } jwt_kind;

typedef struct jwt_alg {
  const char *name;
  jwt_kind kind;
  const char *md;    /* digest name; NULL for EdDSA */
  const char *curve; /* EC group the key must use */
  int coord;         /* EC: bytes per signature half */
} jwt_alg;

static const jwt_alg ALGS[] = {
    {"HS256", JK_HMAC, "SHA256", NULL, 0},       {"HS384", JK_HMAC, "SHA384", NULL, 0},
    {"HS512", JK_HMAC, "SHA512", NULL, 0},       {"RS256", JK_RSA, "SHA256", NULL, 0},
    {"RS384", JK_RSA, "SHA384", NULL, 0},        {"RS512", JK_RSA, "SHA512", NULL, 0},
    {"PS256", JK_PSS, "SHA256", NULL, 0},        {"PS384", JK_PSS, "SHA384", NULL, 0},
    {"PS512", JK_PSS, "SHA512", NULL, 0},        {"ES256", JK_EC, "SHA256", "prime256v1", 32},
    {"ES256K", JK_EC, "SHA256", "secp256k1", 32}, {"ES384", JK_EC, "SHA384", "secp384r1", 48},
    {"ES512", JK_EC, "SHA512", "secp521r1", 66}, {"EdDSA", JK_ED, NULL, NULL, 0},
    {NULL, 0, NULL, NULL, 0},
};

struct lc_jwt {
  lc_source *src;
  const json_t *node;
  const jwt_alg *alg;
  sl_tmpl *secret, *passphrase, *prefix, *kid, *typ, *cty, *iss, *sub, *aud, *b64;
  lc_ttree *add_headers, *add_payload;
  bool has_duration;
  int64_t duration;
  /* the parsed key of the last secret text */
  char *key_text;
  EVP_PKEY *key;
  /* the last token, reused while young (see lc_jwt_token) */
  char *token;
  int64_t token_iat;
};

/* "file:line:col path" of the authenticator (a buffer in the caller) */
#define where(j) LC_WHERE((j)->src, (j)->node)

sl_code lc_jwt_build(lc_source *src, const json_t *node, lc_jwt **out, sl_err *err) {
  lc_jwt *j = calloc(1, sizeof *j);
  if (!j) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = j;
  j->src = src;
  j->node = node;
  const char *alg = json_string_value(json_object_get(node, "algorithm"));
  for (const jwt_alg *a = ALGS; alg && a->name; a++)
    if (!strcmp(a->name, alg)) j->alg = a;
  if (!j->alg)
    return sl_err_set(err, SL_ECONFIG, "%s: JwtAuthenticator algorithm %s%s%s is not one of HS256/384/512, RS256/384/512, "
                      "PS256/384/512, ES256, ES256K, ES384, ES512, EdDSA", where(j), alg ? "\"" : "", alg ? alg : "(missing)",
                      alg ? "\"" : "");
  if (!json_object_get(node, "secret_key"))
    return sl_err_set(err, SL_ECONFIG, "%s: JwtAuthenticator needs secret_key", where(j));
  const json_t *h = json_object_get(node, "jwt_headers"), *p = json_object_get(node, "jwt_payload");
  const json_t *dur = json_object_get(node, "token_duration");
  if (!dur) j->has_duration = true, j->duration = 1200;
  else if (json_is_integer(dur)) j->has_duration = true, j->duration = json_integer_value(dur);
  else if (!json_is_null(dur))
    return sl_err_set(err, SL_ECONFIG, "%s: token_duration must be an integer (seconds)", where(j));
  const json_t *b64 = json_object_get(node, "base64_encode_secret_key");
  sl_code rc;
  if ((rc = lc_tmpl_field(src, node, "secret_key", &j->secret, err)) ||
      (rc = lc_tmpl_field(src, node, "passphrase", &j->passphrase, err)) ||
      (rc = lc_tmpl_field(src, node, "header_prefix", &j->prefix, err)) ||
      (b64 && !json_is_boolean(b64) && (rc = lc_tmpl_field(src, node, "base64_encode_secret_key", &j->b64, err))) ||
      (rc = lc_tmpl_field(src, h, "kid", &j->kid, err)) || (rc = lc_tmpl_field(src, h, "typ", &j->typ, err)) ||
      (rc = lc_tmpl_field(src, h, "cty", &j->cty, err)) || (rc = lc_tmpl_field(src, p, "iss", &j->iss, err)) ||
      (rc = lc_tmpl_field(src, p, "sub", &j->sub, err)) || (rc = lc_tmpl_field(src, p, "aud", &j->aud, err)) ||
      (rc = lc_ttree_build(src, node, "additional_jwt_headers", &j->add_headers, err)) ||
      (rc = lc_ttree_build(src, node, "additional_jwt_payload", &j->add_payload, err)))
    return rc;
  if (json_is_true(b64)) j->b64 = sl_tmpl_compile("true", "base64_encode_secret_key", err);
  return SL_EOK;
}

void lc_jwt_free(lc_jwt *j) {
  if (!j) return;
  sl_tmpl *ts[] = {j->secret, j->passphrase, j->prefix, j->kid, j->typ, j->cty, j->iss, j->sub, j->aud, j->b64};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) sl_tmpl_free(ts[i]);
  lc_ttree_free(j->add_headers);
  lc_ttree_free(j->add_payload);
  free(j->key_text);
  EVP_PKEY_free(j->key);
  free(j->token);
  free(j);
}

static void b64url(sl_buf *out, const unsigned char *p, size_t n) {
  char *tmp = malloc(4 * ((n + 2) / 3) + 1);
  if (!tmp) return;
  int len = EVP_EncodeBlock((unsigned char *)tmp, p, (int)n);
  for (int i = 0; i < len; i++) {
    char c = tmp[i];
    if (c == '=') break;
    sl_buf_putc(out, c == '+' ? '-' : c == '/' ? '_' : c);
  }
  free(tmp);
}

/* A template rendered to malloc'd text ("" when t is NULL). */
static char *render(lc_jwt *j, const sl_tmpl *t, sl_err *err, sl_code *rc) {
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  if (t && !*rc) *rc = lc_eval_text_at(j->src, j->node, t, &b, err);
  char *s = strdup(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return s;
}

static sl_code ossl_err(lc_jwt *j, sl_err *err, const char *what) {
  char detail[256] = "";
  unsigned long e = ERR_get_error();
  if (e) ERR_error_string_n(e, detail, sizeof detail);
  ERR_clear_error();
  return sl_err_set(err, SL_ECONFIG, "%s: JwtAuthenticator (%s): %s%s%s", where(j), j->alg->name, what,
                    *detail ? ": " : "", detail);
}

static int pass_cb(char *buf, int size, int rwflag, void *u) {
  (void)rwflag;
  const char *p = u;
  if (!p) return -1; /* never prompt: an encrypted key needs passphrase */
  int n = (int)strlen(p);
  if (n > size) n = size;
  memcpy(buf, p, (size_t)n);
  return n;
}

/* The private key for secret text (cached while the text is the same). */
static sl_code load_key(lc_jwt *j, const char *text, const char *pass, sl_err *err) {
  if (j->key && j->key_text && !strcmp(j->key_text, text)) return SL_EOK;
  EVP_PKEY_free(j->key);
  j->key = NULL;
  free(j->key_text);
  j->key_text = NULL;
  BIO *bio = BIO_new_mem_buf(text, -1);
  EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, pass_cb, (void *)pass) : NULL;
  BIO_free(bio);
  if (!k)
    return ossl_err(j, err, pass ? "secret_key is not a PEM private key this passphrase opens"
                                  : "secret_key is not a PEM private key (an encrypted key needs passphrase)");
  const jwt_alg *a = j->alg;
  const char *want = a->kind == JK_EC ? "EC" : a->kind == JK_ED ? NULL : "RSA";
  bool ok = want ? EVP_PKEY_is_a(k, want) : (EVP_PKEY_is_a(k, "ED25519") || EVP_PKEY_is_a(k, "ED448"));
  char group[64] = "";
  if (ok && a->curve) {
    size_t gl = 0;
    EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &gl);
    ok = !strcmp(group, a->curve);
  }
  if (!ok) {
    sl_code rc = sl_err_set(err, SL_ECONFIG, "%s: JwtAuthenticator (%s): secret_key holds a key of type %s%s%s; the algorithm needs %s%s%s",
                            where(j), a->name, EVP_PKEY_get0_type_name(k), *group ? " " : "", group,
                            want ? want : "an Ed25519 or Ed448", a->curve ? " " : "", a->curve ? a->curve : "");
    EVP_PKEY_free(k);
    return rc;
  }
  j->key = k;
  j->key_text = strdup(text);
  return SL_EOK;
}

/* signature of msg by the algorithm, appended base64url to out */
static sl_code sign(lc_jwt *j, const char *secret, const char *pass, const char *msg, sl_buf *out, sl_err *err) {
  const jwt_alg *a = j->alg;
  size_t mlen = strlen(msg);
  if (a->kind == JK_HMAC) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    const EVP_MD *md = EVP_get_digestbyname(a->md);
    if (!md || !HMAC(md, secret, (int)strlen(secret), (const unsigned char *)msg, mlen, mac, &ml))
      return ossl_err(j, err, "HMAC failed");
    b64url(out, mac, ml);
    return SL_EOK;
  }
  sl_code rc = load_key(j, secret, pass, err);
  if (rc) return rc;
  EVP_MD_CTX *mctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char *sig = NULL;
  size_t slen = 0;
  bool ok = mctx && EVP_DigestSignInit_ex(mctx, &pctx, a->md, NULL, NULL, j->key, NULL) == 1;
  if (ok && a->kind == JK_PSS)
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
  ok = ok && EVP_DigestSign(mctx, NULL, &slen, (const unsigned char *)msg, mlen) == 1 && (sig = malloc(slen)) &&
       EVP_DigestSign(mctx, sig, &slen, (const unsigned char *)msg, mlen) == 1;
  EVP_MD_CTX_free(mctx);
  if (!ok) {
    free(sig);
    return ossl_err(j, err, "signing failed");
  }
  if (a->kind == JK_EC) {
    /* JWS wants r||s of fixed width, OpenSSL gives DER */
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)slen);
    unsigned char raw[132];
    ok = es && BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, a->coord) == a->coord &&
         BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + a->coord, a->coord) == a->coord;
    ECDSA_SIG_free(es);
    free(sig);
    if (!ok) return ossl_err(j, err, "ECDSA signature conversion failed");
    b64url(out, raw, (size_t)a->coord * 2);
    return SL_EOK;
  }
  b64url(out, sig, slen);
  free(sig);
  return SL_EOK;
}

static sl_code check_reserved(lc_jwt *j, const json_t *obj, const char *const *names, const char *field, sl_err *err) {
  for (const char *const *n = names; *n; n++)
    if (json_object_get(obj, *n))
      return sl_err_set(err, SL_ECONFIG, "%s: %s sets \"%s\", which the authenticator sets itself (reserved)", where(j),
                        field, *n);
  return SL_EOK;
}

/* The mapping of a template tree (an empty object when absent). */
static sl_code eval_map(lc_jwt *j, const lc_ttree *t, const char *field, json_t **out, sl_err *err) {
  *out = NULL;
  json_t *ctx = lc_ctx_new(j->src, j->node);
  sl_code rc = lc_ttree_eval(t, ctx, SL_TMPL_ANY, out, err);
  json_decref(ctx);
  if (!rc && *out && !json_is_object(*out)) rc = sl_err_set(err, SL_ECONFIG, "%s: %s must be a mapping", where(j), field);
  if (!rc && !*out) *out = json_object();
  return rc;
}

static void put_text(lc_jwt *j, json_t *obj, const char *k, const sl_tmpl *t, sl_err *err, sl_code *rc) {
  if (!t) return;
  char *v = render(j, t, err, rc);
  json_object_set_new(obj, k, json_string(v));
  free(v);
}

static sl_code sign_new(lc_jwt *j, int64_t now, sl_buf *tok, sl_err *err) {
  static const char *const RES_H[] = {"kid", "alg", "typ", "cty", NULL};
  static const char *const RES_P[] = {"iss", "sub", "aud", "iat", "exp", "nbf", NULL};
  json_t *hdr = NULL, *pay = NULL;
  sl_code rc = eval_map(j, j->add_headers, "additional_jwt_headers", &hdr, err);
  if (!rc) rc = check_reserved(j, hdr, RES_H, "additional_jwt_headers", err);
  if (!rc) rc = eval_map(j, j->add_payload, "additional_jwt_payload", &pay, err);
  if (!rc) rc = check_reserved(j, pay, RES_P, "additional_jwt_payload", err);
  if (!rc) {
    json_object_set_new(hdr, "typ", json_string("JWT"));
    put_text(j, hdr, "kid", j->kid, err, &rc);
    put_text(j, hdr, "typ", j->typ, err, &rc);
    put_text(j, hdr, "cty", j->cty, err, &rc);
    if (!json_string_length(json_object_get(hdr, "typ"))) json_object_del(hdr, "typ");
    json_object_set_new(hdr, "alg", json_string(j->alg->name));
    put_text(j, pay, "iss", j->iss, err, &rc);
    put_text(j, pay, "sub", j->sub, err, &rc);
    put_text(j, pay, "aud", j->aud, err, &rc);
    json_object_set_new(pay, "iat", json_integer(now));
    json_object_set_new(pay, "exp", json_integer(j->has_duration ? now + j->duration : now));
    json_object_set_new(pay, "nbf", json_integer(now));
  }
  char *secret = NULL, *pass = NULL, *b64 = NULL;
  if (!rc) {
    secret = render(j, j->secret, err, &rc);
    pass = j->passphrase ? render(j, j->passphrase, err, &rc) : NULL;
    b64 = render(j, j->b64, err, &rc);
  }
  if (!rc && !*secret) rc = sl_err_set(err, SL_ECONFIG, "%s: JwtAuthenticator secret_key renders empty", where(j));
  if (!rc && !pass && (!strcmp(b64, "true") || !strcmp(b64, "True"))) {
    /* the CDK signs with the base64 text of the secret, not its bytes */
    char *t = malloc(4 * ((strlen(secret) + 2) / 3) + 1);
    if (t) EVP_EncodeBlock((unsigned char *)t, (const unsigned char *)secret, (int)strlen(secret));
    free(secret);
    secret = t ? t : strdup("");
  }
  if (!rc) {
    /* as PyJWT: compact separators, ASCII escapes, the header's keys sorted */
    char *hs = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    char *ps = json_dumps(pay, JSON_COMPACT | JSON_ENSURE_ASCII);
    b64url(tok, (const unsigned char *)hs, strlen(hs));
    sl_buf_putc(tok, '.');
    b64url(tok, (const unsigned char *)ps, strlen(ps));
    char *msg = strdup(sl_buf_cstr(tok));
    sl_buf_putc(tok, '.');
    rc = sign(j, secret, pass, msg, tok, err);
    free(msg);
    free(hs);
    free(ps);
  }
  free(secret);
  free(pass);
  free(b64);
  json_decref(hdr);
  json_decref(pay);
  return rc;
}

/* The CDK signs a token per request; one is reused here while it is under
 * a minute (and under half its lifetime) old: each new token is another
 * secret to mask in logs. */
sl_code lc_jwt_token(lc_jwt *j, bool with_prefix, char **out, bool *fresh, sl_err *err) {
  *out = NULL;
  *fresh = false;
  int64_t now = lc_now_us() / 1000000;
  int64_t keep = j->has_duration ? j->duration / 2 : 0;
  if (keep > 60) keep = 60;
  if (!j->token || now - j->token_iat >= keep || now < j->token_iat) {
    sl_buf tok;
    sl_buf_init(&tok, 1 << 20);
    sl_code rc = sign_new(j, now, &tok, err);
    if (rc) {
      sl_buf_dispose(&tok);
      return rc;
    }
    free(j->token);
    j->token = strdup(sl_buf_cstr(&tok));
    j->token_iat = now;
    sl_buf_dispose(&tok);
    *fresh = true;
  }
  sl_code rc = SL_EOK;
  char *prefix = with_prefix ? render(j, j->prefix, err, &rc) : NULL;
  if (rc) {
    free(prefix);
    return rc;
  }
  if (prefix && *prefix) {
    if (asprintf(out, "%s %s", prefix, j->token) < 0) *out = NULL;
  } else *out = strdup(j->token);
  free(prefix);
  return *out ? SL_EOK : sl_err_set(err, SL_ENOMEM, "out of memory");
}

const char *lc_jwt_current(const lc_jwt *j) { return j->token; }
