// Undo/redo over the manifest text (form edits, YAML edits and component
// YAML edits all end as a new text, one step per pause in typing), and the
// draft auto-save with its indicator: every change is kept in the project
// as .sluice-builder/draft.yaml (POST /api/draft) until Save makes it the
// manifest, so a closed tab loses nothing.
"use strict";

const H = { past: [], future: [], max: 200, draftTimer: null, draftSeq: 0 };

function saveState(state, text) {
  const e = $("save-state");
  e.dataset.state = state;
  e.textContent = text;
}

function historyButtons() {
  $("undo").disabled = !H.past.length;
  $("redo").disabled = !H.future.length;
}

// The manifest text goes from old to new by an edit (not by undo/redo).
function noteChange(old, neu) {
  if (old === neu || old == null) return;
  H.past.push(old);
  if (H.past.length > H.max) H.past.shift();
  H.future = [];
  historyButtons();
  draftChanged();
}

function draftChanged() {
  saveState("unsaved", "unsaved changes");
  clearTimeout(H.draftTimer);
  H.draftTimer = setTimeout(saveDraft, 800);
}

async function saveDraft() {
  H.draftTimer = null;
  const seq = ++H.draftSeq;
  saveState("saving", "saving draft…");
  const { data } = await api("POST", "/draft", { yaml: S.yaml });
  if (seq !== H.draftSeq) return; // a newer draft is on its way
  if (data.error) saveState("error", "draft not saved: " + data.error.message);
  else saveState("draft", "draft saved");
}

// Shows text as the manifest (undo/redo): the form and YAML follow it.
async function applyText(text) {
  S.yaml = text;
  $("yaml").value = text;
  await resolveYaml(text);
  if (S.mode === "form") renderForm();
  historyButtons();
  draftChanged();
}

// A YAML edit still waiting for its pause counts as a step first.
function flushTyping() {
  if (S.mode === "yaml" && $("yaml").value !== S.yaml) {
    noteChange(S.yaml, $("yaml").value);
    S.yaml = $("yaml").value;
  }
}

async function undo() {
  flushTyping();
  if (!H.past.length) return;
  H.future.push(S.yaml);
  await applyText(H.past.pop());
  status("undone");
}

async function redo() {
  if (!H.future.length) return;
  H.past.push(S.yaml);
  await applyText(H.future.pop());
  status("redone");
}

function historyStart() {
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  // Ctrl+Z / Ctrl+Shift+Z (Cmd on a Mac; Ctrl+Y too) act on the whole manifest, in any field.
  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return;
    // Testing values, test settings and dialogs are not the manifest: their own undo applies.
    const t = e.target && e.target.closest ? e.target : null;
    if (t && (t.closest("#testing") || (t.closest("dialog") && t.closest("dialog").open))) return;
    const k = e.key.toLowerCase();
    if (k === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
    else if ((k === "z" && e.shiftKey) || k === "y") { e.preventDefault(); redo(); }
  });
  historyButtons();
}

// A line diff (LCS) of two texts: [[" "|"+"|"-", line]], for the versions dialog.
function lineDiff(a, b) {
  const x = a.split("\n"), y = b.split("\n");
  if (x.length * y.length > 4e6) return [["", "(too large to compare line by line)"]];
  const n = x.length, m = y.length, L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { out.push([" ", x[i]]); i++; j++; }
    else if (j < m && (i === n || L[i][j + 1] >= L[i + 1][j])) { out.push(["+", y[j]]); j++; }
    else { out.push(["-", x[i]]); i++; }
  }
  return out;
}
