// The console in a real browser (Debian's chromium driven by playwright-core), against a real
// server and agent that tests/e2e/test_console.py starts. One scenario per run:
//   node console/tests/console.mjs <scenario>
// Environment: STEWARD_URL, KEY_ID, SECRET, NODE_ID, and per scenario LIMITED_KEY_ID,
// LIMITED_SECRET, PARAMETER, SECRET_VALUE, NONCE, ASSOCIATION, USER_NAME, PASSWORD,
// NEW_PASSWORD, WINDOW (and the window's ids,
// NEXT_RUN), BASELINE_NAME, BASELINE_ID, OS, GROUP, COUNTS, NEW_BASELINE, REJECTED; SCREENSHOTS
// (a directory); CHROMIUM.
// Prints one line `RESULT {json}` with what it measured; exits non-zero with the reason.

import { chromium } from "playwright-core";
import path from "node:path";

const env = process.env;
const base = env.STEWARD_URL.replace(/\/$/, "") + "/console/";
const WAIT = 20_000;

function fail(why) {
  throw new Error(why);
}

async function signIn(page, keyId, secret) {
  await page.goto(base);
  await page.getByText("Access key", { exact: true }).click();
  await page.getByLabel("Access key ID").fill(keyId);
  await page.getByLabel("Secret access key").fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function shot(page, name) {
  if (env.SCREENSHOTS) await page.screenshot({ path: path.join(env.SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Counts the page's API calls from now on. */
function countCalls(page) {
  const seen = [];
  page.on("request", (r) => {
    if (r.url().includes("/console/api/call")) seen.push(JSON.parse(r.postData() || "{}").operation);
  });
  return seen;
}

/** Waits until the page has made no API call for `ms`. */
async function quiet(calls, ms) {
  let seen = -1;
  while (seen !== calls.length) {
    seen = calls.length;
    await new Promise((r) => setTimeout(r, ms));
  }
}

const scenarios = {
  // Sign in, see the node Online in the fleet; time to the first row and API calls made.
  async fleet(page) {
    const calls = countCalls(page);
    const started = Date.now();
    await signIn(page, env.KEY_ID, env.SECRET);
    const row = page.getByRole("row", { name: new RegExp(env.NODE_ID) });
    await row.waitFor({ timeout: WAIT });
    await row.getByText("Online").waitFor({ timeout: WAIT });
    const toFleet = Date.now() - started;
    await shot(page, "fleet");
    // Dark mode, as Cloudscape draws it.
    await page.getByRole("button", { name: "Dark mode" }).click();
    await page.getByRole("button", { name: "Light mode" }).waitFor({ timeout: WAIT });
    await shot(page, "fleet-dark");
    return { signInToFleetMs: toFleet, apiCallsOnFleet: calls.length, operations: calls };
  },

  // Run a command from the form and read its output as it streams in.
  async run(page) {
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(base + "#/run");
    await page.getByText("Choose a document").click();
    await page.getByRole("option", { name: /^AWS-RunShellScript/ }).click();
    const commands = page.locator("textarea").first();
    await commands.waitFor({ timeout: WAIT });
    await commands.fill(`echo hello-console-${env.NONCE}`);
    await page.getByText("Choose nodes").last().click();
    await page.getByRole("option", { name: new RegExp(env.NODE_ID) }).click();
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await page.waitForURL(/#\/commands\//, { timeout: WAIT });
    await page.locator("pre.output", { hasText: `hello-console-${env.NONCE}` }).waitFor({ timeout: WAIT });
    await page.getByText("Success").first().waitFor({ timeout: WAIT });
    await shot(page, "run-command");
    return { commandUrl: page.url() };
  },

  // Run a command on the nodes of the resource group GROUP (chosen in the form) and on those
  // tagged TAG_KEY=TAG_VALUE; each reaches the node.
  async runTargets(page) {
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    const sent = [];
    for (const how of ["group", "tag"]) {
      await page.goto(base + "#/run");
      await page.getByText("Choose a document").click();
      await page.getByRole("option", { name: /^AWS-RunShellScript/ }).click();
      const commands = page.locator("textarea").first();
      await commands.waitFor({ timeout: WAIT });
      await commands.fill(`echo by-${how}-${env.NONCE}`);
      if (how === "group") {
        await page.getByText("Choose a resource group", { exact: true }).first().click();
        await page.getByRole("button", { name: /Choose a resource group/ }).click();
        await page.getByRole("option", { name: env.GROUP }).click();
      } else {
        await page.getByText("Specify a tag", { exact: true }).click();
        await page.getByLabel("Tag key").fill(env.TAG_KEY);
        await page.getByLabel("Tag values").fill(`nothing-here, ${env.TAG_VALUE}`);
      }
      await page.getByRole("button", { name: "Run", exact: true }).click();
      await page.waitForURL(/#\/commands\//, { timeout: WAIT });
      await page.locator("pre.output", { hasText: `by-${how}-${env.NONCE}` }).waitFor({ timeout: WAIT });
      sent.push(decodeURIComponent(page.url().split("#/commands/")[1]));
      await shot(page, `run-by-${how}`);
    }
    return { commands: sent };
  },

  // The fleet filtered by the server: by the tag TAG_KEY=TAG_VALUE (the node), by another
  // value (nothing), by ping status Online (the node) and Inactive (nothing).
  async fleetFilters(page) {
    const calls = countCalls(page);
    await signIn(page, env.KEY_ID, env.SECRET);
    const row = page.getByRole("row", { name: new RegExp(env.NODE_ID) });
    await row.waitFor({ timeout: WAIT });
    const seen = {};
    const filter = async (tag, ping) => {
      await page.getByLabel("Filter by tag").fill(tag);
      await page.getByRole("button", { name: /^Filter by ping status/ }).click();
      await page.getByRole("option", { name: ping, exact: true }).click();
      const before = calls.length;
      await page.getByRole("button", { name: "Filter", exact: true }).click();
      await quiet(calls, 700);
      const found = (await row.count()) > 0;
      seen[`${tag}|${ping}`] = { found, operations: calls.slice(before) };
    };
    await filter(`${env.TAG_KEY}=${env.TAG_VALUE}`, "Any ping status");
    await shot(page, "fleet-by-tag");
    await filter(`${env.TAG_KEY}=not-${env.TAG_VALUE}`, "Any ping status");
    await page.getByText("No managed node matches the filters.").waitFor({ timeout: WAIT });
    await filter(env.TAG_KEY, "Online");
    await filter("", "Inactive");
    return { seen };
  },

  // Sharing the document DOC with ACCOUNT from its page, a bad id refused, then no longer.
  async docShare(page) {
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(base + "#/documents/" + encodeURIComponent(env.DOC));
    await page.getByRole("heading", { name: "Sharing" }).waitFor({ timeout: WAIT });
    await page.getByText("Not shared with any other account.").waitFor({ timeout: WAIT });
    const field = page.getByLabel("Account ID");
    await field.fill("12");
    await page.getByRole("button", { name: "Share", exact: true }).click();
    await page.getByText(/InvalidPermissionType|ValidationException|InvalidDocument/).first().waitFor({ timeout: WAIT });
    const refused = await page.getByText(/InvalidPermissionType|ValidationException|InvalidDocument/).first().innerText();
    await field.fill(env.ACCOUNT);
    await page.getByRole("button", { name: "Share", exact: true }).click();
    await page.getByRole("button", { name: `Stop sharing with ${env.ACCOUNT}` }).waitFor({ timeout: WAIT });
    await shot(page, "document-shared");
    const sharedOnPage = true;
    await page.getByRole("button", { name: `Stop sharing with ${env.ACCOUNT}` }).click();
    await page.getByText("Not shared with any other account.").waitFor({ timeout: WAIT });
    return { refused, sharedOnPage };
  },

  // A SecureString is shown only on demand, and only to a user allowed to decrypt it.
  async secret(page) {
    const url = base + "#/parameters/" + encodeURIComponent(env.PARAMETER);
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(url);
    await page.getByRole("button", { name: "Reveal value" }).waitFor({ timeout: WAIT });
    if ((await page.content()).includes(env.SECRET_VALUE)) fail("the secret was on the page before it was revealed");
    await page.getByRole("button", { name: "Reveal value" }).click();
    await page.getByText(env.SECRET_VALUE).waitFor({ timeout: WAIT });
    await shot(page, "secret-revealed");
    await page.getByRole("button", { name: /root|user/ }).first().click();
    await page.getByText("Sign out").click();
    await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: WAIT });

    await signIn(page, env.LIMITED_KEY_ID, env.LIMITED_SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(url);
    await page.getByRole("button", { name: "Reveal value" }).click();
    await page.getByText("The value cannot be shown").waitFor({ timeout: WAIT });
    await page.getByText(/AccessDenied/).first().waitFor({ timeout: WAIT });
    if ((await page.content()).includes(env.SECRET_VALUE)) fail("a user without decrypt permission saw the secret");
    await shot(page, "secret-denied");
    return {};
  },

  // A shell on the node in the browser: type a command, read its output.
  async shell(page) {
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(base + "#/sessions");
    await page.getByRole("button", { name: `Start a session on ${env.NODE_ID}` }).click();
    await page.getByText("Connected").waitFor({ timeout: WAIT });
    await page.locator(".xterm").click();
    await page.keyboard.type(`echo hi-$((6*7))-${env.NONCE}`);
    await page.keyboard.press("Enter");
    await page.locator(".xterm-rows", { hasText: `hi-42-${env.NONCE}` }).waitFor({ timeout: WAIT });
    await shot(page, "shell");
    const rows = await page.locator(".xterm-rows").innerText();
    const sessionId = (await page.getByText(/^Session \S+-[0-9a-f]{17}$/).first().innerText()).replace("Session ", "");
    await page.getByRole("button", { name: "Terminate" }).click();
    await page.getByRole("heading", { name: "Session Manager" }).waitFor({ timeout: WAIT });
    // The recorded transcript plays back what the shell showed.
    await page.getByRole("button", { name: `Replay ${sessionId}` }).click();
    await page.locator(".xterm-rows", { hasText: `hi-42-${env.NONCE}` }).waitFor({ timeout: WAIT });
    await page.getByText("Finished").waitFor({ timeout: WAIT });
    await shot(page, "replay");
    return { sessionId, lines: rows.split("\n").filter((l) => l.includes(env.NONCE)).length };
  },

  // A node's page from the fleet: what it is and its recent commands; API calls it makes.
  async node(page) {
    const calls = countCalls(page);
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.getByRole("link", { name: env.NODE_ID, exact: true }).first().waitFor({ timeout: WAIT });
    const before = calls.length;
    await page.getByRole("link", { name: env.NODE_ID, exact: true }).first().click();
    await page.getByRole("heading", { name: env.NODE_ID, exact: true }).waitFor({ timeout: WAIT });
    await page.getByText("Online").first().waitFor({ timeout: WAIT });
    await page.getByRole("link", { name: env.COMMAND_ID, exact: true }).waitFor({ timeout: WAIT });
    await shot(page, "node");
    const result = { apiCallsOnNode: calls.length - before, operations: calls.slice(before) };
    if (!env.LIMITED_KEY_ID) return result;

    // A user who may see the node and its commands but nothing else: those sections show,
    // each other section says why it cannot.
    await page.getByRole("button", { name: /root|user/ }).first().click();
    await page.getByText("Sign out").click();
    await signIn(page, env.LIMITED_KEY_ID, env.LIMITED_SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(base + "#/fleet/" + env.NODE_ID);
    await page.getByRole("heading", { name: env.NODE_ID, exact: true }).waitFor({ timeout: WAIT });
    await page.getByRole("link", { name: env.COMMAND_ID, exact: true }).waitFor({ timeout: WAIT });
    const denials = page.getByText(/AccessDeniedException/);
    await denials.first().waitFor({ timeout: WAIT });
    await page.waitForTimeout(500);
    result.limitedDenials = await denials.count();
    await shot(page, "node-limited");
    return result;
  },

  // Install a package on the node from its Distributor page and read the agent's report.
  async package(page) {
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(base + "#/distributor");
    await page.getByRole("link", { name: env.PACKAGE, exact: true }).click();
    await page.getByText("SHA-256").first().waitFor({ timeout: WAIT });
    await shot(page, "package");
    await page.getByText("Choose nodes").last().click();
    await page.getByRole("option", { name: new RegExp(env.NODE_ID) }).click();
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Install", exact: true }).click();
    await page.waitForURL(/#\/commands\//, { timeout: WAIT });
    await page.locator("pre.output", { hasText: `Installed ${env.PACKAGE} 1.0` }).waitFor({ timeout: WAIT });
    await shot(page, "package-installed");
    return { commandUrl: page.url() };
  },

  // An execution waiting for approval, approved from its page by a listed approver; its
  // execution flow (steps `approve` then `after`, as the test's runbook names them) shows
  // the approval waiting, as the current step, then both steps succeeded.
  async approve(page) {
    await signIn(page, env.LIMITED_KEY_ID, env.LIMITED_SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(base + "#/automation/" + env.EXECUTION_ID);
    const flow = page.getByRole("list", { name: "Execution flow" });
    const waiting = flow.getByRole("listitem", { name: /^Step approve: Waiting/ });
    await waiting.waitFor({ timeout: WAIT });
    if ((await waiting.getAttribute("aria-current")) !== "step") fail("the waiting approval is not the current step");
    await shot(page, "automation-graph");
    await page.getByRole("button", { name: "Approve", exact: true }).click();
    await flow.getByRole("listitem", { name: /^Step approve: Success/ }).waitFor({ timeout: WAIT });
    await flow.getByRole("listitem", { name: /^Step after: Success/ }).waitFor({ timeout: WAIT });
    if ((await flow.locator('[aria-current="step"]').count()) !== 0) fail("a step is still current once all succeeded");
    await page.getByRole("cell", { name: "Success" }).first().waitFor({ timeout: WAIT });
    await page.getByText("ApprovalStatus: Approved").waitFor({ timeout: WAIT });
    await shot(page, "automation-approved");
    return {};
  },

  // A document with errors: each refusal shown at its line; fixed, it is created.
  async document(page) {
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(base + "#/documents/new");
    await page.getByLabel("Name").fill(env.DOCUMENT);
    const content = page.locator("textarea").first();
    const create = page.getByRole("button", { name: "Create document" });
    const lines = ['schemaVersion: "2.2"', "description: from the console", "mainSteps:",
      "  - action: aws:runShellScript", "    name: hello", "    inputs:", "      runCommand: [echo hi"];
    await content.fill(lines.join("\n") + "\n");
    await create.click();
    await page.getByText(/not well-formed/).first().waitFor({ timeout: WAIT });
    await page.getByLabel("Lines around the error").waitFor({ timeout: WAIT });
    lines[6] = "      runCommand: [echo hi]";
    lines[3] = "  - action: aws:teleport";
    await content.fill(lines.join("\n") + "\n");
    await create.click();
    await page.getByText("Line 4", { exact: true }).waitFor({ timeout: WAIT });
    const around = await page.getByLabel("Lines around the error").innerText();
    if (!around.split("\n").some((l) => l.startsWith("→") && l.includes("aws:teleport")))
      fail(`the error is not marked at its line: ${around}`);
    await shot(page, "document-error");
    lines[3] = "  - action: aws:runShellScript";
    await content.fill(lines.join("\n") + "\n");
    await create.click();
    await page.waitForURL(new RegExp(`#/documents/${env.DOCUMENT}$`), { timeout: WAIT });
    await page.getByRole("heading", { name: env.DOCUMENT }).waitFor({ timeout: WAIT });
    await page.getByText("Command · YAML").waitFor({ timeout: WAIT });
    return {};
  },

  // State Manager from the side navigation: the association listed, its page with the run and
  // the node reaching Success, then applied again from the page.
  async association(page) {
    const calls = countCalls(page);
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.getByRole("link", { name: "State Manager", exact: true }).first().click();
    const listed = page.getByRole("row", { name: new RegExp(env.ASSOCIATION) });
    await listed.getByText("AWS-RunShellScript").waitFor({ timeout: WAIT });
    await shot(page, "associations");
    const before = calls.length;
    await page.getByRole("link", { name: env.ASSOCIATION, exact: true }).click();
    await page.getByRole("heading", { name: env.ASSOCIATION, exact: true }).waitFor({ timeout: WAIT });
    // The page re-reads while the run is under way: the node's row, then the run's, say Success.
    const nodeRow = page.getByRole("row", { name: new RegExp(env.NODE_ID) });
    await nodeRow.getByText("Success", { exact: true }).first().waitFor({ timeout: WAIT });
    const succeeded = page.getByRole("row", { name: /Success/ });
    await succeeded.nth(1).waitFor({ timeout: WAIT });
    await page.locator('a[href^="#/commands/"]').first().waitFor({ timeout: WAIT });
    await shot(page, "association");
    await page.getByRole("button", { name: "Apply association now" }).click();
    // Two runs in the history and the newer one's node row, all Success.
    await succeeded.nth(2).waitFor({ timeout: WAIT });
    return { operations: [...new Set(calls.slice(before))] };
  },

  // A maintenance window listed with its next run; its page with targets, tasks, the run and
  // the run's task; API calls the page makes.
  async window(page) {
    const calls = countCalls(page);
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.getByRole("link", { name: "Maintenance windows", exact: true }).first().click();
    // The next run as this browser writes it, which is how the page writes it.
    const next = await page.evaluate((iso) => new Date(Date.parse(iso)).toLocaleString(), env.NEXT_RUN);
    await page.getByRole("row", { name: new RegExp(env.WINDOW_ID) }).getByText(next).waitFor({ timeout: WAIT });
    await shot(page, "windows");
    const before = calls.length;
    await page.getByRole("link", { name: env.WINDOW, exact: true }).click();
    await page.getByRole("heading", { name: env.WINDOW, exact: true }).waitFor({ timeout: WAIT });
    await page.getByRole("row", { name: new RegExp(env.TARGET_ID) }).first().waitFor({ timeout: WAIT });
    await page.getByRole("row", { name: new RegExp(env.TASK_ID) }).first().waitFor({ timeout: WAIT });
    for (const id of [env.EXECUTION_ID, env.TASK_EXECUTION_ID]) {
      const row = page.getByRole("row", { name: new RegExp(id) });
      await row.getByText("SUCCESS", { exact: true }).first().waitFor({ timeout: WAIT });
    }
    await shot(page, "window");
    return { apiCallsOnWindow: calls.length - before, operations: calls.slice(before) };
  },

  // Inventory from the side navigation: the node listed with its platform and how many
  // applications it has (APPLICATION_COUNT), then its AWS:Application entries — APPLICATION on
  // the first page, NEXT_APPLICATION (when set) on the next. API calls of the page and of the
  // entries.
  async inventory(page) {
    const calls = countCalls(page);
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("link", { name: env.NODE_ID, exact: true }).first().waitFor({ timeout: WAIT });
    const before = calls.length;
    await page.getByRole("link", { name: "Inventory", exact: true }).first().click();
    const count = page.getByRole("button", { name: `Show the applications of ${env.NODE_ID}` });
    await count.waitFor({ timeout: WAIT });
    if ((await count.innerText()).trim() !== env.APPLICATION_COUNT)
      fail(`the page counts ${await count.innerText()} applications, not ${env.APPLICATION_COUNT}`);
    const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: env.NODE_ID, exact: true }) });
    await row.getByText("(Linux)").waitFor({ timeout: WAIT });
    await page.getByRole("button", { name: "Show entries of AWS:Application" }).waitFor({ timeout: WAIT });
    const onOpen = calls.slice(before);
    await page.getByText("Choose a node", { exact: true }).click();
    await page.getByRole("option", { name: new RegExp(env.NODE_ID) }).click();
    await page.getByRole("rowheader", { name: env.APPLICATION, exact: true }).first().waitFor({ timeout: WAIT });
    await shot(page, "inventory");
    if (env.NEXT_APPLICATION) {
      await page.getByRole("button", { name: "Next page" }).click();
      await page.getByRole("rowheader", { name: env.NEXT_APPLICATION, exact: true }).first().waitFor({ timeout: WAIT });
    }
    return { apiCallsOnInventory: onOpen.length, operations: onOpen, entryOperations: calls.slice(before + onOpen.length) };
  },

  // Compliance from the side navigation: COMPLIANCE_TYPE with the node non-compliant (a HIGH
  // item), the node's row linked to its page, then its items (ITEM_ID, ITEM_TITLE) once the
  // row is chosen. API calls of the page and of the items.
  async compliance(page) {
    const calls = countCalls(page);
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("link", { name: env.NODE_ID, exact: true }).first().waitFor({ timeout: WAIT });
    const before = calls.length;
    await page.getByRole("link", { name: "Compliance", exact: true }).first().click();
    const typeRow = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: env.COMPLIANCE_TYPE, exact: true }) });
    await typeRow.getByText("High 1", { exact: true }).waitFor({ timeout: WAIT });
    const nodeRow = page
      .getByRole("row")
      .filter({ has: page.getByRole("link", { name: env.NODE_ID, exact: true }) })
      .filter({ hasText: env.COMPLIANCE_TYPE });
    await nodeRow.getByText("Non-compliant", { exact: true }).waitFor({ timeout: WAIT });
    await nodeRow.getByText("HIGH", { exact: true }).waitFor({ timeout: WAIT });
    const onOpen = calls.slice(before);
    await page.getByTitle(`Show the items of ${env.NODE_ID} (${env.COMPLIANCE_TYPE})`).click();
    await page.getByRole("heading", { name: `Items of ${env.NODE_ID}` }).waitFor({ timeout: WAIT });
    const itemRow = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: env.ITEM_ID, exact: true }) });
    await itemRow.getByText(env.ITEM_TITLE, { exact: true }).waitFor({ timeout: WAIT });
    await itemRow.getByText("Non-compliant", { exact: true }).waitFor({ timeout: WAIT });
    await shot(page, "compliance");
    const forItems = calls.slice(before + onOpen.length);
    // The node's link leads to its page.
    await nodeRow.getByRole("link", { name: env.NODE_ID, exact: true }).click();
    await page.getByRole("heading", { name: env.NODE_ID, exact: true }).waitFor({ timeout: WAIT });
    return { apiCallsOnCompliance: onOpen.length, operations: onOpen, itemOperations: forItems };
  },

  // Patch Manager from the side navigation: the default baseline BASELINE_NAME (OS) marked as
  // such, the patch group GROUP with it, and the node's row with what its scan reported
  // (COUNTS: JSON of column header to cell text). API calls of the page.
  async patch(page) {
    const calls = countCalls(page);
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("link", { name: env.NODE_ID, exact: true }).first().waitFor({ timeout: WAIT });
    const before = calls.length;
    await page.getByRole("link", { name: "Patch Manager", exact: true }).first().click();
    await page.getByRole("heading", { name: "Patch Manager" }).waitFor({ timeout: WAIT });
    const baseline = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: env.BASELINE_NAME, exact: true }) });
    await baseline.getByText(env.BASELINE_ID, { exact: true }).waitFor({ timeout: WAIT });
    await baseline.getByText(env.OS, { exact: true }).waitFor({ timeout: WAIT });
    await baseline.getByText("Yes", { exact: true }).waitFor({ timeout: WAIT });
    const group = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: env.GROUP, exact: true }) });
    await group.getByText(env.BASELINE_NAME, { exact: true }).waitFor({ timeout: WAIT });
    const link = page.getByRole("link", { name: env.NODE_ID, exact: true });
    const table = page.getByRole("table").filter({ has: link });
    const row = page.getByRole("row").filter({ has: link });
    await row.getByText("Scan", { exact: true }).waitFor({ timeout: WAIT });
    const onOpen = calls.slice(before);
    // Each cell under its column's header.
    const headers = (await table.locator("thead th").allInnerTexts()).map((h) => h.trim());
    const cells = (await row.locator("th, td").allInnerTexts()).map((c) => c.trim());
    const shown = Object.fromEntries(headers.map((h, i) => [h, cells[i]]));
    for (const [header, value] of Object.entries(JSON.parse(env.COUNTS))) {
      if (shown[header] !== value) fail(`the node's ${header} is ${shown[header]}, not ${value}: ${JSON.stringify(shown)}`);
    }
    await shot(page, "patch");
    // The node's link leads to its page.
    await row.getByRole("link", { name: env.NODE_ID, exact: true }).click();
    await page.getByRole("heading", { name: env.NODE_ID, exact: true }).waitFor({ timeout: WAIT });
    return { apiCallsOnPatch: onOpen.length, operations: onOpen, shown };
  },

  // Patch Manager's writes: a baseline refused without a name, then NEW_BASELINE created for
  // DEBIAN rejecting the package REJECTED and listed as the account's; the patch group GROUP
  // registered with it and deregistered; a scan of NODE_ID sent from the page and followed to
  // Success on the command's page (a real scan: up to 180 s); then the baseline deleted. The
  // write operations the page made, in order.
  async patchWrite(page) {
    const calls = countCalls(page);
    const SCAN_WAIT = 180_000;
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("link", { name: env.NODE_ID, exact: true }).first().waitFor({ timeout: WAIT });
    await page.getByRole("link", { name: "Patch Manager", exact: true }).first().click();
    await page.getByRole("heading", { name: "Patch Manager" }).waitFor({ timeout: WAIT });

    await page.getByRole("button", { name: "Create patch baseline" }).click();
    await page.waitForURL(/#\/patch\/baselines\/new$/, { timeout: WAIT });
    const create = page.getByRole("button", { name: "Create patch baseline" });
    await create.click();
    const refusal = page.getByText(/ValidationException/).first();
    await refusal.waitFor({ timeout: WAIT });
    const refused = await refusal.innerText();
    if (!page.url().endsWith("#/patch/baselines/new")) fail(`a refused baseline left the form: ${page.url()}`);
    await shot(page, "patch-baseline-refused");
    await page.getByLabel("Name", { exact: true }).fill(env.NEW_BASELINE);
    await page.getByLabel("Description", { exact: true }).fill("Made by the console's end-to-end test");
    await page.getByRole("button", { name: /^Operating system/ }).click();
    await page.getByRole("option", { name: /^Debian\b/ }).click();
    await page.getByLabel("Rejected patches").fill(env.REJECTED);
    await shot(page, "patch-baseline-form");
    await create.click();
    await page.waitForURL(/#\/patch$/, { timeout: WAIT });
    const baseline = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: env.NEW_BASELINE, exact: true }) });
    await baseline.getByText("DEBIAN", { exact: true }).waitFor({ timeout: WAIT });
    await baseline.getByText("This account", { exact: true }).waitFor({ timeout: WAIT });
    const baselineId = (await baseline.getByText(/^pb-/).innerText()).trim();

    // A patch group registered with it, then deregistered.
    await page.getByText("Choose a baseline", { exact: true }).click();
    await page.getByRole("option", { name: new RegExp(`^${env.NEW_BASELINE}`) }).click();
    await page.getByLabel("Patch group name").fill(env.GROUP);
    await page.getByRole("button", { name: "Register patch group" }).click();
    const group = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: env.GROUP, exact: true }) });
    await group.getByText(env.NEW_BASELINE, { exact: true }).waitFor({ timeout: WAIT });
    await page.getByText(`Registered patch group ${env.GROUP}`).waitFor({ timeout: WAIT });
    await shot(page, "patch-group-registered");
    await group.getByRole("button", { name: /^Deregister/ }).click();
    await group.waitFor({ state: "detached", timeout: WAIT });

    // A scan of the node from its row, followed on the command's page.
    await page.getByRole("checkbox", { name: `Select ${env.NODE_ID}`, exact: true }).click();
    await page.getByRole("button", { name: "Scan now" }).click();
    await page.waitForURL(/#\/commands\//, { timeout: WAIT });
    const commandId = decodeURIComponent(page.url().split("#/commands/")[1]);
    const ended = page.getByText(/^(Success|Failed|TimedOut|Cancelled|Undeliverable)$/).first();
    await ended.waitFor({ timeout: SCAN_WAIT });
    const status = (await ended.innerText()).trim();
    if (status !== "Success") {
      const output = await page.locator("pre.output").first().innerText().catch(() => "(no output shown)");
      fail(`the scan ended ${status}: ${output}`);
    }
    await shot(page, "patch-scan");

    // Back on the page (the wide patch tables may have folded the side navigation away):
    // the baseline deleted after confirming.
    await page.goto(base + "#/patch");
    await page.getByRole("heading", { name: "Patch Manager" }).waitFor({ timeout: WAIT });
    await baseline.getByRole("button", { name: /^Delete/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText(baselineId).waitFor({ timeout: WAIT });
    await dialog.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByText(`Deleted patch baseline ${env.NEW_BASELINE}.`).waitFor({ timeout: WAIT });
    await baseline.waitFor({ state: "detached", timeout: WAIT });
    await shot(page, "patch-baseline-deleted");
    const writes = calls.filter((op) => !/^(Describe|List|Get)/.test(op));
    return { baselineId, commandId, refused, writes };
  },

  // The audit trail from the side navigation: PutParameter events looked up by name, the one of
  // PARAMETER shown as CloudTrail's JSON; then a user without cloudtrail:LookupEvents
  // (LIMITED_KEY_ID) sees the refusal. API calls of the page and of the search.
  async audit(page) {
    const calls = countCalls(page);
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("link", { name: env.NODE_ID, exact: true }).first().waitFor({ timeout: WAIT });
    const before = calls.length;
    await page.getByRole("link", { name: "Audit", exact: true }).first().click();
    await page.getByRole("heading", { name: "Audit trail" }).waitFor({ timeout: WAIT });
    await page.getByRole("button", { name: /^Show the event / }).first().waitFor({ timeout: WAIT });
    const onOpen = calls.slice(before);
    await page.getByLabel("Value", { exact: true }).fill("PutParameter");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const row = page.getByRole("row").filter({ hasText: env.PARAMETER });
    await row.getByRole("button", { name: /^Show the event / }).first().click();
    const json = page.getByRole("dialog").locator("pre");
    await json.waitFor({ timeout: WAIT });
    const event = JSON.parse(await json.innerText());
    if (event.eventName !== "PutParameter" || event.requestParameters?.Name !== env.PARAMETER)
      fail(`the event shown is not the PutParameter of ${env.PARAMETER}: ${JSON.stringify(event).slice(0, 300)}`);
    await shot(page, "audit-event");
    const searched = calls.slice(before + onOpen.length);
    await page.getByRole("button", { name: "Close", exact: true }).click();
    // The chain verified from the page, as `steward audit verify` does.
    await page.getByRole("button", { name: "Verify the trail" }).click();
    await page.getByText(/^The chain is intact: \d+ events$/).waitFor({ timeout: WAIT });
    await shot(page, "audit-verified");
    await page.getByRole("button", { name: /root|user/ }).first().click();
    await page.getByText("Sign out").click();
    await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: WAIT });

    await signIn(page, env.LIMITED_KEY_ID, env.LIMITED_SECRET);
    await page.getByRole("heading", { name: "Fleet" }).waitFor({ timeout: WAIT });
    await page.goto(base + "#/audit");
    await page.getByText("Cannot search the audit trail").waitFor({ timeout: WAIT });
    await page.getByText(/AccessDenied/).first().waitFor({ timeout: WAIT });
    if (await page.getByRole("button", { name: /^Show the event / }).count()) fail("a user refused the trail saw events");
    await page.getByRole("button", { name: "Verify the trail" }).click();
    await page.getByText("Cannot verify the trail").waitFor({ timeout: WAIT });
    await shot(page, "audit-denied");
    return { apiCallsOnAudit: onOpen.length, operations: onOpen, searchOperations: searched, eventId: event.eventID };
  },

  // A wrong secret is refused on the page; nothing else is shown.
  // An IAM user's console password: refused when wrong, changed when the administrator
  // asked for it, then the fleet as that user, who may list nodes and nothing else.
  async password(page) {
    await page.goto(base);
    const submit = async (password) => {
      await page.getByLabel("User name").fill(env.USER_NAME);
      await page.getByRole("textbox", { name: "Password", exact: true }).fill(password);
      await page.getByRole("button", { name: "Sign in" }).click();
    };
    await submit(env.PASSWORD + "x");
    await page.getByText(/user name or password is not valid/).first().waitFor({ timeout: WAIT });
    await submit(env.PASSWORD);
    await page.getByText(/must be changed/).first().waitFor({ timeout: WAIT });
    await page.getByLabel("New password").fill(env.NEW_PASSWORD);
    await shot(page, "password-change");
    await page.getByRole("button", { name: "Sign in" }).click();
    const row = page.getByRole("row", { name: new RegExp(env.NODE_ID) });
    await row.waitFor({ timeout: WAIT });
    await page.getByRole("button", { name: new RegExp(env.USER_NAME) }).first().waitFor({ timeout: WAIT });
    await page.goto(base + "#/parameters");
    await page.getByText(/AccessDenied/).first().waitFor({ timeout: WAIT });
    await shot(page, "password-signed-in");
    return {};
  },

  // The figures `steward-bench --only console` prints: the first load from a cold cache (time
  // to a usable sign-in form, bytes over the wire), sign-in to the fleet, each page's API
  // calls, and the live view of a command sent to every node (COUNT of them) as they finish.
  async figures(page) {
    const started = Date.now();
    await page.goto(base);
    await page.getByRole("button", { name: "Sign in" }).waitFor({ timeout: WAIT });
    const firstLoadMs = Date.now() - started;
    const transfer = await page.evaluate(() => {
      const all = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
      const sum = (f) => all.reduce((n, e) => n + (e[f] || 0), 0);
      return { files: all.length, wireBytes: sum("transferSize"), bytes: sum("decodedBodySize") };
    });
    const signingIn = Date.now();
    await signIn(page, env.KEY_ID, env.SECRET);
    await page.getByRole("row").getByText("Online").first().waitFor({ timeout: 60_000 });
    const signInToFleetMs = Date.now() - signingIn;

    const calls = countCalls(page);
    const callsPerPage = {};
    // The fleet last: the sign-in landed on it, and the same route again would not reload it.
    for (const route of ["run", "associations", "documents", "parameters", "sessions", "automation", "windows",
                         "distributor", "inventory", "compliance", "patch", "audit", "fleet"]) {
      const before = calls.length;
      await page.goto(base + "#/" + route);
      await quiet(calls, 1500);
      callsPerPage[route] = calls.length - before;
    }

    // Every frame of the live stream, as the browser received it.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Network.enable");
    const stream = { frames: 0, bytes: 0 };
    cdp.on("Network.eventSourceMessageReceived", (e) => {
      stream.frames += 1;
      stream.bytes += e.data.length;
    });
    // Freezes: long tasks, and how late a 50 ms timer ran at worst.
    await page.evaluate(() => {
      window.__figures = { longTasks: [], worstTimerLateMs: 0 };
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__figures.longTasks.push(e.duration);
      }).observe({ type: "longtask" });
      let last = performance.now();
      setInterval(() => {
        const now = performance.now();
        window.__figures.worstTimerLateMs = Math.max(window.__figures.worstTimerLateMs, now - last - 50);
        last = now;
      }, 50);
    });
    const commandId = await page.evaluate(async () => {
      const session = await (await fetch("/console/api/session")).json();
      const sent = await fetch("/console/api/call", {
        method: "POST",
        headers: { "content-type": "application/json", "x-steward-csrf": session.csrf },
        body: JSON.stringify({
          service: "ssm",
          operation: "SendCommand",
          input: { DocumentName: "AWS-RunShellScript", Targets: [{ Key: "InstanceIds", Values: ["*"] }],
                   MaxConcurrency: "100%", Parameters: { commands: ["true"] } },
        }),
      });
      return (await sent.json()).Command.CommandId;
    });
    const opened = Date.now();
    await page.goto(base + "#/commands/" + commandId);
    await page.getByLabel("Success count").filter({ hasText: new RegExp(`^${env.COUNT}$`) })
      .waitFor({ timeout: 120_000 });
    const liveAllSuccessMs = Date.now() - opened;
    // Turning a page of the table while the command is done: one render of 25 rows.
    const turning = Date.now();
    await page.getByRole("button", { name: "2", exact: true }).click();
    await page.getByRole("row").nth(1).waitFor({ timeout: WAIT });
    const pageTurnMs = Date.now() - turning;
    const freezes = await page.evaluate(() => window.__figures);
    await shot(page, "live-1000");
    return {
      firstLoadMs, ...transfer, signInToFleetMs, callsPerPage, commandId, liveAllSuccessMs, pageTurnMs,
      streamFrames: stream.frames, streamBytes: stream.bytes, longTasks: freezes.longTasks.length,
      longestTaskMs: Math.round(Math.max(0, ...freezes.longTasks)), worstTimerLateMs: Math.round(freezes.worstTimerLateMs),
    };
  },

  async wrong(page) {
    await signIn(page, env.KEY_ID, env.SECRET + "x");
    await page.getByText(/not valid/).first().waitFor({ timeout: WAIT });
    if (await page.getByRole("heading", { name: "Fleet" }).count()) fail("a wrong secret reached the fleet");
    return {};
  },
};

const name = process.argv[2];
const scenario = scenarios[name] ?? fail(`no scenario ${name}; there are ${Object.keys(scenarios).join(", ")}`);
const browser = await chromium.launch({
  executablePath: env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (401|403|400)/.test(m.text())) errors.push(m.text());
  });
  page.on("response", (r) => {
    if (r.status() === 404 || r.status() >= 500) errors.push(`${r.status()} ${r.url()}`);
  });
  const result = await scenario(page);
  if (errors.length) fail(`the page logged errors: ${errors.join(" | ")}`);
  console.log("RESULT " + JSON.stringify(result));
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e));
  if (page) await shot(page, `failed-${name}`).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
