// One component of the form edited as YAML in place, the rest staying a
// form: each component fieldset gets a "YAML" button. The text is parsed by
// the server (POST /api/parse_yaml); an invalid text shows its line and the
// component keeps its last valid value; "Form" goes back only once the text
// parses, so nothing typed is lost. Components the form has no fields for
// (an AsyncRetriever, a stream template) are always shown this way.
"use strict";

// name -> {text, value (JSON of the value the text was made from), error, timer}
const PARTS = {};

const partValue = (owner, key) => JSON.stringify(owner[key] === undefined ? null : owner[key]);

async function partText(owner, key) {
  const v = owner[key];
  if (v === undefined || v === null) return "";
  const { data } = await api("POST", "/to_yaml", { value: v });
  return data.error ? JSON.stringify(v, null, 2) : data.yaml;
}

// Parses st.text; a valid value replaces owner[key] (null: removed).
async function partParse(owner, key, st, errBox) {
  clearTimeout(st.timer);
  st.timer = null;
  const text = st.text;
  const { data } = await api("POST", "/parse_yaml", { yaml: text });
  if (st.text !== text) return false; // typed on meanwhile: that text is parsed next
  if (data.error) {
    const loc = data.error.location;
    st.error = (loc ? `line ${loc.line}, column ${loc.column}: ` : "") + data.error.message.replace(/^component\.yaml:\d+:\d+:? ?/, "");
    if (errBox) { errBox.textContent = st.error; errBox.hidden = false; }
    return false;
  }
  st.error = null;
  if (errBox) errBox.hidden = true;
  if (data.value === null && Array.isArray(owner)) {
    // An emptied list item (a stream template) goes from the list.
    owner.splice(key, 1);
    for (const n of Object.keys(PARTS)) if (n.startsWith("template/")) delete PARTS[n];
    formChanged();
    renderForm();
    return true;
  }
  if (data.value === null) delete owner[key]; else owner[key] = data.value;
  st.value = partValue(owner, key);
  formChanged();
  return true;
}

async function togglePart(owner, key, name) {
  const st = PARTS[name];
  if (!st) {
    PARTS[name] = { text: await partText(owner, key), value: partValue(owner, key), error: null };
    renderForm();
    return;
  }
  if (st.timer) await partParse(owner, key, st, null);
  if (st.error) {
    status(`the YAML of this component does not parse (${st.error}): fix it first; the form keeps its last valid value`, true);
    return;
  }
  delete PARTS[name];
  renderForm();
}

// Gives fieldset box (its <legend> first) a YAML toggle for owner[key];
// forced: no form for it, always YAML.
function yamlPart(box, owner, key, name, forced) {
  const legend = box.querySelector("legend");
  box.dataset.part = name;
  let st = PARTS[name];
  if (!st && forced) st = PARTS[name] = { text: null, value: null, error: null, forced: true };
  if (!forced) legend.append(" ", el("button", { type: "button", class: "part-toggle", name: "yaml_" + name,
    text: st ? "Form" : "YAML", title: st ? "back to the form" : "edit this component as YAML", onclick: () => togglePart(owner, key, name) }));
  if (!st) return box;
  box.replaceChildren(legend);
  const ta = el("textarea", { class: "part-yaml", name: "part_" + name, spellcheck: "false", "aria-label": `${legend.textContent} YAML` });
  const err = el("div", { class: "error part-error", hidden: !st.error, text: st.error || "" });
  ta.value = st.text || "";
  // The value changed elsewhere (undo, YAML mode, another field): show it, unless a
  // typed text that does not parse is pending.
  if (st.text === null || (!st.error && st.value !== partValue(owner, key))) {
    const want = partValue(owner, key);
    partText(owner, key).then((t) => {
      if (partValue(owner, key) !== want) return;
      st.text = t;
      st.value = want;
      ta.value = t;
    });
  }
  ta.addEventListener("input", () => {
    st.text = ta.value;
    clearTimeout(st.timer);
    st.timer = setTimeout(() => partParse(owner, key, st, err), 200);
  });
  box.append(ta, err);
  return box;
}
