// Drives the official KubeRay Dashboard (ray-project/kuberay dashboard/, built and served by
// run.sh) in headless Chromium against `kuberay-apiserver dev`, as a user would:
//
//   1. the Clusters page renders (no "Application error", the issue's
//      "Cannot read properties of undefined (reading 'conditions')" gone);
//   2. a RayCluster created with the Dashboard's own kind of call (fetch from its origin to
//      {API_DOMAIN}/apis/ray.io/v1, CORS) shows up Ready in the Clusters page (the Dashboard
//      has no create-cluster form: its button is commented out in src/app/clusters/page.tsx);
//   3. a RayJob created through the "Create Job" form goes Pending -> Running -> Succeeded in
//      the Jobs page, and its RayCluster appears in the Clusters page;
//   4. the job and the cluster are deleted with the tables' checkbox + "Delete" button;
//   5. no console error, page error or failed request to the gateway.
//
// Usage: node drive.mjs DASHBOARD_URL GATEWAY_URL OUT_DIR   (exit 1 on any failure; prints
// one "ok ..." line per step and a JSON summary as the last line).
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync } from "node:fs";

const [dashboard, gateway, outDir] = process.argv.slice(2);
if (!dashboard || !gateway || !outDir) {
  console.error("usage: node drive.mjs DASHBOARD_URL GATEWAY_URL OUT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const suffix = Math.random().toString(36).slice(2, 7);
const clusterName = `e2e-cluster-${suffix}`;
const jobName = `e2e-job-${suffix}`;

const consoleErrors = [];
const pageErrors = [];
const failedRequests = [];
const summary = { steps: [], jobStatuses: [], screenshots: [] };

function step(msg) {
  console.log(`ok ${msg}`);
  summary.steps.push(msg);
}

async function shot(page, name) {
  const path = `${outDir}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  summary.screenshots.push(path);
}

async function assertNoAppError(page, where) {
  const body = await page.locator("body").innerText();
  if (/Application error/i.test(body)) {
    await shot(page, `FAILED-${where}`);
    throw new Error(`${where}: the page shows "Application error": ${body.slice(0, 500)}`);
  }
}

// The Dashboard's own noise when served standalone, each from its own origin, never the gateway's:
// src/app/layout.tsx loads Kubeflow's central dashboard library /dashboard_lib.bundle.js, which
// only Kubeflow serves (a 404, and the script's error Event logged by Next.js' <Script>), and its
// public/ has no favicon.ico. Listed in summary.json as known; anything else fails the run.
const KNOWN = [
  (e) => e.startsWith(`request: GET ${dashboard}/dashboard_lib.bundle.js: 404`),
  (e) => e.startsWith(`request: GET ${dashboard}/favicon.ico: 404`),
  (e) => /^console: Failed to load resource: .* 404 .*\(at [^)]*\/(dashboard_lib\.bundle\.js|favicon\.ico)\)$/.test(e),
  (e) => e.startsWith("console: Event (at ") && e.includes(`${dashboard}/_next/static/chunks/`),
];

// The status chip's tooltip: "Job status: X. Job deployment status: Y" (JobsTable.tsx).
async function jobTooltip(page, name) {
  await page.mouse.move(0, 0);
  await row(page, name).locator("td").nth(2).locator("*").first().hover();
  const tip = page.getByText(/Job deployment status: /);
  await tip.waitFor({ timeout: 10000 });
  return (await tip.innerText()).trim();
}

// The row of `name` in the page's table (FrontendTable: checkbox, name, status chip, ...).
const row = (page, name) => page.locator("tbody tr", { hasText: name });
const statusOf = async (page, name) => (await row(page, name).locator("td").nth(2).innerText()).trim();

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let failed = null;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(`${m.text()} (at ${m.location().url || "?"})`);
  });
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("requestfailed", (r) => {
    if (r.url().startsWith(gateway)) failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) failedRequests.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
  });

  // 0. The runtime config the Dashboard's browser code fetches (src/app/api/config/route.ts).
  await page.goto(`${dashboard}/`, { waitUntil: "networkidle" });
  const cfg = await page.evaluate(async () => (await fetch("/api/config")).json());
  if (cfg.apiserver.domain !== gateway) throw new Error(`/api/config points at ${cfg.apiserver.domain}, not ${gateway}`);
  step(`Dashboard configured for ${cfg.apiserver.domain}${cfg.apiserver.rayApiPath} (core ${cfg.apiserver.coreApiPath})`);

  // 1. Clusters page, empty.
  await page.goto(`${dashboard}/clusters`, { waitUntil: "networkidle" });
  await page.getByText("There are no clusters to display.").waitFor({ timeout: 30000 });
  await assertNoAppError(page, "clusters-empty");
  await shot(page, "1-clusters-empty");
  step("Clusters page renders (empty)");

  // 2. A RayCluster through the Dashboard's kind of call, from its origin (CORS preflight + POST).
  const created = await page.evaluate(
    async ([url, name]) => {
      const body = {
        apiVersion: "ray.io/v1",
        kind: "RayCluster",
        metadata: { name },
        spec: {
          rayVersion: "2.46.0",
          headGroupSpec: {
            rayStartParams: {},
            template: {
              spec: {
                containers: [
                  {
                    name: "ray-head",
                    image: "rayproject/ray:2.46.0",
                    ports: [
                      { containerPort: 6379, name: "gcs-server" },
                      { containerPort: 8265, name: "dashboard" },
                      { containerPort: 10001, name: "client" },
                    ],
                    resources: { limits: { cpu: "1", memory: "2Gi" }, requests: { cpu: "1", memory: "2Gi" } },
                  },
                ],
              },
            },
          },
          workerGroupSpecs: [
            {
              groupName: "small-wg",
              replicas: 1,
              minReplicas: 0,
              maxReplicas: 2,
              rayStartParams: {},
              template: { spec: { containers: [{ name: "ray-worker", image: "rayproject/ray:2.46.0" }] } },
            },
          ],
        },
      };
      const r = await fetch(`${url}/namespaces/default/rayclusters`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    },
    [`${cfg.apiserver.domain}${cfg.apiserver.rayApiPath}`, clusterName],
  );
  if (created.status !== 201) throw new Error(`creating ${clusterName}: ${created.status} ${JSON.stringify(created.body)}`);
  step(`RayCluster ${clusterName} created from the Dashboard's origin (201)`);
  await page.reload({ waitUntil: "networkidle" });
  await row(page, clusterName).waitFor({ timeout: 30000 });
  const clusterDeadline = Date.now() + 60000;
  let clusterStatus = "";
  while (Date.now() < clusterDeadline) {
    clusterStatus = await statusOf(page, clusterName);
    if (clusterStatus === "Ready") break;
    await page.waitForTimeout(500);
  }
  await assertNoAppError(page, "clusters-ready");
  await shot(page, "2-clusters-ready");
  if (clusterStatus !== "Ready") throw new Error(`${clusterName} shows "${clusterStatus}", not Ready`);
  step(`Clusters page shows ${clusterName} Ready`);

  // 3. A RayJob through the Create Job form.
  await page.goto(`${dashboard}/jobs/new`, { waitUntil: "networkidle" });
  const nameInput = page.locator("input").first();
  await nameInput.fill(jobName);
  // Entrypoint and resources keep the form's defaults (CreateJobForm.tsx).
  await shot(page, "3-create-job-form");
  await page.getByRole("button", { name: "Create Job" }).click();
  await page.waitForURL(`${dashboard}/jobs`, { timeout: 30000 });
  await row(page, jobName).waitFor({ timeout: 30000 });
  step(`RayJob ${jobName} created through the Create Job form; the Jobs page lists it`);
  let shotPending = false;
  const jobDeadline = Date.now() + 90000;
  let jobStatus = "";
  while (Date.now() < jobDeadline) {
    jobStatus = await statusOf(page, jobName);
    if (summary.jobStatuses.at(-1) !== jobStatus) summary.jobStatuses.push(jobStatus);
    if (!shotPending && jobStatus === "Pending") {
      summary.pendingTooltip = await jobTooltip(page, jobName);
      await shot(page, "4-jobs-pending");
      shotPending = true;
    }
    if (jobStatus === "Succeeded") break;
    await page.waitForTimeout(250);
  }
  await assertNoAppError(page, "jobs");
  await shot(page, "5-jobs-succeeded");
  if (jobStatus !== "Succeeded") throw new Error(`${jobName} shows "${jobStatus}" after 90 s (seen ${summary.jobStatuses})`);
  if (summary.jobStatuses[0] !== "Pending") throw new Error(`the job did not start Pending: ${summary.jobStatuses}`);
  step(`Jobs page: ${jobName} went ${summary.jobStatuses.join(" -> ")}`);
  step(`while Pending the chip's tooltip said "${summary.pendingTooltip}"`);
  // jobDeploymentStatus turns Complete shortly after jobStatus SUCCEEDED (the submitter Job ends);
  // the page refreshes every 5 s.
  let tipText = "";
  const completeDeadline = Date.now() + 30000;
  while (Date.now() < completeDeadline) {
    tipText = await jobTooltip(page, jobName);
    if (/Job deployment status: Complete/.test(tipText)) break;
    await page.waitForTimeout(1000);
  }
  if (!/Job status: Succeeded\. Job deployment status: Complete/.test(tipText)) throw new Error(`tooltip: ${tipText}`);
  await shot(page, "5b-jobs-complete-tooltip");
  step(`tooltip: "${tipText}"`);
  const rayLink = await row(page, jobName).locator('a[title="Ray Dashboard"]').getAttribute("href");
  if (!rayLink || !rayLink.startsWith(`${gateway}/api/v1/namespaces/default/services/`)) throw new Error(`Ray Dashboard link: ${rayLink}`);
  const linked = await page.request.get(rayLink.split("#")[0]);
  if (linked.status() !== 200) throw new Error(`Ray Dashboard link ${rayLink}: ${linked.status()}`);
  step(`the job's Ray Dashboard link answers 200 through the gateway's services proxy`);

  // The job's RayCluster in the Clusters page.
  await page.goto(`${dashboard}/clusters`, { waitUntil: "networkidle" });
  await row(page, jobName).waitFor({ timeout: 30000 });
  await assertNoAppError(page, "clusters-with-job");
  await shot(page, "6-clusters-with-job-cluster");
  step(`Clusters page lists the job's RayCluster (${(await row(page, jobName).locator("td").nth(1).innerText()).trim()})`);

  // 4. Delete the cluster (Clusters page), then the job (Jobs page).
  await row(page, clusterName).locator("td").first().locator("input, span").first().click();
  await page.getByRole("button", { name: /^Delete 1 cluster/ }).click();
  await page.getByText(`Deleted ${clusterName}`).waitFor({ timeout: 30000 });
  await row(page, clusterName).waitFor({ state: "detached", timeout: 30000 });
  step(`${clusterName} deleted through the Clusters page`);
  await page.goto(`${dashboard}/jobs`, { waitUntil: "networkidle" });
  await row(page, jobName).waitFor({ timeout: 30000 });
  await row(page, jobName).locator("td").first().locator("input, span").first().click();
  await page.getByRole("button", { name: /^Delete 1 job/ }).click();
  await page.getByText(`Deleted ${jobName}`).waitFor({ timeout: 30000 });
  await row(page, jobName).waitFor({ state: "detached", timeout: 30000 });
  await shot(page, "7-jobs-deleted");
  step(`${jobName} deleted through the Jobs page`);
  await page.goto(`${dashboard}/clusters`, { waitUntil: "networkidle" });
  await page.getByText("There are no clusters to display.").waitFor({ timeout: 30000 });
  await shot(page, "8-clusters-empty-again");
  step("the job's RayCluster went with it (owner reference): the Clusters page is empty again");

  // 5. The browser's complaints.
  const all = [...pageErrors.map((e) => `pageerror: ${e}`), ...consoleErrors.map((e) => `console: ${e}`), ...failedRequests.map((e) => `request: ${e}`)];
  const known = all.filter((e) => KNOWN.some((k) => k(e)));
  const errors = all.filter((e) => !KNOWN.some((k) => k(e)));
  summary.knownDashboardNoise = [...new Set(known)];
  if (errors.length) throw new Error(`the browser reported:\n  ${errors.join("\n  ")}`);
  if (failedRequests.some((e) => e.includes(gateway))) throw new Error(`failed requests to the gateway: ${failedRequests}`);
  step(`no page error, no failed request to the gateway, no console error but the Dashboard's own standalone noise (${summary.knownDashboardNoise.length} kinds, in summary.json)`);
} catch (e) {
  failed = e;
} finally {
  summary.consoleErrors = consoleErrors;
  summary.pageErrors = pageErrors;
  summary.failedRequests = failedRequests;
  writeFileSync(`${outDir}/summary.json`, JSON.stringify(summary, null, 2));
  await browser.close();
}
if (failed) {
  console.error(`FAILED: ${failed.message ?? failed}`);
  console.log(JSON.stringify(summary));
  process.exit(1);
}
console.log(JSON.stringify(summary));
