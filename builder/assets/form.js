// Form editors of the builder's components (authentication, pagination,
// incremental sync, partition routers, transformations, error handling).
// Each edits its part of S.manifest (app.js) in place; a component or option
// it has no field for is left as it is and stays editable in YAML mode.
"use strict";

// ---- field kinds, from a list of specs ----

const numParse = (s) => (s.trim() === "" ? undefined : Number(s));
const numListParse = (s) => { const l = listParse(s).map(Number); if (l.some(isNaN)) throw new Error("numbers"); return l.length ? l : undefined; };
const listOrUndef = (s) => { const l = listParse(s); return l.length ? l : undefined; };
// A path list written a.b, c.d (each field path dotted).
const pathsParse = (s) => { const l = s.split("\n").map((x) => x.trim()).filter((x) => x).map((x) => x.split(".")); return l.length ? l : undefined; };
const pathsShow = (v) => (Array.isArray(v) ? v.map((p) => (Array.isArray(p) ? p.join(".") : String(p))).join("\n") : String(v));

// specs: [key, label, kind, extra] with kind text | secret | num | bool | list | nums | map | json | enum | paths.
function fields(obj, specs, scope) {
  return specs.map(([k, label, kind, extra]) => {
    const name = (scope || "") + k;
    if (kind === "bool") {
      const box = el("input", { type: "checkbox", name, checked: obj[k] === true, onchange: (e) => {
        if (e.target.checked) obj[k] = true; else delete obj[k];
        formChanged();
      } });
      return el("label", { class: "field" }, el("span", { text: label }), box);
    }
    if (kind === "enum") {
      const cur = obj[k] === undefined ? "" : String(obj[k]);
      const choices = ["", ...extra];
      if (!choices.includes(cur)) choices.push(cur);
      const s = el("select", { name, onchange: (e) => { if (e.target.value) obj[k] = e.target.value; else delete obj[k]; formChanged(); } },
        choices.map((c) => el("option", { value: c, selected: c === cur, text: c || "(default)" })));
      return el("label", { class: "field" }, el("span", { text: label }), s);
    }
    const o = { name, placeholder: extra || "" };
    if (kind === "secret") o.secret = true;
    if (kind === "num") o.parse = numParse;
    if (kind === "list") Object.assign(o, { parse: listOrUndef, show: listShow });
    if (kind === "nums") Object.assign(o, { parse: numListParse, show: listShow });
    if (kind === "map") Object.assign(o, { multiline: true, parse: mapParse, show: mapShow, placeholder: extra || "name: value" });
    if (kind === "json") Object.assign(o, { multiline: true, parse: jsonParse, show: jsonShow });
    if (kind === "paths") Object.assign(o, { multiline: true, parse: pathsParse, show: pathsShow, placeholder: extra || "one per line: a.b" });
    // A value the field cannot show as text (e.g. an object where a list goes) is left to YAML.
    if ((kind === "text" || kind === "secret" || kind === "num") && obj[k] != null && typeof obj[k] === "object")
      return el("p", { class: "note", text: `${label}: edit it in YAML mode` });
    return textField(label, obj, k, o);
  });
}

// A RequestOption under parent[key]: where (or nowhere) and under which name.
function requestOption(label, parent, key, scope, defName) {
  const cur = parent[key] ? deref(parent[key]) : null;
  const where = !cur ? "nowhere" : cur.type === "RequestPath" ? "path" : cur.inject_into || "request_parameter";
  const box = el("div", { class: "reqopt", "data-option": scope + key });
  box.append(selectField(label, where, ["nowhere", "request_parameter", "header", "body_data", "body_json"], (v) => {
    if (v === "nowhere") delete parent[key];
    else parent[key] = { type: "RequestOption", inject_into: v, field_name: (cur && cur.field_name) || defName || "" };
  }, scope + key));
  if (cur && cur.type !== "RequestPath") box.append(textField(`${label}: name`, cur, "field_name", { name: scope + key + "_name" }));
  return box;
}

// A component chosen by type: choices maps a type to a new value.
function typeChoice(label, parent, key, choices, name, none) {
  const cur = parent[key] ? deref(parent[key]) : null;
  const type = cur ? cur.type || "(no type)" : none;
  const names = Object.keys(choices);
  return selectField(label, type, names.includes(type) ? names : [...names, type], (t) => {
    if (none != null && t === none) delete parent[key];
    else if (choices[t]) parent[key] = choices[t]();
  }, name);
}

