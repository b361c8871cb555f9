// End-to-end test of the builder page in Debian's chromium (playwright-core):
// build a connector from nothing against the mock API in the form, test it,
// inspect a request, take the inferred schema, go through YAML and back
// (including a broken edit), save. Screenshots of the main views go to the
// artefact directory.
//
//   node e2e.js BUILDER_URL MOCK_URL ARTEFACT_DIR OAUTH_URL [WORKSPACE_URL WORKSPACE_DIR REPO]
// (OAUTH_URL: tests/mock/mock_oauth.py for client cid, secret csecret-page;
// WORKSPACE_*: a `sluice builder --workspace` server, its directory and the
// repository it publishes into, for workspace.js)
"use strict";
const { chromium } = require("playwright-core");
const path = require("path");

const [builderUrl, mockUrl, artefacts, oauthUrl, wsUrl, wsDir, wsRepo] = process.argv.slice(2);
let failed = 0;
function check(name, ok, detail) {
  if (ok) console.log(`ok   ${name}`);
  else { failed++; console.log(`FAIL ${name}: ${detail || ""}`); }
}
// The YAML text once it matches re (form edits reach it after a pause), or as it is after 15 s.
async function yamlWhen(page, re) {
  await page.waitForFunction((src) => new RegExp(src).test(document.getElementById("yaml").value), re.source, { timeout: 60000 }).catch(() => {});
  return page.inputValue("#yaml");
}
const shot = (page, name) => page.screenshot({ path: path.join(artefacts, `${name}.png`), fullPage: true });

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
  // The workspace part (workspace.js) runs beside the main flow in its own
  // pages: both mostly wait on the page's pauses.
  const wsDone = wsUrl ? require("./workspace.js")(browser, { wsUrl, wsDir, repo: wsRepo, check, shot }).catch(async (e) => {
    failed++;
    console.log(`FAIL workspace: ${e.message.split("\n")[0]}`);
  }) : null;
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.setDefaultTimeout(60000); // a bound for slow (ASan, loaded) machines, not a timing check
  try {
    await page.goto(builderUrl);
    // A new project opens in the form.
    await page.waitForSelector("#form-pane:not([hidden]) #global");
    check("new project opens the form", true);
    await page.fill("#global input[name=url_base]", mockUrl + "/api");
    // User inputs: the OAuth client, its secret masked.
    for (const n of ["client_id", "client_secret"]) {
      await page.fill("input[name=new_input]", n);
      await page.click("#add-input");
    }
    await page.check('[data-input="client_secret"] input[name=input_secret]');
    // The rest of an input's schema: display name, hint, placeholder.
    await page.click('[data-input-more="client_id"] summary');
    await page.fill('[data-input-more="client_id"] input[name=input_title]', "Client ID");
    await page.fill('[data-input-more="client_id"] input[name=input_description]', "from the app settings");
    await page.fill('[data-input-more="client_id"] input[name=input_examples]', "abc123");
    // Authentication: OAuth client credentials, through the OAuth fields.
    await page.selectOption("#global select[name=auth_type]", "OAuthAuthenticator");
    await page.fill("#global input[name=oauth_token_refresh_endpoint]", mockUrl + "/oauth/token");
    await page.selectOption("#global select[name=oauth_grant_type]", "client_credentials");
    await page.fill("#global input[name=oauth_scopes]", "read, users");
    await page.fill("#global textarea[name=oauth_refresh_request_body]", "audience: api");
    await shot(page, "form-oauth");
    // A stream with pagination, an incremental cursor, a partition router and a transformation.
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
    await page.fill(`${st} input[name=lookback_window]`, "P1D");
    await page.selectOption(`${st} select[name=partition_router]`, "ListPartitionRouter");
    await page.fill(`${st} input[name=list_cursor_field]`, "team");
    await page.fill(`${st} input[name=list_values]`, "a, b");
    await page.selectOption(`${st} select[name=list_request_option]`, "request_parameter");
    await page.fill(`${st} input[name=list_request_option_name]`, "team");
    await page.selectOption(`${st} [data-list=transformations] select[name=transformations_new]`, "AddFields");
    await page.click(`${st} [data-list=transformations] button[name=transformations_add]`);
    await page.fill(`${st} [data-list=add_fields] input[name=add_path]`, "source");
    await page.fill(`${st} [data-list=add_fields] input[name=add_value]`, "mock");
    await page.selectOption(`${st} select[name=error_handler]`, "DefaultErrorHandler");
    await page.fill(`${st} [data-list=filters] input[name=filter_http_codes]`, "404, 410");
    await page.selectOption(`${st} [data-list=backoffs] select[name=backoffs_new]`, "WaitTimeFromHeader");
    await page.click(`${st} [data-list=backoffs] button[name=backoffs_add]`);
    await shot(page, "form");
    // The form went to YAML through the server.
    await page.waitForFunction(() => /WaitTimeFromHeader/.test(document.getElementById("yaml").value) &&
                               /410/.test(document.getElementById("yaml").value));
    const yaml = await page.inputValue("#yaml");
    check("form -> yaml: oauth", /OAuthAuthenticator/.test(yaml) && /grant_type: client_credentials/.test(yaml) &&
          /scopes:\s*\n\s*- read\s*\n\s*- users/.test(yaml) && /audience: api/.test(yaml), yaml);
    check("form -> yaml: pagination", /PageIncrement/.test(yaml) && /page_size: 2/.test(yaml), yaml);
    check("form -> yaml: cursor", /cursor_field: updated_at/.test(yaml) && /lookback_window: P1D/.test(yaml), yaml);
    check("form -> yaml: partition router", /ListPartitionRouter/.test(yaml) && /cursor_field: team/.test(yaml) && /field_name: team/.test(yaml), yaml);
    check("form -> yaml: transformation", /AddFields/.test(yaml) && /value: mock/.test(yaml), yaml);
    check("form -> yaml: error handler", /DefaultErrorHandler/.test(yaml) && /- 410/.test(yaml) && /header: Retry-After/.test(yaml), yaml);
    check("form -> yaml: secret input", /airbyte_secret: true/.test(yaml), yaml);
    check("form -> yaml: input display name, hint, placeholder", /title: Client ID/.test(yaml) && /description: from the app settings/.test(yaml) &&
          /examples:\s*\n\s*- abc123/.test(yaml), yaml);
    // Testing values: generated from the spec; the secret is a password field.
    await page.click("#inputs-box summary");
    await page.waitForSelector("#inputs input[name=client_secret]");
    check("testing value is masked", (await page.getAttribute("#inputs input[name=client_secret]", "type")) === "password");
    await page.fill("#inputs input[name=client_id]", "cid");
    await page.fill("#inputs input[name=client_secret]", "csecret-page");
    await page.click("#save-inputs");
    await page.waitForFunction(() => /testing values kept/.test(document.getElementById("status").textContent));
    // Test read: a token request, then two partitions (teams a and b), pages of two.
    check("untested stream marked", /not tested since their last change: users$/.test(await page.textContent("#untested")));
    await page.click("#test");
    await page.waitForSelector("#summary");
    check("tested stream no longer marked", await page.isHidden("#untested"));
    const summary = await page.textContent("#summary");
    const testError = await page.$("#test-error");
    check("test read shows records", /^4 records in 2 slice/.test(summary), summary + (testError ? " / " + (await testError.textContent()) : ""));
    check("records table", (await page.$$("#tab-body table.records tr")).length === 3);
    check("transformation applied", /source/.test(await page.textContent("#tab-body table.records tr")) &&
          /mock/.test(await page.textContent("#tab-body table.records")));
    await shot(page, "test-records");
    await page.click("#records-view");
    const asJson = JSON.parse(await page.textContent("#tab-body pre"));
    check("records as JSON", Array.isArray(asJson) && asJson.length === 2 && asJson[0].source === "mock", JSON.stringify(asJson));
    await page.click("#records-view");
    await page.click('.tabs button[data-tab="request"]');
    const req = await page.textContent("#tab-body");
    check("request shown, token masked", /GET http:\/\/127\.0\.0\.1:\d+\/api\/users\?.*team=a/.test(req) && req.includes("**********") && !req.includes("atok-page"), req);
    await shot(page, "test-request");
    await page.click('.tabs button[data-tab="other"]');
    const other = await page.textContent("#tab-body");
    check("token request shown, secret masked", /oauth\/token/.test(other) && /grant_type=client_credentials/.test(other) &&
          !other.includes("csecret-page"), other);
    await page.click('.tabs button[data-tab="response"]');
    check("response shown", /HTTP 200/.test(await page.textContent("#tab-body")));
    await page.selectOption("#slice", "1");
    await page.click('.tabs button[data-tab="request"]');
    check("second partition", /team=b/.test(await page.textContent("#tab-body")));
    await page.selectOption("#slice", "0");
    // "Test authentication": one authenticated request, its token request first, secrets masked.
    await page.click("#test-auth");
    await page.waitForSelector("#auth-verdict");
    const authText = await page.textContent("#auth-result");
    check("test authentication", /^authenticated: HTTP 200/.test(await page.textContent("#auth-verdict")) && /oauth\/token/.test(authText) &&
          /GET http:\/\/127\.0\.0\.1:\d+\/api\/users/.test(authText) && !authText.includes("csecret-page") && !authText.includes("atok-page"), authText);
    await shot(page, "test-auth");
    // Incremental: the final state becomes the next test's input state.
    await page.click('.tabs button[data-tab="state"]');
    await page.click("#use-state");
    const stateText = await page.inputValue("#input-state");
    check("state after the read", /"team":"a"/.test(stateText) && /"updated_at":"2024-02-03T00:00:00Z"/.test(stateText), stateText);
    // The second test read by the keyboard shortcut (the request below shows it ran),
    // with the inferred schema imported automatically.
    await page.check("#auto-schema");
    await page.keyboard.press("Control+Enter");
    const auto = await yamlWhen(page, /name:\s*\n\s*type:\s*\n\s*- "null"\s*\n\s*- string/);
    check("schema auto-imported", /name:\s*\n\s*type:\s*\n\s*- "null"\s*\n\s*- string/.test(auto), auto);
    await page.uncheck("#auto-schema");
    await page.waitForFunction(() => document.getElementById("status").textContent !== "testing users…");
    await page.click('.tabs button[data-tab="request"]');
    const req2 = await page.textContent("#tab-body");
    check("input state moves the start (less the lookback)", /since=2024-02-02T00%3A00%3A00Z/.test(req2), req2);
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
    // Comments written in YAML mode survive form edits (the server edits the text in place).
    await page.click("#mode-yaml");
    const withComments = "# people of the mock API\n" + (await page.inputValue("#yaml")).replace("path: /users2", "path: /users2  # the people endpoint");
    await page.fill("#yaml", withComments);
    // The text is parsed after a pause in typing: wait (bounded) until the page has this text's manifest.
    await page.waitForFunction((t) => S.resolved === t, withComments);
    await page.click("#mode-form");
    await page.fill(`${st} input[name=page_size]`, "3");
    await page.waitForFunction(() => /page_size: 3/.test(document.getElementById("yaml").value));
    await page.click("#mode-yaml");
    const after = await page.inputValue("#yaml");
    check("yaml comments kept through a form edit", after.startsWith("# people of the mock API\n") &&
          after.includes("path: /users2  # the people endpoint") && after.includes("page_size: 3"), after);
    await shot(page, "yaml-comments");
    await page.click("#mode-form");
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
                               null, { timeout: 60000 }).catch(() => {});
    const diff = await page.textContent("#version-diff");
    check("version diff", diff.includes("- ") && diff.includes("/users3"), diff);
    await shot(page, "versions");
    await page.click("#close-versions");
    // Loading a saved version makes it the draft; Undo takes it back.
    await page.click("#show-versions");
    await page.click('[data-load-version="1"]');
    let yv = await yamlWhen(page, /^(?![^]*\/users3)/);
    check("version loaded as the draft", /path: \/users2/.test(yv) && !/\/users3/.test(yv), yv);
    await page.keyboard.press("Control+z");
    yv = await yamlWhen(page, /\/users3/);
    check("version load undone", /\/users3/.test(yv), yv);
    // Publish into connectors/source-people/.
    // Publishing asks for the name, then to confirm: the stream changed since its last test.
    let untestedMsg = "";
    const onDialog = (d) => { if (d.type() === "confirm") { untestedMsg = d.message(); d.accept(); } else d.accept("source-people"); };
    page.on("dialog", onDialog);
    await page.click("#publish");
    await page.waitForFunction(() => /published to|error/.test(document.getElementById("status").textContent));
    const pub = await page.textContent("#status");
    check("published", /published to .*\/connectors\/source-people$/.test(pub), pub);
    page.off("dialog", onDialog);
    check("publish warns of untested streams", /^Not tested since their last change: users\./.test(untestedMsg), untestedMsg);
    // User inputs are offered as {{ config[...] }} suggestions in text fields.
    const refs = await page.$$eval("#config-refs option", (o) => o.map((x) => x.value));
    check("config picker", refs.includes("{{ config['client_id'] }}") && refs.includes("{{ config['client_secret'] }}"), refs.join(" "));
    // Other components in the form (not tested against the mock: the YAML they make is checked).
    await page.fill("input[name=new_stream]", "users");
    await page.click("#add-stream");
    await page.waitForFunction(() => /exists already/.test(document.getElementById("status").textContent));
    check("duplicate stream name refused", true);
    await page.fill("input[name=new_stream]", "teams");
    await page.selectOption("select[name=copy_stream]", "0");
    await page.click("#add-stream");
    const tm = '[data-stream="teams"]';
    await page.waitForSelector(tm);
    check("stream copied", (await page.inputValue(`${tm} input[name=path]`)) === (await page.inputValue(`${st} input[name=path]`)));
    await page.fill(`${tm} input[name=path]`, "/teams");
    // The GraphQL query editor: checked by the reference parser as typed, written as RequestBodyGraphQL.
    const gq = `${tm} textarea[name=graphql_query]`, gqOut = `${tm} [data-graphql-check]`;
    await page.fill(gq, "query { items(first: 10) { id name }");
    await page.waitForFunction((s) => /line \d+, column \d+/.test(document.querySelector(s).textContent), gqOut);
    const gqErr = await page.textContent(gqOut);
    check("GraphQL: syntax error at its line and column", /^line 1, column 37: Expected Name, found <EOF>/.test(gqErr), gqErr);
    await page.fill(gq, "query {\n  items(first: {{ config['page_size'] }}) {\n    id\n  }\n}");
    await page.waitForFunction((s) => document.querySelector(s).textContent === "valid GraphQL", gqOut);
    const gy = await yamlWhen(page, /RequestBodyGraphQL[^]*query: /);
    check("GraphQL: query written as RequestBodyGraphQL", /request_body:\s*\n\s*type: RequestBodyGraphQL\s*\n\s*value:\s*\n\s*query: /.test(gy), gy);
    // Until the engine runs typed bodies it refuses them, located; once it does, no error.
    await page.waitForFunction(() => S.resolved === document.getElementById("yaml").value);
    const gErr = (await page.isHidden("#yaml-error")) ? "" : await page.textContent("#yaml-error");
    check("GraphQL: the engine's verdict", gErr === "" || /:\d+:\d+ .*request_body: RequestBodyGraphQL is not supported yet/.test(gErr), gErr);
    await page.locator(tm).screenshot({ path: path.join(artefacts, "graphql.png") });
    await page.fill(gq, "");
    await yamlWhen(page, /^(?![^]*RequestBodyGraphQL)/);
    await page.selectOption(`${tm} select[name=partition_router]`, "SubstreamPartitionRouter");
    await page.selectOption(`${tm} [data-list=parents] select[name=parent_stream]`, "users");
    await page.fill(`${tm} [data-list=parents] input[name=partition_field]`, "user_id");
    await page.selectOption(`${tm} [data-list=parents] select[name=parent_request_option]`, "request_parameter");
    let y = await yamlWhen(page, /partition_field: user_id[^]*field_name: parent_id/);
    check("substream router: parent by name", /stream:\s*\n\s*"?\$ref"?: "?#\/definitions\/streams\/users"?/.test(y) && /^- "?\$ref"?: "?#\/definitions\/streams\/users"?/m.test(y) && /parent_key: id/.test(y) && /path: \/teams/.test(y), y);
    // One component as YAML inside the form: the rest stays a form; a broken text shows its
    // line and keeps the last good value; back to the form once it parses.
    const pagPart = 'textarea[name="part_teams/paginator"]';
    await page.click(`${tm} button[name="yaml_teams/paginator"]`);
    await page.waitForFunction((sel) => /PageIncrement/.test((document.querySelector(sel) || {}).value || ""), pagPart);
    check("component YAML: shown in place", await page.isVisible(`${tm} input[name=path]`) && !(await page.$(`${tm} select[name=paginator]`)));
    const pagYaml = await page.inputValue(pagPart);
    await page.fill(pagPart, pagYaml.replace("page_size: 3", "page_size: [7"));
    await page.waitForSelector(`${tm} .part-error:not([hidden])`);
    const partErr = await page.textContent(`${tm} .part-error`);
    check("component YAML: error at its line", /^line \d+, column \d+: /.test(partErr) && !/component\.yaml/.test(partErr), partErr);
    await shot(page, "component-yaml-error");
    await page.click(`${tm} button[name="yaml_teams/paginator"]`);
    check("component YAML: stays while broken", await page.isVisible(pagPart) && /does not parse/.test(await page.textContent("#status")));
    y = await page.inputValue("#yaml");
    check("component YAML: last good value kept", !/page_size: \[?7/.test(y) && (y.match(/page_size: 3/g) || []).length === 2, y);
    await page.fill(pagPart, pagYaml.replace("page_size: 3", "page_size: 7").replace(/\n$/, "\n# seven per page\n"));
    y = await yamlWhen(page, /page_size: 7/);
    check("component YAML: valid edit applied", /page_size: 7/.test(y) && (y.match(/page_size: 3/g) || []).length === 1, y);
    await page.click(`${tm} button[name="yaml_teams/paginator"]`);
    await page.waitForSelector(`${tm} select[name=paginator]`);
    check("component YAML: back to the form, nothing lost", (await page.inputValue(`${tm} input[name=page_size]`)) === "7");
    // A component the form has no fields for (a list of partition routers) is edited the same way.
    await page.click(`${tm} button[name="yaml_teams/router"]`);
    await page.waitForFunction(() => /SubstreamPartitionRouter/.test((document.querySelector('textarea[name="part_teams/router"]') || {}).value || ""));
    const routerYaml = await page.inputValue('textarea[name="part_teams/router"]');
    await page.fill('textarea[name="part_teams/router"]', "- type: ListPartitionRouter\n  cursor_field: kind\n  values: [x, y]\n" +
                    routerYaml.replace(/^/gm, "  ").replace(/^  type/, "- type"));
    y = await yamlWhen(page, /cursor_field: kind/);
    check("component YAML: what the form cannot show", /partition_router:\s*\n\s*- type: ListPartitionRouter/.test(y) && /SubstreamPartitionRouter/.test(y), y);
    await page.click(`${tm} button[name="yaml_teams/router"]`);
    check("component YAML: the form says YAML only", /a list of routers/.test(await page.textContent(`${tm} [data-part="teams/router"]`)));
    await shot(page, "component-yaml");
    // Undo and redo (buttons and keys) over form and YAML edits; the draft is auto-saved.
    await page.click("#undo");
    y = await yamlWhen(page, /^(?![^]*cursor_field: kind)/);
    check("undo: the router edit", !/cursor_field: kind/.test(y) && /page_size: 7/.test(y), y);
    await page.keyboard.press("Control+z");
    y = await yamlWhen(page, /^(?![^]*page_size: 7)/);
    check("undo (Ctrl+Z): the component YAML edit", !/page_size: 7/.test(y), y);
    await page.keyboard.press("Control+Shift+Z");
    y = await yamlWhen(page, /page_size: 7/);
    check("redo (Ctrl+Shift+Z)", /page_size: 7/.test(y) && !/cursor_field: kind/.test(y), y);
    await page.waitForFunction((sel) => (document.querySelector(sel) || {}).value === "7", `${tm} input[name=page_size]`).catch(() => {});
    check("form follows undo/redo", (await page.inputValue(`${tm} input[name=page_size]`)) === "7");
    await page.waitForFunction(() => document.getElementById("save-state").dataset.state === "draft");
    check("save status: draft saved", /draft saved/.test(await page.textContent("#save-state")));
    const page3 = await browser.newPage();
    await page3.goto(builderUrl);
    await page3.waitForFunction(() => /page_size: 7/.test(document.getElementById("yaml").value));
    check("draft restored in a new tab", /unsaved draft restored/.test(await page3.textContent("#save-state")));
    await page3.close();
    // The declared schema too (no form for it): a property added in its YAML.
    const schemaPart = 'textarea[name="part_teams/schema"]';
    await page.click(`${tm} button[name="yaml_teams/schema"]`);
    await page.waitForFunction((sel) => /InlineSchemaLoader/.test((document.querySelector(sel) || {}).value || ""), schemaPart);
    await page.fill(schemaPart, (await page.inputValue(schemaPart)).replace(/properties:\n/, "properties:\n    team_size: {type: integer}\n"));
    y = await yamlWhen(page, /team_size/);
    await page.click(`${tm} button[name="yaml_teams/schema"]`);
    check("component YAML: the declared schema", /team_size:\s*\n\s*type: integer/.test(y) && /team_size/.test(await page.textContent(`${tm} [data-part="teams/schema"]`)), y);
    // The parent stream is referenced by name: renaming it keeps the link.
    await page.fill(`${st} input[name=stream_name]`, "people");
    await yamlWhen(page, /name: people/);
    await page.click("#mode-yaml");
    await page.click("#mode-form");
    check("parent by name survives a rename", (await page.inputValue(`${tm} select[name=parent_stream]`)) === "people" &&
          /"?\$ref"?: "?#\/definitions\/streams\/users"?/.test(await page.inputValue("#yaml")));
    await page.selectOption("#global select[name=auth_type]", "SessionTokenAuthenticator");
    await page.fill("#global input[name=login_path]", "/session");
    await page.fill("#global input[name=session_session_token_path]", "data, token");
    y = await yamlWhen(page, /session_token_path:\s*\n\s*- data/);
    check("session token auth", /SessionTokenAuthenticator/.test(y) && /session_token_path:\s*\n\s*- data\s*\n\s*- token/.test(y) &&
          /login_requester/.test(y) && /field_name: X-Session-Token/.test(y), y);
    await shot(page, "form-session");
    await page.selectOption("#global select[name=auth_type]", "JwtAuthenticator");
    await page.selectOption("#global select[name=jwt_algorithm]", "HS512");
    await page.fill("#global textarea[name=jwt_jwt_payload]", '{"iss": "sluice"}');
    await page.waitForFunction(() => /algorithm: HS512/.test(document.getElementById("yaml").value) && /iss: sluice/.test(document.getElementById("yaml").value));
    check("JWT auth", true);
    await page.selectOption("#global select[name=auth_type]", "SelectiveAuthenticator");
    await page.fill("#global input[name=selective_new]", "basic");
    await page.click("#global button[name=selective_add]");
    await page.selectOption('#global [data-choice="basic"] select[name=sel_basic_auth_type]', "BasicHttpAuthenticator");
    y = await yamlWhen(page, /BasicHttpAuthenticator/);
    check("selective auth", /SelectiveAuthenticator/.test(y) && /authenticator_selection_path:\s*\n\s*- auth_type/.test(y) &&
          /api_key:\s*\n\s*type: BearerAuthenticator/.test(y) && /basic:\s*\n\s*type: BasicHttpAuthenticator/.test(y), y);
    await shot(page, "form-selective");
    // Everything the form made still resolves (no manifest errors).
    check("manifest valid", await page.isHidden("#yaml-error"), await page.textContent("#yaml-error"));
    // "Authenticate your account for testing": declarative OAuth in the spec, the consent in a
    // new tab, the tokens back in the testing values (not in the manifest).
    await page.click("#mode-yaml");
    const withOAuth = (await page.inputValue("#yaml")).replace(/^spec:\n  type: Spec\n/m, `spec:
  type: Spec
  advanced_auth:
    auth_flow_type: oauth2.0
    oauth_config_specification:
      oauth_connector_input_specification:
        consent_url: "${oauthUrl}/authorize?{{ client_id_key }}={{ client_id_value }}&{{ redirect_uri_key }}={{ redirect_uri_value | urlEncoder }}&{{ state_key }}={{ state_value }}"
        access_token_url: "${oauthUrl}/token"
        access_token_params:
          code: "{{ auth_code_value }}"
          client_id: "{{ client_id_value }}"
          client_secret: "{{ client_secret_value }}"
          redirect_uri: "{{ redirect_uri_value }}"
        extract_output: [access_token, refresh_token]
`);
    await page.fill("#yaml", withOAuth);
    await page.waitForFunction((t) => S.resolved === t, withOAuth);
    await page.click("#mode-form");
    const popup = page.waitForEvent("popup");
    await page.click("#oauth-consent");
    await (await popup).waitForLoadState();
    await page.waitForSelector("#auth-verdict", { timeout: 60000 });
    const verdict = await page.textContent("#auth-verdict");
    const tokenShown = await page.textContent("#auth-result");
    const vals = await page.evaluate(() => S.values);
    check("OAuth consent flow", /^authenticated: access_token, refresh_token written/.test(verdict) && /^atok-/.test(vals.access_token) &&
          vals.refresh_token === "rtok-consent" && /grant_type|code=\*{10}/.test(tokenShown) && !tokenShown.includes("csecret-page") &&
          !tokenShown.includes(vals.access_token), verdict + " / " + tokenShown);
    check("OAuth tokens not in the manifest", !/atok-|rtok-consent/.test(await page.inputValue("#yaml")));
    await shot(page, "oauth-consent");
    // Asynchronous retrieval and stream templates: edited as YAML inside the form.
    await page.fill("input[name=new_stream]", "exports");
    await page.selectOption("select[name=copy_stream]", "");
    await page.click("#add-stream");
    await page.selectOption('[data-stream="exports"] select[name=retrieval]', "asynchronous job");
    y = await yamlWhen(page, /AsyncRetriever/);
    await page.waitForFunction(() => /polling_requester/.test((document.querySelector('textarea[name="part_exports/retriever"]') || {}).value || ""));
    check("async retrieval: creation, polling, download", /type: AsyncRetriever/.test(y) && /creation_requester/.test(y) && /status_mapping/.test(y), y);
    // A test read of the asynchronous stream: the creation and polling requests
    // are the download page's other requests (the engine's AsyncRetriever).
    const rq = (p, extra) => `{type: HttpRequester, url_base: "${extra || mockUrl + "/api"}", path: "${p}"}`;
    await page.fill('textarea[name="part_exports/retriever"]', `type: AsyncRetriever
status_mapping: {failed: [failed], running: [pending], timeout: [timeout], completed: [ready]}
status_extractor: {type: DpathExtractor, field_path: [status]}
download_target_extractor: {type: DpathExtractor, field_path: [urls]}
download_extractor: {type: DpathExtractor, field_path: [rows]}
record_selector: {type: RecordSelector, extractor: {type: DpathExtractor, field_path: []}}
creation_requester: {type: HttpRequester, url_base: "${mockUrl}/api", path: /exports, http_method: POST}
polling_requester: ${rq("/exports/{{ creation_response['id'] }}")}
download_requester: {type: HttpRequester, url_base: "{{ download_target }}"}
`);
    await yamlWhen(page, /download_target_extractor/);
    await page.waitForFunction(() => S.resolved === document.getElementById("yaml").value);
    await page.selectOption("#stream", "exports");
    await page.evaluate(() => document.getElementById("result").replaceChildren());
    await page.click("#test");
    await page.waitForSelector("#summary");
    const asum = await page.textContent("#summary");
    await page.click('.tabs button[data-tab="other"]');
    const aother = await page.textContent("#tab-body");
    check("async test read: creation and polling requests shown", /^2 records/.test(asum) && /"method": "POST",\s*"url": "http:\/\/127\.0\.0\.1:\d+\/api\/exports"/.test(aother) &&
          /"method": "GET",\s*"url": "http:\/\/127\.0\.0\.1:\d+\/api\/exports\/e1"/.test(aother), asum + " / " + aother.slice(0, 300));
    await page.click('.tabs button[data-tab="request"]');
    check("async test read: the download request", /GET http:\/\/127\.0\.0\.1:\d+\/api\/dl\/part1/.test(await page.textContent("#tab-body")));
    await page.locator("#testing").screenshot({ path: path.join(artefacts, "async-test-read.png") });
    await page.fill("input[name=new_template]", "per_list");
    await page.click("#add-template");
    await page.waitForFunction(() => /HttpComponentsResolver/.test((document.querySelector('textarea[name="part_template/0"]') || {}).value || ""));
    const plain = (p) => `{type: HttpRequester, url_base: "${mockUrl}/api", path: ${p}}`;
    const records = "{type: RecordSelector, extractor: {type: DpathExtractor, field_path: [data]}}";
    await page.fill('textarea[name="part_template/0"]', `type: DynamicDeclarativeStream
name: per_list
stream_template:
  type: DeclarativeStream
  name: ""
  primary_key: [id]
  retriever: {type: SimpleRetriever, requester: ${plain("/items")}, record_selector: ${records}}
components_resolver:
  type: HttpComponentsResolver
  retriever: {type: SimpleRetriever, requester: ${plain("/boards")}, record_selector: ${records}}
  components_mapping:
    - {type: ComponentMappingDefinition, field_path: [name], value: "{{ components_values['name'] }}"}
    - {type: ComponentMappingDefinition, field_path: [retriever, requester, path], value: "/items/{{ components_values['id'] }}"}
`);
    y = await yamlWhen(page, /path: \/boards/);
    check("stream template edited", /dynamic_streams:\s*\n\s*- type: DynamicDeclarativeStream/.test(y) && /path: \/boards/.test(y), y);
    const tp = '[data-template="per_list"]';
    check("template not generated marked", /stream templates not generated since their last change: per_list$/.test(await page.textContent("#untested")),
      await page.textContent("#untested"));
    await page.click(`${tp} button[name=preview_endpoint]`);
    await page.waitForFunction(() => /^2 records/.test((document.getElementById("summary") || {}).textContent || ""));
    await page.click('.tabs button[data-tab="request"]');
    check("template: preview endpoint", /GET http:\/\/127\.0\.0\.1:\d+\/api\/boards/.test(await page.textContent("#tab-body")));
    await page.click(`${tp} button[name=generate_streams]`);
    await page.waitForSelector(`${tp} [data-generated="board_two"]`);
    const gen = await page.$$eval(`${tp} [data-generated]`, (d) => d.map((x) => x.dataset.generated));
    await page.waitForFunction(() => !/per_list/.test(document.getElementById("untested").textContent));
    check("template: streams generated, read-only", gen.join(",") === "board_one,board_two" && !(await page.$(`${tp} [data-generated] input, ${tp} [data-generated] textarea`)), gen.join(","));
    await page.click(`${tp} [data-generated="board_one"] button[name=test_generated]`);
    await page.waitForFunction(() => /generated stream board_one/.test(document.getElementById("status").textContent));
    await page.click('.tabs button[data-tab="request"]');
    const genReq = await page.textContent("#tab-body");
    check("template: a generated stream tested", /^1 records/.test(await page.textContent("#summary")) && /\/api\/items\/b1/.test(genReq), genReq);
    await shot(page, "form-async-template");
    // A template removed, and back by Undo.
    await page.click(`${tp} button[name=remove_template]`);
    y = await yamlWhen(page, /^(?![^]*dynamic_streams)/);
    check("template removed", !/dynamic_streams|per_list/.test(y) && !(await page.$(tp)), y);
    await page.keyboard.press("Control+z");
    await page.waitForSelector(tp);
    check("template removal undone", /dynamic_streams:[^]*name: per_list/.test(await page.inputValue("#yaml")));
    // Import a manifest file: it becomes the (undoable) draft, in YAML mode.
    const imported = "version: 6.0.0\ntype: DeclarativeSource\ncheck: {type: CheckStream, stream_names: []}\nstreams: []\n# imported\n";
    await page.setInputFiles("#import", { name: "other.yaml", mimeType: "application/yaml", buffer: Buffer.from(imported) });
    await page.waitForFunction(() => /other\.yaml imported/.test(document.getElementById("status").textContent));
    check("manifest file imported", (await page.inputValue("#yaml")) === imported && await page.isVisible("#yaml-pane"));
    // Undo in YAML mode: a typed edit, then the import, each one step.
    const typed = imported + "# typed\n";
    await page.fill("#yaml", typed);
    await page.waitForFunction((t) => S.resolved === t, typed);
    await page.keyboard.press("Control+z");
    await page.waitForFunction((t) => document.getElementById("yaml").value === t, imported).catch(() => {});
    check("undo a YAML-mode edit", (await page.inputValue("#yaml")) === imported);
    await page.keyboard.press("Control+z");
    await page.waitForFunction(() => /dynamic_streams/.test(document.getElementById("yaml").value)).catch(() => {});
    check("undo the import", /dynamic_streams/.test(await page.inputValue("#yaml")));
    await wsDone;
    check("no page errors", errors.length === 0, errors.join("; "));
  } catch (e) {
    failed++;
    console.log(`FAIL builder page: ${e.message.split("\n")[0]}`);
    await shot(page, "failure").catch(() => {});
  }
  await browser.close();
  process.exit(failed ? 1 : 0);
})();
