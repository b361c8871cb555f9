// The GraphQL query editor: a stream's request body as
// {type: RequestBodyGraphQL, value: {query}}, checked as it is typed by the
// reference parser (npm's graphql, embedded at build time under /vendor/;
// builder/embed_assets.py). A syntax error shows at its line and column; the
// text is kept either way, as in YAML mode.
"use strict";

let gqlParser = null; // the module's promise, loaded on first use
function loadGraphql() {
  if (!gqlParser) gqlParser = import("/vendor/graphql/language/parser.mjs").catch(() => null);
  return gqlParser;
}

async function checkGraphql(text, out) {
  const mod = await loadGraphql();
  if (!mod) { out.hidden = false; out.className = "note"; out.textContent = "GraphQL syntax check unavailable (this build has no graphql parser)"; return; }
  try {
    // Interpolations ({{ ... }}, {% ... %}) become a Name of the same length,
    // valid wherever a value or a field may stand, so columns stay right.
    if (text.trim()) mod.parse(text.replace(/\{\{[^]*?\}\}|\{%[^]*?%\}/g, (m) => m.replace(/[^\n]/g, "_")));
    out.hidden = false;
    out.className = "ok";
    out.textContent = text.trim() ? "valid GraphQL" : "";
  } catch (e) {
    const loc = e.locations && e.locations[0];
    out.hidden = false;
    out.className = "error";
    out.textContent = (loc ? `line ${loc.line}, column ${loc.column}: ` : "") + e.message.replace(/^Syntax Error: /, "");
  }
}

function graphqlField(req) {
  const body = req.request_body;
  if (body && body.type !== "RequestBodyGraphQL") return null; // another typed body: edited in YAML
  const query = body && body.value && typeof body.value.query === "string" ? body.value.query : "";
  const out = el("div", { "data-graphql-check": "", hidden: true });
  const check = debounce((t) => checkGraphql(t, out), 200);
  const ta = el("textarea", { name: "graphql_query", class: "graphql", spellcheck: "false", placeholder: "query { items(first: 10) { id name } }",
    oninput: (e) => {
      const t = e.target.value;
      if (!t.trim()) delete req.request_body;
      else req.request_body = { type: "RequestBodyGraphQL", value: { ...((req.request_body || {}).value || {}), query: t } };
      formChanged();
      check(t);
    } });
  ta.value = query;
  if (query) check(query);
  return el("div", {}, el("label", { class: "field" }, el("span", { text: "GraphQL query" }), ta), out);
}