// An editable list of components at owner[key]: items drawn by draw(item, i),
// new ones by type from makers; each can be removed or moved up. dropEmpty:
// the key goes when the last item does (an empty list changes nothing).
function listEditor(title, owner, key, makers, draw, name, dropEmpty) {
  const arr = Array.isArray(owner[key]) ? owner[key] : [];
  const box = el("fieldset", { class: "list", "data-list": name }, el("legend", { text: title }));
  if (owner[key] != null && !Array.isArray(owner[key])) { box.append(yamlOnly(title)); return box; }
  arr.forEach((raw, i) => {
    const item = deref(raw);
    const row = el("div", { class: "item", "data-item": i });
    row.append(el("div", { class: "row" },
      el("strong", { text: `${i + 1}. ${item && item.type ? item.type : "?"}` }),
      el("button", { type: "button", name: "remove", text: "Remove", onclick: () => {
        arr.splice(i, 1);
        if (dropEmpty && !arr.length) delete owner[key];
        formChanged();
        renderForm();
      } }),
      i ? el("button", { type: "button", name: "up", text: "Up", onclick: () => { arr.splice(i - 1, 0, arr.splice(i, 1)[0]); formChanged(); renderForm(); } }) : null));
    row.append(...[].concat(draw(item, i)));
    box.append(row);
  });
  const pick = el("select", { name: name + "_new" }, Object.keys(makers).map((t) => el("option", { value: t, text: t })));
  box.append(el("div", { class: "row" }, pick, el("button", { type: "button", name: name + "_add", text: "Add", onclick: () => {
    arr.push(makers[pick.value]());
    owner[key] = arr;
    formChanged();
    renderForm();
  } })));
  return box;
}

const yamlOnly = (what) => el("p", { class: "note", text: `${what}: edit it as YAML (the YAML button here, or YAML mode); kept as it is` });

// ---- authentication ----

const AUTH_MAKERS = {
  NoAuth: () => ({ type: "NoAuth" }),
  ApiKeyAuthenticator: () => ({ type: "ApiKeyAuthenticator", api_token: "{{ config['api_key'] }}", inject_into: { type: "RequestOption", inject_into: "header", field_name: "X-Api-Key" } }),
  BearerAuthenticator: () => ({ type: "BearerAuthenticator", api_token: "{{ config['api_key'] }}" }),
  BasicHttpAuthenticator: () => ({ type: "BasicHttpAuthenticator", username: "{{ config['username'] }}", password: "{{ config['password'] }}" }),
  OAuthAuthenticator: () => ({ type: "OAuthAuthenticator", token_refresh_endpoint: "", client_id: "{{ config['client_id'] }}",
    client_secret: "{{ config['client_secret'] }}", refresh_token: "{{ config['refresh_token'] }}" }),
  SessionTokenAuthenticator: () => ({ type: "SessionTokenAuthenticator",
    login_requester: { type: "HttpRequester", url_base: "", path: "/login", http_method: "POST", authenticator: { type: "NoAuth" },
      request_body_json: { username: "{{ config['username'] }}", password: "{{ config['password'] }}" } },
    session_token_path: ["token"], expiration_duration: "PT1H",
    request_authentication: { type: "ApiKey", inject_into: { type: "RequestOption", inject_into: "header", field_name: "X-Session-Token" } } }),
  JwtAuthenticator: () => ({ type: "JwtAuthenticator", secret_key: "{{ config['secret_key'] }}", algorithm: "HS256", token_duration: 1200 }),
  SelectiveAuthenticator: () => ({ type: "SelectiveAuthenticator", authenticator_selection_path: ["auth_type"],
    authenticators: { api_key: { type: "BearerAuthenticator", api_token: "{{ config['api_key'] }}" } } }),
};

