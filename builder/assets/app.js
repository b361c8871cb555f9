// The sluice connector builder page: plain JS, no build step. The server
// does all YAML work (resolve: YAML -> JSON with located errors; to_yaml:
// JSON -> YAML), so the page edits one JSON manifest and its YAML text.
"use strict";

const NEW_MANIFEST = `version: 6.0.0
type: DeclarativeSource
check:
  type: CheckStream
  stream_names: []
definitions:
  base_requester:
    type: HttpRequester
    url_base: https://api.example.com
    authenticator:
      type: NoAuth
streams: []
spec:
  type: Spec
  connection_specification:
    type: object
    required: []
    properties: {}
`;

const S = {
  yaml: "", manifest: null, streams: [], spec: null, version: "none", values: {},
  mode: "yaml", result: null, slice: 0, page: 0, tab: "records", yamlError: null, tested: {},
};
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else if (v === true) e.setAttribute(k, "");
    else if (v !== false && v != null) e.setAttribute(k, v);
  }
  for (const c of kids.flat()) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  // In a workspace every call but the workspace's own names the project (projects.js).
  const q = PROJECT && !path.startsWith("/workspace") ? `${path.includes("?") ? "&" : "?"}project=${encodeURIComponent(PROJECT)}` : "";
  const r = await fetch("/api" + path + q, opts);
  let data;
  try { data = await r.json(); } catch (e) { data = { error: { message: `HTTP ${r.status}: not JSON` } }; }
  return { status: r.status, data };
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "bad" : "";
}

function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// ---- YAML <-> JSON through the server ----

// fromForm: the form made this text from S.manifest, which stays the object
// the form's inputs are bound to.
async function resolveYaml(text, fromForm) {
  const { data } = await api("POST", "/resolve", { yaml: text });
  // Answers can arrive out of order (undo then redo, fast typing): only the current text's counts.
  if (text !== S.yaml) return !S.yamlError;
  if (data.error) {
    // Keep the last good manifest; show where the text is wrong.
    S.yamlError = data.error;
    const loc = data.error.location;
    $("yaml-error").hidden = false;
    $("yaml-error").textContent = (loc ? `line ${loc.line}, column ${loc.column}: ` : "") + data.error.message;
    return false;
  }
  S.yamlError = null;
  $("yaml-error").hidden = true;
  if (!fromForm) S.manifest = data.manifest;
  S.resolved = text; // the text the form's manifest now comes from
  S.streams = data.streams || [];
  S.spec = data.spec;
  S.issues = data.issues || [];
  S.resolvedManifest = data.resolved;
  showUntested();
  const stale = $("stale");
  if (stale) stale.hidden = !S.result || S.testedYaml === text;
  refreshStreams();
  renderInputs();
  $("config-refs").replaceChildren(...Object.keys((S.spec && S.spec.properties) || {}).map((k) => el("option", { value: `{{ config['${k}'] }}` })));
  if (S.issues.some((i) => i.level === "error")) {
    $("yaml-error").hidden = false;
    $("yaml-error").textContent = S.issues.filter((i) => i.level === "error").map((i) => `${i.where}: ${i.message}`).join("\n");
  }
  return true;
}

async function manifestToYaml() {
  // With the text the manifest came from, the server edits it in place (comments kept).
  const { data } = await api("POST", "/to_yaml", { manifest: S.manifest, yaml: S.yaml });
  if (data.error) { status(data.error.message, true); return; }
  noteChange(S.yaml, data.yaml);
  S.yaml = data.yaml;
  $("yaml").value = S.yaml;
  await resolveYaml(S.yaml, true);
}
const formChanged = debounce(manifestToYaml, 150); // a server round trip is ~10 ms

// ---- modes ----

function setMode(mode) {
  if (mode === "form" && S.yamlError) {
    status("fix the YAML error first: the form shows the last valid manifest only after it parses", true);
    return;
  }
  S.mode = mode;
  $("mode-form").classList.toggle("on", mode === "form");
  $("mode-yaml").classList.toggle("on", mode === "yaml");
  $("yaml-pane").hidden = mode !== "yaml";
  $("form-pane").hidden = mode !== "form";
  if (mode === "form") renderForm();
  else $("yaml").value = S.yaml;
}

function jumpToLine(line) {
  setMode("yaml");
  const ta = $("yaml");
  const lines = ta.value.split("\n");
  let pos = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
  ta.focus();
  ta.setSelectionRange(pos, pos + (lines[line - 1] || "").length);
  ta.scrollTop = Math.max(0, (line - 5) * 19);
}

// ---- the form (edits S.manifest in place; what it does not show is kept) ----

function deref(obj) {
  for (let i = 0; obj && typeof obj === "object" && typeof obj.$ref === "string" && i < 10; i++) {
    const m = /^#\/(.*)$/.exec(obj.$ref);
    if (!m) break;
    let t = S.manifest;
    for (const k of m[1].split("/")) t = t == null ? t : t[k];
    if (!t) break;
    obj = t;
  }
  return obj;
}

function ensure(obj, key, init) {
  if (obj[key] == null || typeof obj[key] !== "object") obj[key] = init;
  return obj[key];
}

