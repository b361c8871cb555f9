// End-to-end test of the builder page in Debian's chromium (playwright-core):
// build a connector from nothing against the mock API in the form, test it,
// inspect a request, take the inferred schema, go through YAML and back
// (including a broken edit), save. Screenshots of the main views go to the
// artefact directory.
//
//   node e2e.js BUILDER_URL MOCK_URL ARTEFACT_DIR
"use strict";
const { chromium } = require("playwright-core");
const path = require("path");

const [builderUrl, mockUrl, artefacts] = process.argv.slice(2);
let failed = 0;
function check(name, ok, detail) {
  if (ok) console.log(`ok   ${name}`);
  else { failed++; console.log(`FAIL ${name}: ${detail || ""}`); }
}
const shot = (page, name) => page.screenshot({ path: path.join(artefacts, `${name}.png`), fullPage: true });

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.setDefaultTimeout(15000);
  try {
    await page.goto(builderUrl);
    // A new project opens in the form.
    await page.waitForSelector("#form-pane:not([hidden]) #global");
    check("new project opens the form", true);
    await page.fill("#global input[name=url_base]", mockUrl + "/api");
    // A user input: api_key, secret.
    await page.fill("input[name=new_input]", "api_key");
    await page.click("#add-input");
    await page.check('[data-input="api_key"] input[name=input_secret]');
    // Authentication: API key in a header.
    await page.selectOption("#global select[name=auth_type]", "ApiKeyAuthenticator");
    await page.fill("#global input[name=auth_field_name]", "X-Api-Key");
    // A stream with pagination and an incremental cursor.
    await page.fill("input[name=new_stream]", "users");
    await page.click("#add-stream");
    const st = '[data-stream="users"]';
    await page.fill(`${st} input[name=path]`, "/users");
    await page.fill(`${st} input[name=field_path]`, "data");
    await page.fill(`${st} input[name=primary_key]`, "id");
    await page.selectOption(`${st} select[name=paginator]`, "PageIncrement");
    await page.fill(`${st} input[name=page_size]`, "2");
    await page.selectOption(`${st} select[name=incremental]`, "DatetimeBasedCursor");
    await page.fill(`${st} input[name=start_datetime]`, "2024-01-01T00:00:00Z");
    await shot(page, "form");
    // The form went to YAML through the server.
    await page.waitForFunction(() => document.getElementById("yaml").value.includes("DatetimeBasedCursor"));
    const yaml = await page.inputValue("#yaml");
    check("form -> yaml: auth", /ApiKeyAuthenticator/.test(yaml) && /X-Api-Key/.test(yaml), yaml);
    check("form -> yaml: pagination", /PageIncrement/.test(yaml) && /page_size: 2/.test(yaml), yaml);
    check("form -> yaml: cursor", /cursor_field: updated_at/.test(yaml), yaml);
    check("form -> yaml: secret input", /airbyte_secret: true/.test(yaml), yaml);
    // Testing values: generated from the spec; the secret is a password field.
    await page.click("#inputs-box summary");
    await page.waitForSelector("#inputs input[name=api_key]");
    check("testing value is masked", (await page.getAttribute("#inputs input[name=api_key]", "type")) === "password");
    await page.fill("#inputs input[name=api_key]", "s3cr3t-key");
    await page.click("#save-inputs");
    await page.waitForFunction(() => /testing values kept/.test(document.getElementById("status").textContent));
    // Test read.
    await page.click("#test");
    await page.waitForSelector("#summary");
    const summary = await page.textContent("#summary");
    const testError = await page.$("#test-error");
    check("test read shows records", /^3 records/.test(summary), summary + (testError ? " / " + (await testError.textContent()) : ""));
    check("records table", (await page.$$("#tab-body table.records tr")).length === 3);
    await shot(page, "test-records");
    await page.click('.tabs button[data-tab="request"]');
    const req = await page.textContent("#tab-body");
    check("request shown, key masked", /GET http:\/\/127\.0\.0\.1:\d+\/api\/users/.test(req) && req.includes("**********") && !req.includes("s3cr3t-key"), req);
    await shot(page, "test-request");
    await page.click('.tabs button[data-tab="response"]');
    check("response shown", /HTTP 200/.test(await page.textContent("#tab-body")));
    // Incremental: the final state becomes the next test's input state.
    await page.click('.tabs button[data-tab="state"]');
    await page.click("#use-state");
    const stateText = await page.inputValue("#input-state");
    check("state after the read", /"updated_at":"2024-02-03T00:00:00Z"/.test(stateText), stateText);
    await page.click("#test");
    await page.waitForFunction(() => document.getElementById("status").textContent !== "testing users…");
    await page.click('.tabs button[data-tab="request"]');
    const req2 = await page.textContent("#tab-body");
    check("input state moves the start", /since=2024-02-03T00%3A00%3A00Z/.test(req2), req2);
    await shot(page, "test-state");
    // Schema: take the inferred one.
    await page.click('.tabs button[data-tab="schema"]');
    check("schema diff lists new fields", /name: added/.test(await page.textContent("#schema-diff")));
    await shot(page, "schema");
    await page.click("#merge-schema");
    await page.waitForFunction(() => /updated_at:\s*\n\s*type:/.test(document.getElementById("yaml").value));
    check("new properties merged into the schema", true);
    await page.click("#use-schema");
    await page.waitForFunction(() => /name:\s*\n\s*type:\s*\n\s*- "null"/.test(document.getElementById("yaml").value));
    check("inferred schema taken", true);
    // YAML mode: a broken edit shows its line, the last good manifest stays.
    await page.click("#mode-yaml");
    const good = await page.inputValue("#yaml");
    await page.fill("#yaml", good.replace("primary_key:", "primary_key: [oops"));
    await page.waitForSelector("#yaml-error:not([hidden])");
    const msg = await page.textContent("#yaml-error");
    check("invalid YAML located", /^line \d+, column \d+: /.test(msg), msg);
    await shot(page, "yaml-error");
    await page.click("#mode-form");
    check("form refused while YAML is broken", await page.isHidden("#form-pane"));
    await page.fill("#yaml", good.replace("path: /users", "path: /users2"));
    await page.waitForSelector("#yaml-error", { state: "hidden" });
    check("test marked stale after an edit", await page.isVisible("#stale"));
    await page.click("#mode-form");
    check("yaml -> form keeps edits", (await page.inputValue(`${st} input[name=path]`)) === "/users2");
    // Save, then a second tab with the old version is warned.
    await page.click("#save");
    await page.waitForFunction(() => /saved/.test(document.getElementById("status").textContent));
    const page2 = await browser.newPage();
    await page2.goto(builderUrl);
    await page2.waitForSelector("#yaml-pane:not([hidden])");
    await page.fill(`${st} input[name=path]`, "/users3");
    await page.waitForFunction(() => document.getElementById("yaml").value.includes("/users3"));
    await page.click("#save");
    await page.waitForFunction(() => /saved \(version 2\)/.test(document.getElementById("status").textContent));
    let dialog = "";
    page2.on("dialog", (d) => { dialog = d.message(); d.dismiss(); });
    await page2.click("#save");
    await page2.waitForFunction(() => /not saved/.test(document.getElementById("status").textContent));
    check("stale tab warned on save", /saved elsewhere/.test(dialog), dialog);
    await page.click("#show-versions");
    await page.click('[data-version="1"]');
    // The diff is fetched after the click: wait for it (bounded), then check.
    await page.waitForFunction(() => /\/users3/.test(document.getElementById("version-diff").textContent),
                               null, { timeout: 15000 }).catch(() => {});
    const diff = await page.textContent("#version-diff");
    check("version diff", diff.includes("- ") && diff.includes("/users3"), diff);
    await shot(page, "versions");
    await page.click("#close-versions");
    // Publish into connectors/source-people/.
    page.once("dialog", (d) => d.accept("source-people"));
    await page.click("#publish");
    await page.waitForFunction(() => /published to|error/.test(document.getElementById("status").textContent));
    const pub = await page.textContent("#status");
    check("published", /published to .*\/connectors\/source-people$/.test(pub), pub);
    check("no page errors", errors.length === 0, errors.join("; "));
  } catch (e) {
    failed++;
    console.log(`FAIL builder page: ${e.message.split("\n")[0]}`);
    await shot(page, "failure").catch(() => {});
  }
  await browser.close();
  process.exit(failed ? 1 : 0);
})();