function oauthFields(a) {
  const out = fields(a, [
    ["token_refresh_endpoint", "token URL", "text", "https://api.example.com/oauth/token"],
    ["grant_type", "grant type", "enum", ["refresh_token", "client_credentials"]],
    ["client_id", "client ID", "text"],
    ["client_secret", "client secret", "text"],
  ], "oauth_");
  if (a.grant_type !== "client_credentials") out.push(...fields(a, [["refresh_token", "refresh token", "text"]], "oauth_"));
  out.push(...fields(a, [
    ["scopes", "scopes", "list", "read, write"],
    ["access_token_name", "access token field", "text", "access_token"],
    ["expires_in_name", "expiry field", "text", "expires_in"],
    ["token_expiry_date", "token expiry date", "text", "{{ config['token_expiry_date'] }}"],
    ["token_expiry_date_format", "expiry date format", "text", "%Y-%m-%dT%H:%M:%SZ (empty: seconds)"],
    ["refresh_request_body", "refresh request body", "map"],
    ["refresh_request_headers", "refresh request headers", "map"],
    ["send_refresh_request_as_query_params", "send as query parameters", "bool"],
  ], "oauth_"));
  // Single-use refresh tokens: the new one is stored in the config (CONTROL message).
  const rot = el("input", { type: "checkbox", name: "oauth_rotating", checked: a.refresh_token_updater != null, onchange: (e) => {
    if (e.target.checked) a.refresh_token_updater = {}; else delete a.refresh_token_updater;
    formChanged();
    renderForm();
  } });
  out.push(el("label", { class: "field" }, el("span", { text: "rotating refresh token" }), rot));
  if (a.refresh_token_updater && typeof a.refresh_token_updater === "object")
    out.push(...fields(a.refresh_token_updater, [
      ["refresh_token_name", "new refresh token field", "text", "refresh_token"],
      ["refresh_token_config_path", "refresh token config path", "list", "credentials, refresh_token"],
      ["access_token_config_path", "access token config path", "list", "credentials, access_token"],
      ["token_expiry_date_config_path", "expiry config path", "list", "credentials, token_expiry_date"],
    ], "oauth_updater_"));
  return out;
}

function sessionFields(a) {
  const out = [];
  const login = a.login_requester && deref(a.login_requester);
  if (login && typeof login === "object") {
    out.push(el("h4", { text: "login request" }), ...fields(login, [
      ["url_base", "login URL base", "text"], ["path", "login path", "text"],
      ["request_body_json", "login JSON body", "json"], ["request_headers", "login headers", "map"],
    ], "login_"));
    out.push(selectField("login method", login.http_method || "GET", ["GET", "POST"], (v) => { login.http_method = v; }, "login_http_method"));
  } else out.push(yamlOnly("login requester"));
  out.push(...fields(a, [
    ["session_token_path", "token at (in the login response)", "list", "token"],
    ["expiration_duration", "token lifetime (ISO 8601)", "text", "PT1H"],
  ], "session_"));
  const ra = a.request_authentication ? deref(a.request_authentication) : null;
  out.push(selectField("send the token as", ra ? ra.type : "ApiKey", ["ApiKey", "Bearer"], (t) => {
    a.request_authentication = t === "Bearer" ? { type: "Bearer" } : { type: "ApiKey", inject_into: { type: "RequestOption", inject_into: "header", field_name: "X-Session-Token" } };
  }, "session_request_authentication"));
  if (ra && ra.type === "ApiKey") out.push(requestOption("token into", ra, "inject_into", "session_", "X-Session-Token"));
  return out;
}

