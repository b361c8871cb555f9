// Testing the authentication from the form's Authentication section:
// - "Test authentication": one authenticated request of the chosen stream (a
//   test read of one record, one page, one slice), showing the request, the
//   response and the token requests before it, secrets masked by the server;
// - "Authenticate your account for testing" (when the spec has declarative
//   OAuth, spec.advanced_auth): the consent flow in a new tab; the server
//   gets the code on its loopback /oauth/callback, exchanges it and writes the
//   tokens into the testing values (never the manifest).
"use strict";

function authResult(...kids) {
  const box = $("auth-result");
  if (box) box.replaceChildren(...kids);
}

function exchangeView(req, resp) {
  return [
    req ? el("div", { class: "auth-req" }, el("p", { text: `${req.method} ${req.url}` }), headersTable(req.headers), req.body ? pre(prettyBody(req.body)) : null) : null,
    resp ? el("div", { class: "auth-resp" }, el("p", { text: `HTTP ${resp.status ?? "(no answer)"}` }), resp.headers ? headersTable(resp.headers) : null, pre(prettyBody(resp.body))) : null,
  ];
}

async function testAuth() {
  if (S.yamlError) { status("the manifest does not parse: fix the YAML error first", true); return; }
  const stream = $("stream").value;
  if (!stream) { status("authentication is tested with a request of a stream: add one", true); return; }
  authResult(el("p", { text: `one authenticated request of ${stream}…` }));
  const { data } = await api("POST", "/test_read", { yaml: S.yaml, stream, config: S.values, max_records: 1, max_pages: 1, max_slices: 1 });
  if (data.config_update) { S.values = data.config_update; $("inputs").dataset.spec = ""; renderInputs(); }
  const page = ((data.slices || [])[0] || { pages: [] }).pages[0];
  const ok = page && page.response && page.response.status >= 200 && page.response.status < 300;
  authResult(
    el("p", { class: ok ? "ok" : "error", id: "auth-verdict", text: ok ? `authenticated: HTTP ${page.response.status}` :
      data.error ? `failed: ${data.error.message}` : `failed: HTTP ${page && page.response ? page.response.status : "(no answer)"}` }),
    ...(page ? (page.auxiliary_requests || []).map((a) => el("details", { class: "auth-aux", open: true }, el("summary", { text: "token request" }), ...exchangeView(a.request, a.response))) : []),
    ...(page ? exchangeView(page.request, page.response) : []));
}

async function oauthConsent() {
  if (S.yamlError) { status("the manifest does not parse: fix the YAML error first", true); return; }
  const { data } = await api("POST", "/oauth/consent_url", { yaml: S.yaml, config: S.values });
  if (data.error) { authResult(el("p", { class: "error", text: data.error.message })); return; }
  authResult(el("p", { text: "waiting for the consent in the other tab…" }), el("a", { href: data.url, target: "_blank", rel: "opener", text: "open the consent page again" }));
  window.open(data.url, "_blank");
  // The outcome arrives through the server: poll, bounded (10 minutes).
  for (let i = 0; i < 2000; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const { data: r } = await api("GET", "/oauth/result");
    if (r.state !== data.state) { authResult(el("p", { class: "error", text: "another consent flow was started" })); return; }
    if (r.pending) continue;
    if (r.config) { S.values = r.config; $("inputs").dataset.spec = ""; renderInputs(); }
    authResult(
      el("p", { class: r.error ? "error" : "ok", id: "auth-verdict", text: r.error ? `failed: ${r.error}` :
        `authenticated: ${(r.written || []).map((p) => p.join(".")).join(", ")} written to the testing values` }),
      el("details", { class: "auth-aux", open: true }, el("summary", { text: "token exchange" }), ...exchangeView(r.request, r.response)));
    return;
  }
  authResult(el("p", { class: "error", text: "no answer from the consent page in 10 minutes" }));
}

// The buttons under the Authentication section of the form.
function authTestButtons() {
  const spec = (S.manifest && S.manifest.spec) || {};
  const aa = spec.advanced_auth && spec.advanced_auth.oauth_config_specification;
  const declarative = aa && aa.oauth_connector_input_specification && aa.oauth_connector_input_specification.consent_url;
  return el("div", { class: "auth-test" },
    el("div", { class: "row" },
      el("button", { type: "button", id: "test-auth", text: "Test authentication", title: "one request of the chosen stream", onclick: testAuth }),
      declarative ? el("button", { type: "button", id: "oauth-consent", text: "Authenticate your account for testing", onclick: oauthConsent }) : null),
    el("div", { id: "auth-result" }));
}