function textField(label, obj, key, opts = {}) {
  const v = obj[key];
  const input = el(opts.multiline ? "textarea" : "input", {
    type: opts.secret ? "password" : "text", name: opts.name || key, placeholder: opts.placeholder || "",
    list: opts.multiline || opts.parse ? null : "config-refs", // suggests {{ config['input'] }} for each user input
    oninput: (e) => {
      let val = e.target.value;
      if (opts.parse) {
        try { val = opts.parse(val); e.target.classList.remove("bad"); } catch (err) { e.target.classList.add("bad"); return; }
      }
      if (val === "" || val === undefined) delete obj[key]; else obj[key] = val;
      formChanged();
    },
  });
  input.value = v == null ? "" : opts.show ? opts.show(v) : String(v);
  return el("label", { class: "field" }, el("span", { text: label }), input);
}

function selectField(label, value, choices, onchange, name) {
  const s = el("select", { name, onchange: (e) => { onchange(e.target.value); formChanged(); renderForm(); } },
    choices.map((c) => el("option", { value: c, selected: c === value, text: c })));
  return el("label", { class: "field" }, el("span", { text: label }), s);
}

const listParse = (s) => s.split(",").map((x) => x.trim()).filter((x) => x);
const listShow = (v) => (Array.isArray(v) ? v.join(", ") : String(v));
const jsonParse = (s) => (s.trim() === "" ? undefined : JSON.parse(s));
const jsonShow = (v) => JSON.stringify(v, null, 2);
const mapParse = (s) => {
  const o = {};
  for (const line of s.split("\n")) {
    if (!line.trim()) continue;
    const i = line.indexOf(":");
    if (i < 1) throw new Error("name: value");
    o[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return Object.keys(o).length ? o : undefined;
};
const mapShow = (v) => Object.entries(v).map(([k, x]) => `${k}: ${typeof x === "string" ? x : JSON.stringify(x)}`).join("\n");

function globalRequester() {
  const m = S.manifest;
  const first = (m.streams || []).map(deref).find((s) => s && s.retriever && s.retriever.requester);
  if (first) return deref(first.retriever.requester);
  const defs = ensure(m, "definitions", {});
  return ensure(defs, "base_requester", { type: "HttpRequester", url_base: "" });
}

const PAGINATORS = ["none", "PageIncrement", "OffsetIncrement", "CursorPagination"];

function paginatorFields(retr) {
  const pag = retr.paginator ? deref(retr.paginator) : null;
  const strat = pag && pag.pagination_strategy ? deref(pag.pagination_strategy) : null;
  const kind = strat ? strat.type : "none";
  const box = el("fieldset", {}, el("legend", { text: "Pagination" }));
  box.append(selectField("strategy", kind, PAGINATORS.includes(kind) ? PAGINATORS : [...PAGINATORS, kind], (t) => {
    if (t === "none") { delete retr.paginator; return; }
    const s = { type: t };
    if (t === "PageIncrement") { s.page_size = 100; s.start_from_page = 1; }
    if (t === "OffsetIncrement") s.page_size = 100;
    if (t === "CursorPagination") { s.cursor_value = "{{ response.next }}"; s.stop_condition = "{{ not response.next }}"; }
    retr.paginator = {
      type: "DefaultPaginator", pagination_strategy: s,
      page_token_option: { type: "RequestOption", inject_into: "request_parameter", field_name: t === "OffsetIncrement" ? "offset" : t === "CursorPagination" ? "cursor" : "page" },
    };
  }, "paginator"));
  if (!strat) return box;
  if (strat.type === "PageIncrement" || strat.type === "OffsetIncrement" || strat.type === "CursorPagination")
    box.append(textField("page size", strat, "page_size", { name: "page_size", parse: (s) => (s === "" ? undefined : Number(s)) }));
  if (strat.type === "PageIncrement") box.append(textField("first page", strat, "start_from_page", { parse: (s) => (s === "" ? undefined : Number(s)) }));
  if (strat.type === "CursorPagination") {
    box.append(textField("cursor value", strat, "cursor_value", { name: "cursor_value" }));
    box.append(textField("stop condition", strat, "stop_condition", { name: "stop_condition" }));
  }
  const opt = pag.page_token_option ? deref(pag.page_token_option) : null;
  box.append(selectField("token into", !opt ? "nowhere" : opt.type === "RequestPath" ? "path" : opt.inject_into || "request_parameter",
    ["nowhere", "request_parameter", "header", "body_data", "body_json", "path"], (v) => {
      if (v === "nowhere") delete pag.page_token_option;
      else if (v === "path") pag.page_token_option = { type: "RequestPath" };
      else pag.page_token_option = { type: "RequestOption", inject_into: v, field_name: (opt && opt.field_name) || "page" };
    }, "token_into"));
  if (opt && opt.type !== "RequestPath") box.append(textField("token name", opt, "field_name", { name: "token_field_name" }));
  return box;
}

// Fields of optional components exist only while they have a value (an
// empty component would change what the manifest means).
function optionalField(label, parent, key, make, field, name, placeholder) {
  const cur = parent[key] ? deref(parent[key]) : null;
  const input = el("input", { type: "text", name, placeholder: placeholder || "", oninput: (e) => {
    const v = e.target.value;
    if (!v) delete parent[key];
    else { if (!parent[key]) parent[key] = make(); deref(parent[key])[field] = v; }
    formChanged();
  } });
  input.value = (cur && cur[field]) || "";
  return el("label", { class: "field" }, el("span", { text: label }), input);
}

function filterField(rs) {
  return optionalField("record filter", rs, "record_filter", () => ({ type: "RecordFilter" }), "condition", "record_filter", "{{ record['active'] }}");
}

const ASYNC_RETRIEVER = () => ({
  type: "AsyncRetriever",
  record_selector: { type: "RecordSelector", extractor: { type: "DpathExtractor", field_path: [] } },
  status_mapping: { type: "AsyncJobStatusMap", running: ["running"], completed: ["completed"], failed: ["failed"], timeout: ["timeout"] },
  status_extractor: { type: "DpathExtractor", field_path: ["status"] },
  download_target_extractor: { type: "DpathExtractor", field_path: ["url"] },
  creation_requester: { $ref: "#/definitions/base_requester", path: "/jobs", http_method: "POST" },
  polling_requester: { $ref: "#/definitions/base_requester", path: "/jobs/{{ creation_response['id'] }}" },
  download_requester: { $ref: "#/definitions/base_requester", path: "{{ download_target }}" },
});

function streamFields(raw, idx) {
  const st = deref(raw);
  const retr = ensure(st, "retriever", { type: "SimpleRetriever" });
  const sid = st.name || `#${idx + 1}`; // names the stream's YAML parts
  const box = el("fieldset", { class: "stream", "data-stream": st.name || "" }, el("legend", { text: `Stream: ${st.name || idx + 1}` }));
  const kind = deref(retr).type || "SimpleRetriever";
  box.append(
    textField("name", st, "name", { name: "stream_name" }),
    selectField("retrieval", kind === "SimpleRetriever" ? "synchronous" : kind === "AsyncRetriever" ? "asynchronous job" : kind,
      ["synchronous", "asynchronous job"], (v) => {
        if (v === "asynchronous job") { globalRequester(); st.retriever = ASYNC_RETRIEVER(); }
        else st.retriever = { type: "SimpleRetriever", requester: { $ref: "#/definitions/base_requester", path: "/" + (st.name || "") },
          record_selector: { type: "RecordSelector", extractor: { type: "DpathExtractor", field_path: [] } } };
      }, "retrieval"));
  const removeBtn = el("button", { type: "button", onclick: () => { S.manifest.streams.splice(idx, 1); formChanged(); renderForm(); }, text: "Remove stream" });
  if (kind !== "SimpleRetriever") {
    // Creation, polling and download requests, status mapping: edited as YAML.
    box.append(
      textField("primary key", st, "primary_key", { parse: (s) => { const l = listParse(s); return l.length ? l : undefined; }, show: listShow, name: "primary_key" }),
      yamlPart(el("fieldset", {}, el("legend", { text: kind === "AsyncRetriever" ? "Asynchronous job (creation, polling, download, status mapping)" : kind })),
        st, "retriever", `${sid}/retriever`, true),
      yamlPart(incrementalFields(st), st, "incremental_sync", `${sid}/incremental`),
      yamlPart(listEditor("Transformations", st, "transformations", TRANSFORMS, transformFields, "transformations", true), st, "transformations", `${sid}/transformations`),
      removeBtn);
    return box;
  }
  const req = ensure(retr, "requester", { $ref: "#/definitions/base_requester" });
  const own = req.$ref ? req : deref(req); // path etc. sit beside a $ref (sibling keys override)
  const rs = ensure(retr, "record_selector", { type: "RecordSelector", extractor: { type: "DpathExtractor", field_path: [] } });
  const sel = el("fieldset", {}, el("legend", { text: "Record selector" }));
  const rsd = deref(rs);
  if (rsd && rsd.extractor && deref(rsd.extractor).type === "DpathExtractor")
    sel.append(textField("records at", deref(rsd.extractor), "field_path", { parse: listParse, show: listShow, name: "field_path", placeholder: "data, items" }), filterField(rsd));
  else sel.append(yamlOnly("this extractor"));
  box.append(
    textField("path", own, "path", { name: "path" }),
    selectField("method", own.http_method || "GET", ["GET", "POST"], (v) => { own.http_method = v; }, "http_method"),
    textField("query parameters", own, "request_parameters", { multiline: true, parse: mapParse, show: mapShow, name: "request_parameters", placeholder: "name: value" }),
    textField("headers", own, "request_headers", { multiline: true, parse: mapParse, show: mapShow, name: "request_headers" }),
    textField("JSON body", own, "request_body_json", { multiline: true, parse: jsonParse, show: jsonShow, name: "request_body_json" }),
    graphqlField(own),
    yamlPart(sel, retr, "record_selector", `${sid}/selector`),
    textField("primary key", st, "primary_key", { parse: (s) => { const l = listParse(s); return l.length ? l : undefined; }, show: listShow, name: "primary_key" }),
    yamlPart(paginatorFields(retr), retr, "paginator", `${sid}/paginator`),
    yamlPart(incrementalFields(st), st, "incremental_sync", `${sid}/incremental`),
    yamlPart(routerFields(retr), retr, "partition_router", `${sid}/router`),
    yamlPart(listEditor("Transformations", st, "transformations", TRANSFORMS, transformFields, "transformations", true), st, "transformations", `${sid}/transformations`),
    yamlPart(errorHandlerFields(own), own, "error_handler", `${sid}/errors`),
    yamlPart(schemaSummary(st), st, "schema_loader", `${sid}/schema`),
    removeBtn,
  );
  return box;
}

// The declared schema: taken from a test read (Schema tab) or edited as YAML.
function schemaSummary(st) {
  const l = st.schema_loader ? deref(st.schema_loader) : null;
  const props = l && l.schema && l.schema.properties ? Object.keys(l.schema.properties) : [];
  return el("fieldset", {}, el("legend", { text: "Declared schema" }), el("p", { class: "note", text: !l ? "none (schemas/<stream>.json if present)" :
    l.type === "InlineSchemaLoader" ? `${props.length} properties${props.length ? ": " + props.slice(0, 12).join(", ") + (props.length > 12 ? ", …" : "") : ""}` : l.type }));
}

// Stream templates (dynamic_streams): a components resolver whose records
// fill a stream template; edited as YAML (the engine does not run them yet).
const DYNAMIC_STREAM = (n) => ({
  type: "DynamicDeclarativeStream", name: n,
  stream_template: { type: "DeclarativeStream", name: "", primary_key: [],
    retriever: { type: "SimpleRetriever", requester: { $ref: "#/definitions/base_requester", path: "/items/{{ parameters['id'] }}" },
      record_selector: { type: "RecordSelector", extractor: { type: "DpathExtractor", field_path: [] } } } },
  components_resolver: { type: "HttpComponentsResolver",
    retriever: { type: "SimpleRetriever", requester: { $ref: "#/definitions/base_requester", path: "/lists" },
      record_selector: { type: "RecordSelector", extractor: { type: "DpathExtractor", field_path: [] } } },
    components_mapping: [{ type: "ComponentMappingDefinition", field_path: ["name"], value: "{{ components_values['name'] }}" }] },
});

function templateFields() {
  const box = el("fieldset", { id: "templates" }, el("legend", { text: "Stream templates" }));
  const list = Array.isArray(S.manifest.dynamic_streams) ? S.manifest.dynamic_streams : null;
  (list || []).forEach((t, i) => {
    const n = (t && t.name) || `template ${i + 1}`;
    const tb = yamlPart(el("fieldset", { "data-template": n }, el("legend", { text: `Template: ${n}` })), list, i, `template/${i}`, true);
    tb.append(templateActions(t, i), el("button", { type: "button", name: "remove_template", text: "Remove template", onclick: () => {
      list.splice(i, 1);
      if (!list.length) delete S.manifest.dynamic_streams;
      for (const k of Object.keys(PARTS)) if (k.startsWith("template/")) delete PARTS[k];
      for (const k of Object.keys(GENERATED)) delete GENERATED[k];
      formChanged();
      renderForm();
    } }));
    box.append(tb);
  });
  const nameIn = el("input", { type: "text", name: "new_template", placeholder: "new template name" });
  box.append(el("div", { class: "row" }, nameIn, el("button", { type: "button", id: "add-template", text: "Add stream template", onclick: () => {
    const n = nameIn.value.trim();
    if (!n) return;
    globalRequester();
    ensure(S.manifest, "dynamic_streams", []).push(DYNAMIC_STREAM(n));
    formChanged();
    renderForm();
  } })));
  return box;
}

function specFields() {
  const spec = ensure(S.manifest, "spec", { type: "Spec", connection_specification: { type: "object", properties: {} } });
  const cs = ensure(spec, "connection_specification", { type: "object", properties: {} });
  const props = ensure(cs, "properties", {});
  const req = Array.isArray(cs.required) ? cs.required : (cs.required = []);
  const box = el("fieldset", {}, el("legend", { text: "User inputs (spec)" }));
  for (const [name, p] of Object.entries(props)) {
    const row = el("div", { class: "row input-def", "data-input": name },
      el("strong", { text: name }),
      el("select", { name: "input_type", onchange: (e) => { p.type = e.target.value; formChanged(); } },
        ["string", "integer", "number", "boolean", "array", "object"].map((t) => el("option", { value: t, selected: p.type === t, text: t }))),
      el("label", {}, el("input", { type: "checkbox", name: "input_secret", checked: !!p.airbyte_secret, onchange: (e) => { if (e.target.checked) p.airbyte_secret = true; else delete p.airbyte_secret; formChanged(); } }), " secret"),
      el("label", {}, el("input", { type: "checkbox", name: "input_required", checked: req.includes(name), onchange: (e) => {
        const i = req.indexOf(name);
        if (e.target.checked && i < 0) req.push(name);
        if (!e.target.checked && i >= 0) req.splice(i, 1);
        formChanged();
      } }), " required"),
      el("button", { type: "button", text: "×", onclick: () => { delete props[name]; const i = req.indexOf(name); if (i >= 0) req.splice(i, 1); formChanged(); renderForm(); } }));
    box.append(row);
    // The rest of the input's JSON Schema: how it is shown and checked.
    box.append(el("details", { class: "input-more", "data-input-more": name }, el("summary", { text: `${name}: display name, hint, default, allowed values…` }),
      ...fields(p, [
        ["title", "display name", "text"],
        ["description", "hint", "text"],
        ["default", "default", "text"],
        ["examples", "placeholder (examples)", "list"],
        ["enum", "allowed values", "list", "a, b, c"],
        ["pattern", "pattern (regex)", "text", "^[a-z]+$"],
        ["order", "order", "num"],
        ["airbyte_hidden", "hidden", "bool"],
        ["multiline", "multiline (e.g. a private key)", "bool"],
      ], "input_")));
  }
  const nameIn = el("input", { type: "text", name: "new_input", placeholder: "new input name" });
  box.append(el("div", { class: "row" }, nameIn, el("button", { type: "button", id: "add-input", text: "Add input", onclick: () => {
    const n = nameIn.value.trim();
    if (!n || props[n]) return;
    props[n] = { type: "string", title: n };
    req.push(n);
    formChanged();
    renderForm();
  } })));
  return box;
}

function renderForm() {
  const pane = $("form-pane");
  pane.replaceChildren();
  if (!S.manifest) return;
  const req = globalRequester();
  pane.append(el("fieldset", { id: "global" }, el("legend", { text: "Global settings" }),
    textField("base URL", req, "url_base", { name: "url_base" }), authFields(req)));
  pane.append(specFields());
  const streams = ensure(S.manifest, "streams", []);
  streams.forEach((s, i) => pane.append(streamFields(s, i)));
  pane.append(templateFields());
  const nameIn = el("input", { type: "text", name: "new_stream", placeholder: "new stream name" });
  const names = streams.map((s) => (deref(s) || {}).name);
  const copyOf = el("select", { name: "copy_stream" }, el("option", { value: "", text: "new (empty)" }),
    names.map((n, i) => el("option", { value: i, text: `copy of ${n}` })));
  pane.append(el("div", { class: "row" }, nameIn, copyOf, el("button", { type: "button", id: "add-stream", text: "Add stream", onclick: () => {
    const n = nameIn.value.trim();
    if (!n) return;
    if (names.includes(n)) { status(`a stream named "${n}" exists already`, true); return; }
    if (copyOf.value !== "") {
      // A copy of another stream's whole definition, under the new name.
      const copy = JSON.parse(JSON.stringify(deref(streams[Number(copyOf.value)])));
      copy.name = n;
      streams.push(copy);
      formChanged();
      renderForm();
      return;
    }
    globalRequester(); // makes definitions.base_requester when there is no stream yet
    const base = (S.manifest.streams || []).map(deref).find((s) => s && s.retriever && s.retriever.requester && s.retriever.requester.$ref);
    const ref = base ? base.retriever.requester.$ref : "#/definitions/base_requester";
    streams.push({
      type: "DeclarativeStream", name: n, primary_key: [],
      retriever: { type: "SimpleRetriever", requester: { $ref: ref, path: "/" + n, http_method: "GET" },
        record_selector: { type: "RecordSelector", extractor: { type: "DpathExtractor", field_path: [] } } },
      schema_loader: { type: "InlineSchemaLoader", schema: { type: "object", properties: {} } },
    });
    const check = ensure(S.manifest, "check", { type: "CheckStream", stream_names: [] });
    if (Array.isArray(check.stream_names) && !check.stream_names.length) check.stream_names.push(n);
    formChanged();
    renderForm();
  } })));
}

// ---- testing values: a form from the spec's JSON schema ----

function schemaInput(name, schema, value, onchange) {
  schema = schema || {};
  const label = schema.title || name;
  if (Array.isArray(schema.oneOf)) {
    const opts = schema.oneOf.map((o, i) => o.title || `option ${i + 1}`);
    const cur = value && typeof value === "object" ? value : {};
    let idx = Math.max(0, schema.oneOf.findIndex((o) => Object.entries(o.properties || {}).every(([k, p]) => p.const === undefined || cur[k] === p.const)));
    const box = el("fieldset", {}, el("legend", { text: label }));
    const inner = el("div");
    const draw = () => {
      inner.replaceChildren();
      const o = schema.oneOf[idx];
      for (const [k, p] of Object.entries(o.properties || {})) {
        if (p.const !== undefined) { cur[k] = p.const; continue; }
        inner.append(schemaInput(k, p, cur[k], (v) => { if (v === undefined) delete cur[k]; else cur[k] = v; onchange(cur); }));
      }
      onchange(cur);
    };
    box.append(el("select", { name, onchange: (e) => { idx = Number(e.target.value); for (const k of Object.keys(cur)) delete cur[k]; draw(); } },
      opts.map((t, i) => el("option", { value: i, selected: i === idx, text: t }))), inner);
    draw();
    return box;
  }
  let input;
  if (Array.isArray(schema.enum)) {
    input = el("select", { name, onchange: (e) => onchange(e.target.value) },
      el("option", { value: "", text: "" }), schema.enum.map((v) => el("option", { value: v, selected: v === value, text: v })));
  } else if (schema.type === "boolean") {
    input = el("input", { type: "checkbox", name, checked: !!value, onchange: (e) => onchange(e.target.checked) });
  } else if (schema.type === "integer" || schema.type === "number") {
    input = el("input", { type: "number", name, oninput: (e) => onchange(e.target.value === "" ? undefined : Number(e.target.value)) });
    if (value != null) input.value = value;
  } else if (schema.type === "array" || schema.type === "object") {
    input = el("textarea", { name, oninput: (e) => { try { onchange(JSON.parse(e.target.value)); e.target.classList.remove("bad"); } catch (x) { e.target.classList.add("bad"); } } });
    input.value = value == null ? "" : JSON.stringify(value);
  } else {
    input = el("input", { type: schema.airbyte_secret ? "password" : "text", name, autocomplete: "off", oninput: (e) => onchange(e.target.value === "" ? undefined : e.target.value) });
    input.value = value == null ? "" : value;
  }
  if (value === undefined && schema.default !== undefined) onchange(schema.default);
  return el("label", { class: "field" }, el("span", { text: label }), input);
}

function renderInputs() {
  const form = $("inputs");
  const spec = S.spec && S.spec.properties ? S.spec : { properties: {} };
  const key = JSON.stringify(spec);
  if (form.dataset.spec === key) return; // do not redraw while typing
  form.dataset.spec = key;
  form.replaceChildren();
  for (const [k, p] of Object.entries(spec.properties)) {
    form.append(schemaInput(k, p, S.values[k], (v) => { if (v === undefined) delete S.values[k]; else S.values[k] = v; }));
  }
}

// ---- test reads ----

function refreshStreams() {
  const sel = $("stream");
  const cur = sel.value;
  sel.replaceChildren(...S.streams.map((s) => el("option", { value: s, selected: s === cur, text: s })));
}

async function testRead() {
  if (S.yamlError) { status("the manifest does not parse: fix the YAML error first", true); return; }
  const stream = $("stream").value;
  if (!stream) { status("no stream to test: add one", true); return; }
  let state = null;
  const stText = $("input-state").value.trim();
  if (stText) {
    try { state = JSON.parse(stText); } catch (e) { status("the input state is not JSON: " + e.message, true); return; }
  }
  status(`testing ${stream}…`);
  const print = streamPrint(stream); // what this read covers
  $("test").disabled = true;
  const { data } = await api("POST", "/test_read", {
    yaml: S.yaml, stream, config: S.values, state,
    max_records: Number($("max-records").value), max_pages: Number($("max-pages").value), max_slices: Number($("max-slices").value),
    retries: $("retries").checked,
  });
  $("test").disabled = false;
  S.result = data;
  S.testedYaml = S.yaml;
  S.slice = 0;
  S.page = 0;
  if (!data.error) S.tested[stream] = print;
  showUntested();
  status(data.error ? "test read failed" : `${data.records_total} records`, !!data.error);
  if (data.config_update) {
    // OAuth rotated a single-use token: the server kept the new config as the testing values.
    S.values = data.config_update;
    delete data.config_update;
    $("inputs").dataset.spec = "";
    renderInputs();
    status(`${data.records_total} records; the rotated OAuth token was written back to the testing values`, !!data.error);
  }
  renderResult();
  // Auto-import: the inferred schema becomes the stream's schema after every read with records.
  if ($("auto-schema").checked && !data.error && data.records_total && data.inferred_schema) useInferredSchema();
}

function pre(v) { return el("pre", { text: typeof v === "string" ? v : JSON.stringify(v, null, 2) }); }

function prettyBody(b) {
  if (typeof b !== "string") return "";
  try { return JSON.stringify(JSON.parse(b), null, 2); } catch (e) { return b; }
}

function headersTable(h) {
  return el("table", {}, Object.entries(h || {}).map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v }))));
}

