// Loads the ops dashboard in Debian's Chromium and checks what a caseworker
// sees: the overdue list (most overdue first), the clock and team filters,
// the counts per clock, a case page with its timeline, and the timeliness
// figures with their chart. No request may leave the dashboard's origin.
// Usage: node dashboard.mjs BASE_URL CASES_JSON OUT_DIR TOKEN
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const [base, casesJson, outDir, token] = process.argv.slice(2);
const cases = JSON.parse(casesJson);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
await page.route("**/*", (route) => {
  if (route.request().url().startsWith(base)) return route.continue();
  problems.push(`left the origin: ${route.request().url()}`);
  return route.abort();
});

const rows = (sel) => page.$$eval(`${sel} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())));
const settled = () => page.waitForFunction(() => document.querySelector("#status").textContent === "");

try {
  // Without a token the page asks for one and shows no data; a wrong token
  // is refused and asked for again; the right one shows the deadlines.
  await page.goto(base + "/");
  await page.waitForSelector("#view-signin:not([hidden])");
  assert.equal(await page.$$eval("#deadlines tbody tr", (trs) => trs.length), 0);
  await page.fill("#token", "spt_not-a-real-token");
  await page.click("#signin button");
  await page.waitForFunction(() => /not accepted/.test(document.querySelector("#status").textContent));
  assert.ok(await page.isVisible("#view-signin"), "a refused token left the sign-in");
  // Chromium reports that refusal (a 401) on the console: expected here, so
  // only it is forgiven.
  assert.ok(problems.every((p) => / 401 /.test(p)), problems.join("\n"));
  problems.length = 0;
  await page.fill("#token", token);
  await page.click("#signin button");
  await page.waitForSelector("#deadlines tbody tr a");
  // The token lasts for the tab: a reload stays signed in.
  await page.reload();
  await page.waitForSelector("#deadlines tbody tr a");
  await settled();
  // Every field has a label; the first Tab lands on the skip link.
  assert.ok(await page.$$eval("select, input", (els) => els.every((e) => e.labels.length > 0)), "unlabelled field");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.className), "skip");

  // The overdue list, most overdue first.
  const overdue = await rows("#deadlines");
  const days = overdue.map((r) => Number(r[4].split(" ")[0]));
  assert.ok(days.length >= 5, `overdue rows: ${overdue.length}`);
  assert.deepEqual(days, [...days].sort((a, b) => b - a), "not sorted by days overdue");
  const counts = Object.fromEntries((await rows("#counts")).map((r) => [r[0], r.slice(1)]));
  assert.deepEqual(counts["Decision to assess (6 weeks)"], ["2", "1", "1"]);
  await page.screenshot({ path: path.join(outDir, "dashboard.png"), fullPage: true });

  // Filter by clock: the two overdue decisions, A then B.
  await page.selectOption("#f-clock", "decision_to_assess");
  await page.click("#filters button");
  await page.waitForFunction(() => document.querySelectorAll("#deadlines tbody tr").length === 2);
  let list = await rows("#deadlines");
  assert.deepEqual(list.map((r) => r[0]), [cases.A, cases.B]);
  assert.equal(list[0][4], "50 days overdue");
  assert.equal(list[0][1], "A.O.");
  // And by team.
  await page.selectOption("#f-team", "South");
  await page.click("#filters button");
  await page.waitForFunction(() => document.querySelectorAll("#deadlines tbody tr").length === 1);
  list = await rows("#deadlines");
  assert.deepEqual(list.map((r) => r[0]), [cases.B]);
  await page.selectOption("#f-team", "");
  await page.selectOption("#f-state", "approaching");
  await page.click("#filters button");
  await page.waitForFunction((c) => document.querySelector("#deadlines tbody a")?.textContent === c, cases.C);

  // A case page, reached by keyboard from the list.
  await page.selectOption("#f-state", "overdue");
  await page.click("#filters button");
  await page.waitForFunction((c) => document.querySelector("#deadlines tbody a")?.textContent === c, cases.A);
  await page.focus(`#deadlines a[href="#/case/${cases.A}"]`);
  await page.keyboard.press("Enter");
  await page.waitForFunction((c) => document.querySelector("#case-title").textContent === `Case ${c}`, cases.A);
  await settled();
  const clocks = await rows("#case-clocks");
  assert.ok(clocks.some((r) => r[0] === "Decision to assess (6 weeks)" && r[2] === "overdue by 50 days"), JSON.stringify(clocks));
  const timeline = await rows("#case-timeline");
  assert.equal(timeline[0][1], "request.received");
  assert.equal(timeline[0][0], "2027-03-01");
  assert.ok((await rows("#case-notes")).some((r) => r[1] === "request_received"), "no notification shown");
  assert.match(await page.textContent("#case-fields"), /Amara Okafor/);
  await page.screenshot({ path: path.join(outDir, "dashboard-case.png"), fullPage: true });

  // Timeliness, with the chart.
  await page.goto(base + "/#/timeliness");
  await page.waitForFunction(() => document.querySelectorAll("#months tbody tr").length > 0);
  await settled();
  await page.fill("#p-from", "2026-11-01");
  await page.fill("#p-to", "2027-06-30");
  await page.click("#period button");
  await page.waitForFunction(() => document.querySelectorAll("#months tbody tr").length === 8);
  const figures = await page.$$eval("#figures div", (ds) => Object.fromEntries(ds.map((d) => [d.querySelector("dt").textContent, d.querySelector("dd").textContent])));
  assert.equal(figures["Requests decided within 6 weeks"], "66.7%");
  assert.equal(figures["Plans within 20 weeks, excluding exceptions"], "100%");
  assert.equal(figures["Mean weeks to issue"], "22.5");
  // May alone has a plan without an exception (F, in April, is excepted).
  assert.equal(await page.$$eval("#chart svg rect", (r) => r.length), 1, "one bar: May");
  assert.match(await page.getAttribute("#csv", "href"), /format=csv/);
  await page.screenshot({ path: path.join(outDir, "dashboard-timeliness.png"), fullPage: true });

  assert.deepEqual(problems, []);
  console.log(`dashboard: ${overdue.length} overdue rows, filters, case page and timeliness checked; screenshots in ${outDir}`);
} catch (e) {
  await page.screenshot({ path: path.join(outDir, "dashboard-failure.png"), fullPage: true }).catch(() => {});
  console.error(e.stack || e, problems);
  process.exitCode = 1;
} finally {
  await browser.close();
}
