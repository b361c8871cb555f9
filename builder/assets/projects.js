// Workspace mode (sluice builder --workspace DIR): the project list at "/"
// (name, active version, last update, a draft badge for never-published
// projects, where each was forked from), new projects from scratch, a YAML
// file, a fork of a project at a saved version or of a catalog connector,
// and delete (the server refuses it once published). A project opens at
// /?project=NAME; every API call of the page then names it.
"use strict";

const PROJECT = new URLSearchParams(location.search).get("project");

function forkedText(f) {
  if (!f) return "";
  if (f.kind === "project") return `project ${f.name}${f.version ? ` at version ${f.version}` : ""}`;
  return `connector ${f.name}${f.version ? ` ${f.version}` : ""}`;
}

function projectRow(p) {
  const av = p.active_version;
  return el("tr", { "data-project": p.name },
    el("td", {}, el("a", { href: `/?project=${encodeURIComponent(p.name)}`, text: p.name }),
      p.draft ? el("span", { class: "badge", "data-badge": "draft", title: "never published", text: "draft" }) : null),
    el("td", { "data-col": "active", text: av ? `v${av.n} (${av.connector}${av.tag ? " " + av.tag : ""})` : "—" }),
    el("td", { "data-col": "updated", text: new Date(p.updated * 1000).toLocaleString() }),
    el("td", { "data-col": "versions", text: String(p.saved_versions) }),
    el("td", { "data-col": "forked", text: forkedText(p.forked_from) }),
    el("td", {}, el("button", { type: "button", "data-delete": p.name, text: "Delete", onclick: async () => {
      if (!confirm(`Delete project ${p.name} and its saved versions?`)) return;
      const { data } = await api("POST", "/workspace/delete", { name: p.name });
      if (data.error) { status(data.error.message, true); return; }
      status(`project ${p.name} deleted`);
      showProjects();
    } })));
}

async function createProject() {
  const name = $("new-project-name").value.trim();
  const from = $("new-project-from").value;
  const body = { name };
  if (from === "file") {
    const f = $("new-project-file").files[0];
    if (!f) { status("choose a YAML file to import", true); return; }
    body.yaml = await f.text();
  } else if (from === "project") {
    const v = parseInt($("new-project-version").value, 10);
    body.from = { project: $("new-project-source").value };
    if (v > 0) body.from.version = v;
  } else if (from === "connector") {
    body.from = { connector: $("new-project-connector").value };
  }
  const { data } = await api("POST", "/workspace/projects", body);
  if (data.error) { status(data.error.message, true); return; }
  location.href = `/?project=${encodeURIComponent(data.name)}`;
}

async function showProjects() {
  const { data: ws } = await api("GET", "/workspace");
  document.title = "sluice builder — projects";
  $("project").textContent = ws.dir || "";
  document.querySelector("header nav").hidden = true;
  $("save-state").hidden = true;
  const projects = ws.projects || [], catalog = ws.catalog || [];
  const fromSel = el("select", { id: "new-project-from", onchange: () => {
    for (const k of ["file", "project", "connector"]) $(`from-${k}`).hidden = fromSel.value !== k;
  } }, el("option", { value: "scratch", text: "from scratch" }), el("option", { value: "file", text: "import a YAML file" }),
  el("option", { value: "project", text: "fork a project" }), el("option", { value: "connector", text: "fork a catalog connector" }));
  const view = el("section", { id: "projects-view" },
    el("h2", { text: "Projects" }),
    projects.length ? el("table", { id: "projects" },
      el("tr", {}, ["project", "active version", "last updated", "saved versions", "forked from", ""].map((h) => el("th", { text: h }))),
      projects.map(projectRow)) : el("p", { class: "note", text: "no projects yet" }),
    el("h3", { text: "New project" }),
    el("div", { class: "row" },
      el("label", {}, "name ", el("input", { id: "new-project-name", type: "text", placeholder: "my-api" })), fromSel,
      el("span", { id: "from-file", hidden: true }, el("input", { id: "new-project-file", type: "file", accept: ".yaml,.yml" })),
      el("span", { id: "from-project", hidden: true },
        el("select", { id: "new-project-source" }, projects.map((p) => el("option", { value: p.name, text: p.name }))),
        el("label", {}, " at version ", el("input", { id: "new-project-version", type: "number", min: "1", placeholder: "latest" }))),
      el("span", { id: "from-connector", hidden: true },
        el("select", { id: "new-project-connector" }, catalog.map((c) => el("option", { value: c.name, text: `${c.name}${c.version ? " " + c.version : ""}` })))),
      el("button", { id: "create-project", type: "button", text: "Create", onclick: createProject })));
  document.querySelector("main").replaceChildren(view);
  document.querySelector("main").classList.add("projects");
}

// Published versions (in the Versions dialog): each publish is a version of
// the connector; the active one is what connectors/<name>/ and its
// metadata.yaml hold. "Make active" writes an older one back there.
async function showPublished() {
  const { data } = await api("GET", "/published");
  const ul = $("published");
  const vers = data.versions || [];
  ul.replaceChildren(...(vers.length ? vers.map((v) => el("li", { "data-published": v.n },
    `version ${v.n} — ${v.connector}${v.tag ? " " + v.tag : ""} — ${new Date(v.time * 1000).toLocaleString()}${v.description ? " — " + v.description : ""} `,
    v.n === data.active ? el("strong", { class: "ok", "data-active": "", text: "active" })
      : el("button", { type: "button", "data-activate": v.n, text: "Make active", onclick: async () => {
        const { data: d } = await api("POST", "/published/active", { version: v.n });
        if (d.error) { status(d.error.message, true); return; }
        status(`version ${v.n} is active: ${d.dir}${d.tag ? " (" + d.tag + ")" : ""}`);
        showPublished();
      } }),
    " ", el("button", { type: "button", "data-load-published": v.n, text: "Load", title: "make this published version the draft (Undo takes it back)", onclick: async () => {
      const { data: d } = await api("GET", `/published/${v.n}`);
      if (d.error) { status(d.error.message, true); return; }
      $("versions-dialog").close();
      noteChange(S.yaml, d.yaml);
      await applyText(d.yaml);
      status(`published version ${v.n} loaded as the draft (Save keeps it; Undo takes it back)`);
    } }))) : [el("li", { class: "note", text: "not published yet (a draft)" })]));
}