function recordsTable(recs) {
  if (!recs.length) return el("p", { text: "no records" });
  const cols = [...new Set(recs.flatMap((r) => Object.keys(r)))];
  return el("table", { class: "records" }, el("tr", {}, cols.map((c) => el("th", { text: c }))),
    recs.map((r) => el("tr", {}, cols.map((c) => el("td", { text: r[c] === undefined ? "" : typeof r[c] === "object" ? JSON.stringify(r[c]) : String(r[c]) })))));
}

function useInferredSchema() {
  const stream = (S.manifest.streams || []).map(deref).find((s) => s && s.name === S.result.stream);
  if (!stream) return;
  stream.schema_loader = { type: "InlineSchemaLoader", schema: S.result.inferred_schema };
  manifestToYaml();
  status("the inferred schema is now the stream's schema");
}

// Adds the inferred properties the declared schema lacks; keeps the rest.
function mergeInferredSchema() {
  const stream = (S.manifest.streams || []).map(deref).find((s) => s && s.name === S.result.stream);
  if (!stream) return;
  const loader = stream.schema_loader && deref(stream.schema_loader);
  if (!loader || loader.type !== "InlineSchemaLoader") { useInferredSchema(); return; }
  const schema = ensure(loader, "schema", { type: "object" });
  const props = ensure(schema, "properties", {});
  for (const [k, v] of Object.entries(S.result.inferred_schema.properties || {})) if (!(k in props)) props[k] = v;
  manifestToYaml();
  status("new properties added to the stream's schema");
}

