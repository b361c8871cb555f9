// Stream templates (dynamic_streams) in the form: "Preview endpoint" test-reads
// the components resolver's endpoint (its requests and records show in the
// test result), "Generate streams" fills the template with each value
// (POST /api/generate_streams). Generated streams are read-only: change the
// template instead; each can be test-read (a copy of the manifest with it
// as a plain stream).
"use strict";

const GENERATED = {}; // template index -> [streams]
const GEN_PRINT = {}; // template index -> the template (refs resolved) and spec when last generated

function templatePrint(i) {
  const r = S.resolvedManifest || {}, t = (r.dynamic_streams || [])[i];
  return t ? JSON.stringify([t, r.spec]) : null;
}
// Templates changed since they last generated streams (Airbyte's "ungenerated dynamic streams").
function ungeneratedTemplates() {
  return ((S.resolvedManifest || {}).dynamic_streams || []).map((t, i) => (GEN_PRINT[i] === templatePrint(i) ? null : (t && t.name) || `template ${i + 1}`))
    .filter((n) => n);
}

async function generateStreams(i, preview) {
  if (S.yamlError) { status("the manifest does not parse: fix the YAML error first", true); return null; }
  status(preview ? "reading the template's endpoint…" : "generating streams…");
  const { data } = await api("POST", "/generate_streams", { yaml: S.yaml, template: i, config: S.values, preview });
  if (data.error && !data.streams) { status(data.error.message, true); return null; }
  GENERATED[i] = data.streams || [];
  if (!data.error) GEN_PRINT[i] = templatePrint(i);
  showUntested();
  if (preview && data.preview) {
    S.result = data.preview;
    S.testedYaml = S.yaml;
    S.slice = 0;
    S.page = 0;
    renderResult();
  }
  status(data.error ? `${data.error.message}` : `${GENERATED[i].length} stream(s) from ${data.values} value(s)`, !!data.error);
  renderForm();
  return data;
}

async function testGenerated(st) {
  const m = JSON.parse(JSON.stringify(S.manifest));
  // The engine reads plain streams: this one alone stands for its template.
  delete m.dynamic_streams;
  m.streams = [st];
  m.check = { type: "CheckStream", stream_names: [st.name] };
  const { data: y } = await api("POST", "/to_yaml", { value: m });
  if (y.error) { status(y.error.message, true); return; }
  status(`testing the generated stream ${st.name}…`);
  const { data } = await api("POST", "/test_read", { yaml: y.yaml, stream: st.name, config: S.values,
    max_records: Number($("max-records").value), max_pages: Number($("max-pages").value), max_slices: Number($("max-slices").value) });
  S.result = data;
  S.testedYaml = S.yaml;
  S.slice = 0;
  S.page = 0;
  status(data.error ? "test read failed" : `${data.records_total} records from the generated stream ${st.name}`, !!data.error);
  renderResult();
}

function templateActions(t, i) {
  const http = t && t.components_resolver && deref(t.components_resolver).type === "HttpComponentsResolver";
  const gen = GENERATED[i] || [];
  return el("div", { class: "template-actions" },
    el("div", { class: "row" },
      http ? el("button", { type: "button", name: "preview_endpoint", text: "Preview endpoint", onclick: () => generateStreams(i, true) }) : null,
      el("button", { type: "button", name: "generate_streams", text: "Generate streams", onclick: () => generateStreams(i, false) })),
    gen.length ? el("div", { class: "generated" }, el("p", { class: "note", text: "generated streams (read-only: edit the template)" }),
      gen.map((st) => el("details", { "data-generated": st.name || "" },
        el("summary", {}, `${st.name || "(no name)"} `, el("button", { type: "button", name: "test_generated", text: "Test", onclick: () => testGenerated(st) })),
        el("pre", { text: JSON.stringify(st, null, 2) })))) : null);
}