function jwtFields(a) {
  return [
    ...fields(a, [
      ["secret_key", "secret key", "text"],
      ["algorithm", "algorithm", "enum", ["HS256", "HS384", "HS512", "ES256", "ES256K", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"]],
      ["base64_encode_secret_key", "base64-encode the secret", "bool"],
      ["token_duration", "token lifetime (s)", "num"],
      ["header_prefix", "header prefix", "text", "Bearer"],
      ["jwt_headers", "JWT headers (kid, typ, cty)", "json"],
      ["additional_jwt_headers", "more JWT headers", "json"],
      ["jwt_payload", "payload (iss, sub, aud)", "json"],
      ["additional_jwt_payload", "more payload", "json"],
    ], "jwt_"),
    requestOption("token into (default: Authorization header)", a, "request_option", "jwt_", "Authorization"),
  ];
}

function selectiveFields(a) {
  const out = fields(a, [["authenticator_selection_path", "choice at (config path)", "list", "credentials, auth_type"]], "selective_");
  const auths = a.authenticators && typeof a.authenticators === "object" ? a.authenticators : (a.authenticators = {});
  for (const name of Object.keys(auths)) {
    const sub = el("fieldset", { class: "selective", "data-choice": name }, el("legend", { text: `when the config says "${name}"` }),
      el("button", { type: "button", text: "Remove", onclick: () => { delete auths[name]; formChanged(); renderForm(); } }));
    sub.append(authEditor(auths, name, `sel_${name}_`, null));
    out.push(sub);
  }
  const nameIn = el("input", { type: "text", name: "selective_new", placeholder: "config value" });
  out.push(el("div", { class: "row" }, nameIn, el("button", { type: "button", name: "selective_add", text: "Add choice", onclick: () => {
    const n = nameIn.value.trim();
    if (!n || auths[n]) return;
    auths[n] = AUTH_MAKERS.BearerAuthenticator();
    formChanged();
    renderForm();
  } })));
  return out;
}

// The authenticator at parent[key]; none: the choice that removes it (null: none does).
function authEditor(parent, key, scope, none) {
  const auth = deref(parent[key]) || { type: "NoAuth" };
  const box = el("div", { class: "auth", "data-auth": scope });
  box.append(typeChoice("method", parent, key, AUTH_MAKERS, scope + "auth_type", none));
  if (!parent[key] && none == null) return box;
  const t = auth.type;
  if (t === "ApiKeyAuthenticator") {
    box.append(textField("token", auth, "api_token", { name: scope + "auth_api_token" }));
    const inj = ensure(auth, "inject_into", { type: "RequestOption", inject_into: "header", field_name: "" });
    box.append(selectField("inject into", inj.inject_into, ["header", "request_parameter", "body_data", "body_json"],
      (v) => { inj.inject_into = v; }, scope + "auth_inject_into"));
    box.append(textField("name", inj, "field_name", { name: scope + "auth_field_name" }));
  } else if (t === "BearerAuthenticator") box.append(textField("token", auth, "api_token", { name: scope + "auth_api_token" }));
  else if (t === "BasicHttpAuthenticator") box.append(...fields(auth, [["username", "username", "text"], ["password", "password", "text"]], scope));
  else if (t === "OAuthAuthenticator") box.append(...oauthFields(auth));
  else if (t === "SessionTokenAuthenticator") box.append(...sessionFields(auth));
  else if (t === "JwtAuthenticator") box.append(...jwtFields(auth));
  else if (t === "SelectiveAuthenticator" && !scope.startsWith("sel_")) box.append(...selectiveFields(auth));
  else if (t !== "NoAuth") box.append(yamlOnly(t));
  return box;
}

function authFields(req) {
  const box = yamlPart(el("fieldset", { id: "auth" }, el("legend", { text: "Authentication" }), authEditor(req, "authenticator", "", "NoAuth")),
    req, "authenticator", "global/auth");
  box.append(authTestButtons());
  return box;
}

// ---- incremental sync: every DatetimeBasedCursor field ----

function incrementalFields(stream) {
  const inc = stream.incremental_sync ? deref(stream.incremental_sync) : null;
  const box = el("fieldset", {}, el("legend", { text: "Incremental sync" }));
  box.append(typeChoice("cursor", stream, "incremental_sync", {
    none: null,
    DatetimeBasedCursor: () => ({
      type: "DatetimeBasedCursor", cursor_field: "updated_at", datetime_format: "%Y-%m-%dT%H:%M:%SZ",
      start_datetime: { type: "MinMaxDatetime", datetime: "{{ config['start_date'] }}", datetime_format: "%Y-%m-%dT%H:%M:%SZ" },
      start_time_option: { type: "RequestOption", inject_into: "request_parameter", field_name: "since" },
    }),
  }, "incremental", "none"));
  if (!inc) return box;
  if (inc.type !== "DatetimeBasedCursor") { box.append(yamlOnly(inc.type)); return box; }
  box.append(...fields(inc, [
    ["cursor_field", "cursor field", "text"],
    ["datetime_format", "datetime format", "text", "%Y-%m-%dT%H:%M:%SZ"],
    ["cursor_datetime_formats", "formats in records", "list", "%Y-%m-%d, %s"],
  ]));
  // start and end: a string or a MinMaxDatetime; the form edits its datetime.
  for (const [k, label] of [["start_datetime", "start"], ["end_datetime", "end"]]) {
    const v = inc[k];
    if (v != null && typeof v === "object") box.append(textField(label, deref(v), "datetime", { name: k }));
    else box.append(textField(label, inc, k, { name: k, placeholder: k === "end_datetime" ? "(now)" : "" }));
  }
  box.append(
    ...fields(inc, [
      ["step", "slice length (ISO 8601)", "text", "P1M"],
      ["cursor_granularity", "granularity", "text", "PT1S"],
      ["lookback_window", "lookback window", "text", "P1D"],
      ["partition_field_start", "slice start name", "text", "start_time"],
      ["partition_field_end", "slice end name", "text", "end_time"],
      ["is_data_feed", "data feed (newest first)", "bool"],
      ["is_client_side_incremental", "filter records client-side", "bool"],
      ["is_compare_strictly", "compare strictly", "bool"],
      ["global_substream_cursor", "one cursor for all partitions", "bool"],
    ]),
    requestOption("start parameter", inc, "start_time_option", "", "since"),
    requestOption("end parameter", inc, "end_time_option", "", "until"),
  );
  return box;
}

// ---- partition routers ----

// The $ref naming stream i by its key in definitions.streams: an inline
// stream moves there (the streams list keeps a $ref), so the reference holds
// when streams are reordered or renamed.
function streamRef(i) {
  const streams = S.manifest.streams;
  const raw = streams[i];
  if (raw && typeof raw.$ref === "string" && !/^#\/streams\//.test(raw.$ref)) return raw.$ref;
  const st = deref(raw);
  const ds = ensure(ensure(S.manifest, "definitions", {}), "streams", {});
  let key = String(st.name || `stream_${i + 1}`).replace(/[~/]/g, "_");
  for (let n = 2; ds[key] && ds[key] !== st; n++) key = `${st.name}_${n}`;
  ds[key] = st;
  streams[i] = { $ref: `#/definitions/streams/${key}` };
  return streams[i].$ref;
}

function parentStreamFields(pc, idx) {
  const streams = S.manifest.streams || [];
  const names = streams.map((s, i) => (deref(s) || {}).name || `stream ${i + 1}`);
  const target = pc.stream ? deref(pc.stream) : null;
  const at = target ? streams.findIndex((s) => deref(s) === target) : -1;
  const ref = pc.stream && typeof pc.stream === "object" ? pc.stream.$ref : typeof pc.stream === "string" ? pc.stream : null;
  const cur = at >= 0 ? names[at] : ref || "";
  const choices = ["", ...names];
  if (!choices.includes(cur)) choices.push(cur);
  return [
    el("label", { class: "field" }, el("span", { text: "parent stream" }), el("select", { name: "parent_stream", onchange: (e) => {
      const i = names.indexOf(e.target.value);
      if (i >= 0) pc.stream = { $ref: streamRef(i) };
      formChanged();
    } }, choices.map((c) => el("option", { value: c, selected: c === cur, text: c || "(choose)" })))),
    ...fields(pc, [
      ["parent_key", "parent key", "text", "id"],
      ["partition_field", "partition field", "text", "parent_id"],
      ["incremental_dependency", "read the parent incrementally", "bool"],
    ], ""),
    requestOption("parent key into", pc, "request_option", "parent_", "parent_id"),
  ];
}

function routerFields(retr) {
  const box = el("fieldset", {}, el("legend", { text: "Partition router" }));
  if (Array.isArray(retr.partition_router)) { box.append(yamlOnly("a list of routers")); return box; }
  const r = retr.partition_router ? deref(retr.partition_router) : null;
  box.append(typeChoice("router", retr, "partition_router", {
    none: null,
    ListPartitionRouter: () => ({ type: "ListPartitionRouter", cursor_field: "item", values: [] }),
    SubstreamPartitionRouter: () => ({ type: "SubstreamPartitionRouter",
      parent_stream_configs: [{ type: "ParentStreamConfig", parent_key: "id", partition_field: "parent_id" }] }),
  }, "partition_router", "none"));
  if (!r) return box;
  if (r.type === "ListPartitionRouter") {
    box.append(...fields(r, [["cursor_field", "partition field", "text", "item"]], "list_"));
    if (typeof r.values === "string") box.append(textField("values (template)", r, "values", { name: "list_values" }));
    else box.append(textField("values", r, "values", { name: "list_values", parse: (s) => listParse(s), show: listShow, placeholder: "a, b, c" }));
    box.append(requestOption("value into", r, "request_option", "list_", r.cursor_field || "item"));
  } else if (r.type === "SubstreamPartitionRouter") {
    box.append(listEditor("parents", r, "parent_stream_configs", { ParentStreamConfig: () => ({ type: "ParentStreamConfig", parent_key: "id", partition_field: "parent_id" }) },
      parentStreamFields, "parents"));
  } else box.append(yamlOnly(r.type));
  return box;
}

// ---- transformations ----

const TRANSFORMS = {
  AddFields: () => ({ type: "AddFields", fields: [{ type: "AddedFieldDefinition", path: ["new_field"], value: "{{ record['id'] }}" }] }),
  RemoveFields: () => ({ type: "RemoveFields", field_pointers: [["field"]] }),
  KeysToLower: () => ({ type: "KeysToLower" }),
  KeysToSnakeCase: () => ({ type: "KeysToSnakeCase" }),
  KeysReplace: () => ({ type: "KeysReplace", old: " ", new: "_" }),
};

function transformFields(t) {
  if (!t || typeof t !== "object") return yamlOnly("this transformation");
  if (t.type === "AddFields") {
    return [
      listEditor("fields", t, "fields", { AddedFieldDefinition: () => ({ type: "AddedFieldDefinition", path: ["new_field"], value: "" }) },
        (f) => fields(f, [["path", "path", "list", "a, b"], ["value", "value", "text", "{{ record['id'] }}"],
          ["value_type", "type", "enum", ["string", "number", "integer", "boolean"]]], "add_"), "add_fields"),
      ...fields(t, [["condition", "only when", "text", "{{ record['x'] }}"]], "add_"),
    ];
  }
  if (t.type === "RemoveFields")
    return fields(t, [["field_pointers", "fields (one per line, a.b)", "paths"], ["condition", "only when", "text"]], "remove_");
  if (t.type === "KeysReplace") return fields(t, [["old", "replace", "text"], ["new", "with", "text"]], "replace_");
  if (t.type === "KeysToLower" || t.type === "KeysToSnakeCase") return [];
  return yamlOnly(t.type);
}

// ---- error handling ----

const BACKOFFS = {
  ExponentialBackoffStrategy: () => ({ type: "ExponentialBackoffStrategy", factor: 5 }),
  ConstantBackoffStrategy: () => ({ type: "ConstantBackoffStrategy", backoff_time_in_seconds: 10 }),
  WaitTimeFromHeader: () => ({ type: "WaitTimeFromHeader", header: "Retry-After" }),
  WaitUntilTimeFromHeader: () => ({ type: "WaitUntilTimeFromHeader", header: "X-RateLimit-Reset" }),
};

function backoffFields(b) {
  if (!b) return yamlOnly("this strategy");
  if (b.type === "ExponentialBackoffStrategy") return fields(b, [["factor", "factor (s)", "num"], ["jitter_range_in_seconds", "jitter (s)", "num"]], "backoff_");
  if (b.type === "ConstantBackoffStrategy") return fields(b, [["backoff_time_in_seconds", "wait (s)", "num"], ["jitter_range_in_seconds", "jitter (s)", "num"]], "backoff_");
  if (b.type === "WaitTimeFromHeader" || b.type === "WaitUntilTimeFromHeader")
    return fields(b, [["header", "header", "text"], ["regex", "regex", "text"], ["max_waiting_time_in_seconds", "longest wait (s)", "num"],
      ...(b.type === "WaitUntilTimeFromHeader" ? [["min_wait", "shortest wait (s)", "num"]] : [])], "backoff_");
  return yamlOnly(b.type);
}

function filterFields(f) {
  return fields(f, [
    ["action", "action", "enum", ["SUCCESS", "FAIL", "RETRY", "IGNORE", "RESET_PAGINATION", "RATE_LIMITED", "REFRESH_TOKEN_THEN_RETRY"]],
    ["http_codes", "HTTP codes", "nums", "404, 409"],
    ["error_message_contains", "body contains", "text"],
    ["predicate", "predicate", "text", "{{ 'error' in response }}"],
    ["error_message", "message", "text"],
    ["failure_type", "failure type", "enum", ["system_error", "config_error", "transient_error"]],
  ], "filter_");
}

function errorHandlerFields(req) {
  const box = el("fieldset", {}, el("legend", { text: "Error handling" }));
  const h = req.error_handler ? deref(req.error_handler) : null;
  box.append(typeChoice("handler", req, "error_handler", {
    default: null,
    DefaultErrorHandler: () => ({ type: "DefaultErrorHandler", max_retries: 5,
      response_filters: [{ type: "HttpResponseFilter", action: "IGNORE", http_codes: [404] }] }),
  }, "error_handler", "default"));
  if (!h) return box;
  if (h.type !== "DefaultErrorHandler") { box.append(yamlOnly(h.type)); return box; }
  box.append(...fields(h, [["max_retries", "retries at most", "num", "5"]], "errh_"));
  box.append(listEditor("response filters", h, "response_filters",
    { HttpResponseFilter: () => ({ type: "HttpResponseFilter", action: "RETRY", http_codes: [500] }) }, filterFields, "filters", true));
  box.append(listEditor("backoff", h, "backoff_strategies", BACKOFFS, backoffFields, "backoffs", true));
  return box;
}