function renderResult() {
  const out = $("result");
  out.replaceChildren();
  const r = S.result;
  if (!r) return;
  if (r.error) {
    const loc = r.error.location;
    out.append(el("div", { class: "error", id: "test-error" }, r.error.message,
      loc && loc.file && /manifest/.test(loc.file) ? el("div", {}, el("a", { class: "loc", onclick: () => jumpToLine(loc.line), text: `go to line ${loc.line}` })) : null));
  }
  out.append(el("div", { id: "stale", class: "warning", hidden: S.testedYaml === S.yaml, text: "the manifest changed since this test: test again" }));
  for (const w of r.warnings || []) out.append(el("div", { class: "warning", "data-code": w.code, text: w.message }));
  out.append(el("p", { id: "summary", text: `${r.records_total} records in ${r.slices.length} slice(s)` + (r.limit_reached ? ` — test limit reached (${r.limit})` : "") }));
  const slices = r.slices || [];
  if (slices.length) {
    const s = slices[Math.min(S.slice, slices.length - 1)];
    out.append(el("div", { class: "row" },
      el("label", {}, "Slice ", el("select", { id: "slice", onchange: (e) => { S.slice = Number(e.target.value); S.page = 0; renderResult(); } },
        slices.map((x, i) => el("option", { value: i, selected: i === S.slice, text: `${i + 1}: ${JSON.stringify(x.slice)}` })))),
      el("label", {}, "Page ", el("select", { id: "page", onchange: (e) => { S.page = Number(e.target.value); renderResult(); } },
        s.pages.map((p, i) => el("option", { value: i, selected: i === S.page, text: `${i + 1}${p.failed ? " (failed)" : ""}` }))))));
    const p = s.pages[Math.min(S.page, s.pages.length - 1)] || {};
    const tabs = {
      records: () => el("div", {}, el("button", { id: "records-view", text: S.recordsJson ? "as a table" : "as JSON",
        onclick: () => { S.recordsJson = !S.recordsJson; renderResult(); } }),
        S.recordsJson ? pre(p.records || []) : recordsTable(p.records || [])),
      request: () => p.request ? el("div", {}, el("p", { text: `${p.request.method} ${p.request.url}` }), headersTable(p.request.headers), p.request.body ? pre(prettyBody(p.request.body)) : null) : el("p", { text: "no request" }),
      response: () => p.response ? el("div", {}, el("p", { text: `HTTP ${p.response.status ?? "(none: " + (p.response.error || "no answer") + ")"}` }), headersTable(p.response.headers), pre(prettyBody(p.response.body))) : el("p", { text: "no response (the request got no answer)" }),
      other: () => (p.auxiliary_requests || []).length ? el("div", {}, p.auxiliary_requests.map((a) => pre(a))) : el("p", { text: "no other requests" }),
      state: () => el("div", {}, el("h4", { text: "state after this slice" }), pre(s.state), el("h4", { text: "final state" }), pre(r.final_state),
        s.state || r.final_state ? el("button", { id: "use-state", text: "Use as input state", onclick: () => {
          $("input-state").value = JSON.stringify(r.final_state || s.state);
          $("advanced").open = true;
        } }) : null),
      logs: () => el("div", {}, (r.logs || []).map((l) => el("div", { text: `${l.level} ${l.message}` }))),
      schema: () => el("div", {},
        el("button", { id: "use-schema", onclick: useInferredSchema, text: "Use the inferred schema" }),
        el("button", { id: "merge-schema", onclick: mergeInferredSchema, text: "Add new properties only" }),
        el("h4", { text: "differences from the declared schema" }),
        (r.schema_diff || []).length ? el("ul", { id: "schema-diff" }, r.schema_diff.map((d) => el("li", { text: `${d.path}: ${d.change}` }))) : el("p", { text: "none" }),
        pre(r.inferred_schema)),
    };
    out.append(el("div", { class: "tabs" }, Object.keys(tabs).map((t) =>
      el("button", { class: t === S.tab ? "on" : "", "data-tab": t, onclick: () => { S.tab = t; renderResult(); }, text: t }))));
    out.append(el("div", { id: "tab-body" }, tabs[S.tab]()));
  } else if ((r.logs || []).length) {
    out.append(el("div", {}, r.logs.map((l) => el("div", { text: `${l.level} ${l.message}` }))));
  }
}

