// The builder's workspace mode in chromium (part of e2e.js, same browser):
// the project list, a project from scratch, a save that fails (its error
// state) and then succeeds, two publishes and the active version, forks of a
// project at a version and of a catalog connector, a YAML import, delete
// refused once published, and two tabs on one project (the later save warns).
"use strict";
const fs = require("fs");
const path = require("path");

const MANIFEST = (p) => `version: 6.0.0
type: DeclarativeSource
check:
  type: CheckStream
  stream_names: [items]
streams:
  - type: DeclarativeStream
    name: items
    primary_key: [id]
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: http://127.0.0.1:9/api
        path: ${p}
      record_selector:
        type: RecordSelector
        extractor:
          type: DpathExtractor
          field_path: []
spec:
  type: Spec
  connection_specification:
    type: object
    properties: {}
`;

module.exports = async function workspacePart(browser, { wsUrl, wsDir, repo, check, shot }) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.setDefaultTimeout(60000); // a bound for slow (ASan, loaded) machines, not a timing check
  let answer = null; // what the next prompt or confirm gets (null: dismiss)
  let lastDialog = "";
  let describe = ""; // what the publish dialog's description prompt gets
  page.on("dialog", (d) => {
    lastDialog = d.message();
    if (d.type() === "prompt" && /^What does this version change/.test(d.message())) d.accept(describe);
    else if (answer === null) d.dismiss();
    else d.accept(answer === true ? undefined : answer);
  });
  const statusIs = (re) => page.waitForFunction((src) => new RegExp(src).test(document.getElementById("status").textContent), re.source);
  const setYaml = async (text) => {
    await page.click("#mode-yaml");
    await page.fill("#yaml", text);
    await page.waitForFunction((t) => S.resolved === t, text);
  };
  const toList = async () => {
    await page.click("#to-projects");
    await page.waitForSelector("#projects-view");
  };
  const row = (name) => page.$(`#projects tr[data-project="${name}"]`);
  const cell = async (name, col) => (await page.textContent(`#projects tr[data-project="${name}"] [data-col=${col}]`)).trim();
  const create = async (name, from, fill) => {
    await page.fill("#new-project-name", name);
    await page.selectOption("#new-project-from", from);
    if (fill) await fill();
    await Promise.all([page.waitForURL(`**/?project=${name}`), page.click("#create-project")]);
    await page.waitForFunction(() => S.resolved !== undefined || document.getElementById("form-pane").hidden === false);
  };

  await page.goto(wsUrl);
  await page.waitForSelector("#projects-view");
  check("workspace: project list shown", /no projects yet/.test(await page.textContent("#projects-view")) && await page.isHidden("header nav"));

  // From scratch: the page opens the form of a new project.
  await create("shop", "scratch");
  await page.waitForSelector("#form-pane:not([hidden]) #global");
  check("workspace: new project from scratch", /\/shop$/.test(await page.textContent("#project")));
  await setYaml(MANIFEST("/items"));

  // A save that fails: manifest.yaml cannot be written (here a directory in
  // its place; a read-only directory does not stop root).
  fs.mkdirSync(path.join(wsDir, "shop", "manifest.yaml"));
  await page.click("#save");
  await page.waitForFunction(() => document.getElementById("save-state").dataset.state === "error");
  const failed = await page.textContent("#save-state");
  check("save status: error shown", /^not saved: .*manifest\.yaml/.test(failed), failed);
  await shot(page, "save-error");
  fs.rmdirSync(path.join(wsDir, "shop", "manifest.yaml"));
  await page.click("#save");
  await page.waitForFunction(() => /saved \(version 1\)/.test(document.getElementById("save-state").textContent));
  check("save status: saved after the error", true);

  // Publish twice; the second is active; then make the first active again.
  answer = "source-shop";
  describe = "first cut";
  await page.click("#publish");
  await statusIs(/published to|error|not published/);
  describe = "";
  await setYaml(MANIFEST("/items2"));
  await page.click("#save");
  await page.waitForFunction(() => /saved \(version 2\)/.test(document.getElementById("save-state").textContent));
  // As `sluice bump` would between two releases.
  const meta = path.join(repo, "connectors", "source-shop", "metadata.yaml");
  fs.writeFileSync(meta, fs.readFileSync(meta, "utf8").replace(/dockerImageTag: .*/, "dockerImageTag: 0.2.0"));
  answer = "source-shop";
  await page.evaluate(() => { document.getElementById("status").textContent = ""; });
  await page.click("#publish");
  await statusIs(/published to|error|not published/);
  answer = null;
  check("workspace: published twice", /published to .*source-shop$/.test(await page.textContent("#status")));
  await page.click("#show-versions");
  await page.waitForSelector('#published li[data-published="2"] [data-active]');
  check("published versions listed, the newest active", (await page.$$("#published li[data-published]")).length === 2);
  check("published version described", / — first cut /.test(await page.textContent('#published li[data-published="1"]')) &&
    !/first cut/.test(await page.textContent('#published li[data-published="2"]')), await page.textContent("#published"));
  await page.click('#published button[data-activate="1"]');
  await statusIs(/version 1 is active|error/);
  await page.waitForSelector('#published li[data-published="1"] [data-active]');
  const conn = fs.readFileSync(path.join(repo, "connectors", "source-shop", "manifest.yaml"), "utf8");
  const tag = (fs.readFileSync(meta, "utf8").match(/dockerImageTag: (.*)/) || [])[1];
  check("active version written to connectors/ and metadata.yaml", /path: \/items\n/.test(conn) && tag === "0.1.0", `${tag} ${conn.slice(0, 80)}`);
  await shot(page, "published-versions");
  // A published version loaded as the draft.
  // Every status shown is kept: the draft's auto-save may replace the message
  // before it is read (seen under ASan).
  await page.evaluate(() => {
    const el = document.getElementById("status");
    window.statusSeen = [];
    new MutationObserver(() => window.statusSeen.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await page.click('#published button[data-load-published="1"]');
  await page.waitForFunction(() => /path: \/items\n/.test(document.getElementById("yaml").value));
  check("published version loaded as the draft",
    await page.waitForFunction(() => window.statusSeen.some((t) => /published version 1 loaded/.test(t))).then(() => true, () => false),
    await page.evaluate(() => window.statusSeen.join(" | ")));

  // The list: no draft badge once published, the active version.
  await toList();
  check("project list: active version", /^v1 \(source-shop 0\.1\.0\)$/.test(await cell("shop", "active")), await cell("shop", "active"));
  check("project list: published has no draft badge", !(await page.$('#projects tr[data-project="shop"] [data-badge=draft]')));
  check("project list: last updated", (await cell("shop", "updated")).length > 0);

  // Fork a project at a saved version; fork a catalog connector; import a file.
  await create("shop-v1", "project", async () => {
    await page.selectOption("#new-project-source", "shop");
    await page.fill("#new-project-version", "1");
  });
  check("fork a project at a version", /path: \/items\n/.test(await page.inputValue("#yaml")));
  await toList();
  await create("from-catalog", "connector", () => page.selectOption("#new-project-connector", "source-shop"));
  check("fork a catalog connector", /path: \/items\n/.test(await page.inputValue("#yaml")));
  await toList();
  await create("imported", "file", () => page.setInputFiles("#new-project-file", { name: "m.yaml", mimeType: "application/yaml", buffer: Buffer.from(MANIFEST("/imp")) }));
  check("new project from a YAML file", /path: \/imp\n/.test(await page.inputValue("#yaml")));
  await toList();
  check("project list: draft badge and forked from",
    !!(await page.$('#projects tr[data-project="shop-v1"] [data-badge=draft]')) && (await cell("shop-v1", "forked")) === "project shop at version 1" &&
    /^connector source-shop/.test(await cell("from-catalog", "forked")), await cell("shop-v1", "forked"));
  await shot(page, "projects");

  // Delete: refused once published (as Airbyte), done for a draft.
  answer = true;
  await page.click('button[data-delete="shop"]');
  await statusIs(/cannot be deleted|deleted/);
  check("delete refused once published", /published as source-shop .*cannot be deleted/.test(await page.textContent("#status")) && !!(await row("shop")));
  await page.click('button[data-delete="shop-v1"]');
  await statusIs(/shop-v1 deleted/);
  await page.waitForFunction(() => !document.querySelector('#projects tr[data-project="shop-v1"]'));
  check("draft project deleted", !fs.existsSync(path.join(wsDir, "shop-v1")));
  answer = null;

  // Two tabs on one project: the later save warns instead of overwriting.
  const other = await browser.newPage();
  other.on("dialog", (d) => d.dismiss());
  await other.goto(`${wsUrl}?project=imported`);
  await other.waitForFunction(() => S.resolved !== undefined);
  await page.goto(`${wsUrl}?project=imported`);
  await page.waitForFunction(() => S.resolved !== undefined);
  await setYaml(MANIFEST("/tab1"));
  await page.click("#save");
  await page.waitForFunction(() => /saved \(version/.test(document.getElementById("save-state").textContent));
  await other.click("#mode-yaml");
  await other.fill("#yaml", MANIFEST("/tab2"));
  await other.waitForFunction((t) => S.resolved === t, MANIFEST("/tab2"));
  await other.click("#save");
  await other.waitForFunction(() => document.getElementById("save-state").dataset.state === "error");
  check("workspace: two tabs, the later save warns", /changed elsewhere/.test(await other.textContent("#save-state")) &&
    /path: \/tab1/.test(fs.readFileSync(path.join(wsDir, "imported", "manifest.yaml"), "utf8")));
  await other.close();
  check("workspace: no page errors", errors.length === 0, errors.join("; "));
  await page.close();
  return lastDialog;
};