// ---- save, export, versions ----

async function save(force) {
  if (S.yamlError) { status("the manifest does not parse: fix the YAML error before saving", true); return; }
  clearTimeout(H.draftTimer); // the save supersedes the draft
  H.draftSeq++;
  saveState("saving", "saving…");
  const { status: code, data } = await api("POST", "/save", { yaml: S.yaml, base_version: S.version, force: !!force });
  if (code === 409) {
    if (confirm(data.error.message + "\n\nOverwrite the other version?")) return save(true);
    status("not saved: the manifest changed elsewhere", true);
    saveState("error", "not saved (changed elsewhere)");
    return;
  }
  if (data.error) { status(data.error.message, true); saveState("error", "not saved: " + data.error.message); return; }
  S.version = data.version;
  status(`saved (version ${data.history})`);
  saveState("saved", `saved (version ${data.history})`);
}

function exportYaml() {
  if (S.yamlError) { status("the manifest does not parse: fix it before exporting", true); return; }
  const a = el("a", { href: URL.createObjectURL(new Blob([S.yaml], { type: "application/yaml" })), download: "manifest.yaml" });
  document.body.append(a);
  a.click();
  a.remove();
}

async function showVersions() {
  const { data } = await api("GET", "/versions");
  const ul = $("versions");
  ul.replaceChildren(...(data.versions || []).map((v) => el("li", {}, el("a", { class: "loc", "data-version": v.n, onclick: async () => {
    const { data: d } = await api("GET", `/versions/${v.n}`);
    $("version-diff").replaceChildren(...lineDiff(d.yaml || "", S.yaml).filter((l) => l[0] !== " ").map(([k, t]) =>
      el("div", { class: k === "+" ? "diff-add" : "diff-del", text: `${k} ${t}` })));
  }, text: `version ${v.n} — ${new Date(v.time * 1000).toLocaleString()} (${v.size} bytes)` }),
  " ", el("button", { type: "button", "data-load-version": v.n, text: "Load", title: "make this version the draft (Undo takes it back)", onclick: async () => {
    const { data: d } = await api("GET", `/versions/${v.n}`);
    if (d.error) { status(d.error.message, true); return; }
    $("versions-dialog").close(); // first: keys pressed once the draft shows it are the manifest's
    noteChange(S.yaml, d.yaml);
    await applyText(d.yaml);
    status(`version ${v.n} loaded as the draft (Save keeps it; Undo takes it back)`);
  } }))));
  $("version-diff").textContent = "choose a version to see what changed since (- was there, + is now)";
  await showPublished();
  $("versions-dialog").showModal();
}

// A stream as the engine sees it (refs resolved): what a test read covered.
function streamPrint(name) {
  const st = ((S.resolvedManifest || {}).streams || []).find((x) => x && x.name === name);
  return st ? JSON.stringify([st, (S.resolvedManifest || {}).spec]) : null;
}
// Streams with no test read since they last changed.
function untestedStreams() { return S.streams.filter((n) => !S.tested[n] || S.tested[n] !== streamPrint(n)); }
function showUntested() {
  const u = untestedStreams(), g = ungeneratedTemplates(), box = $("untested");
  box.hidden = !u.length && !g.length;
  box.textContent = [u.length ? `not tested since their last change: ${u.join(", ")}` : "",
    g.length ? `stream templates not generated since their last change: ${g.join(", ")}` : ""].filter((x) => x).join("; ");
}

async function publish() {
  if (S.yamlError) { status("the manifest does not parse: fix it before publishing", true); return; }
  const guess = "source-" + ($("project").textContent.split("/").pop() || "new").toLowerCase().replace(/[^a-z0-9-]+/g, "-");
  const name = prompt("Publish as connectors/<name>/ — name:", guess);
  if (!name) return;
  const u = untestedStreams();
  if (u.length && !confirm(`Not tested since their last change: ${u.join(", ")}.\n\nPublish anyway?`)) { status("not published", true); return; }
  const description = prompt("What does this version change? (optional; kept with the published version)", "") || "";
  const { data } = await api("POST", "/publish", { yaml: S.yaml, name, description });
  status(data.error ? data.error.message : `published to ${data.dir}`, !!data.error);
}

// ---- start ----

async function start() {
  if (!PROJECT) { // a workspace lists its projects first
    const { status: code } = await api("GET", "/workspace");
    if (code === 200) { await showProjects(); return; }
  } else $("to-projects").hidden = false;
  const { data } = await api("GET", "/project");
  $("project").textContent = data.dir || "";
  S.version = data.version || "none";
  S.values = data.testing_values || {};
  S.yaml = data.draft || data.manifest || NEW_MANIFEST;
  $("yaml").value = S.yaml;
  if (data.draft) {
    saveState("draft", "unsaved draft restored");
    status("the unsaved draft of the last session is back (Save makes it the manifest)");
  } else saveState("saved", data.manifest ? "saved" : "new project");
  historyStart();
  await resolveYaml(S.yaml);
  const onYaml = debounce(async () => {
    const text = $("yaml").value;
    noteChange(S.yaml, text);
    S.yaml = text;
    await resolveYaml(S.yaml);
  }, 400);
  $("yaml").addEventListener("input", onYaml);
  $("mode-form").addEventListener("click", () => setMode("form"));
  $("mode-yaml").addEventListener("click", () => setMode("yaml"));
  $("test").addEventListener("click", testRead);
  // Ctrl+Enter (Cmd+Enter) tests the chosen stream from anywhere on the page.
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !$("test").disabled) { e.preventDefault(); testRead(); }
  });
  $("save").addEventListener("click", () => save(false));
  $("export").addEventListener("click", exportYaml);
  $("show-versions").addEventListener("click", showVersions);
  // Import a manifest file: it becomes the draft (undoable), shown in YAML.
  $("import").addEventListener("change", async (e) => {
    const f = e.target.files[0];
    if (!f) return;
    const text = await f.text();
    e.target.value = "";
    noteChange(S.yaml, text);
    await applyText(text);
    setMode("yaml");
    status(`${f.name} imported${S.yamlError ? ": it does not parse, see the error" : ""}`, !!S.yamlError);
  });
  $("publish").addEventListener("click", publish);
  $("close-versions").addEventListener("click", () => $("versions-dialog").close());
  $("save-inputs").addEventListener("click", async () => {
    const { data: d } = await api("POST", "/testing_values", { values: S.values });
    status(d.error ? d.error.message : "testing values kept in the project (not in the manifest)", !!d.error);
  });
  setMode(data.manifest || data.draft ? "yaml" : "form");
}

start();
