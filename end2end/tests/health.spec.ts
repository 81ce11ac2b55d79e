// Health: the example catalog has the portal probe itself (`portolan`: /healthz in production, /readyz in staging)
// and a closed port (`fraud-scorer`: tcp://127.0.0.1:9). People read the grid, filter it, open a service's health
// card, and, hydrated, see a check's change of state arrive without reloading. Hydrated and no-JS.
import { test, expect, Page, APIRequestContext } from '@playwright/test';

const TOKEN = 'e2e-admin-token-0123456789';
const auth = { Authorization: `Bearer ${TOKEN}` };
const hydrated = () => test.info().project.name === 'hydrated';

// The portal syncs declared checks when it starts and then every 30 s, and probes them every 5 s: the first
// results can take a while after start-up.
const FIRST_PROBE = 60_000;
test.setTimeout(FIRST_PROBE + 60_000);

async function signIn(page: Page) {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: 'Authorize as monalisa' }).click();
  await expect(page.locator('.user-name')).toBeVisible();
}

/** Reloads until the grid cell of `entity` in `environment` reads `state` (the probes run on their own clock). */
async function waitForCell(page: Page, entity: string, environment: string, state: string) {
  const cell = page.locator(`tr[data-entity="${entity}"] td[data-environment="${environment}"]`);
  await expect(async () => {
    await page.goto('/health');
    await expect(cell.locator('.health-state')).toHaveText(state, { timeout: 1_000 });
  }).toPass({ timeout: FIRST_PROBE, intervals: [1_000, 2_000, 3_000] });
  return cell;
}

test('the grid shows the portal up and a closed port down, with totals and uptime', async ({ page }) => {
  await signIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Health' }).click();
  await expect(page).toHaveURL(/\/health$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Health');

  const up = await waitForCell(page, 'component:default/portolan', 'production', 'Up');
  await expect(up).toContainText(/\d+\.\d\d% uptime/);
  const down = await waitForCell(page, 'component:default/fraud-scorer', 'production', 'Down');
  await expect(down).toHaveAttribute('data-state', 'down');

  const totals = page.getByRole('list', { name: 'Totals' });
  await expect(totals.locator('li[data-state="down"]')).toContainText('Down');
  await expect(totals.locator('li[data-state="up"]')).toContainText('Up');
  await expect(page.getByText(/as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/)).toBeVisible();

  // Each row leads to the entity's page.
  await page.locator('tr[data-entity="component:default/portolan"]').getByRole('link', { name: 'Portolan' }).click();
  await expect(page).toHaveURL(/\/catalog\/default\/component\/portolan$/);
});

test('the grid filters by window, owner and "mine" in its URL, and says how to declare a check', async ({ page }) => {
  await signIn(page);
  await waitForCell(page, 'component:default/portolan', 'production', 'Up');

  await page.getByLabel('Window').selectOption('7d');
  await page.getByLabel('Owner').fill('platform');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/window=7d/);
  await expect(page).toHaveURL(/owner=platform/);
  await expect(page.getByText(/^Last 7 days \(whole days/)).toBeVisible();
  await expect(page.locator('tr[data-entity="component:default/portolan"]')).toBeVisible();
  await expect(page.locator('tr[data-entity="component:default/fraud-scorer"]')).toBeVisible();
  await expect(page.getByLabel('Window')).toHaveValue('7d');

  // Nothing the payments team owns has a check: the page explains the annotation.
  await page.goto('/health?owner=payments');
  await expect(page.getByRole('heading', { name: 'No service with health checks matches' })).toBeVisible();
  await expect(page.getByText('portolan.dev/health-url', { exact: true })).toBeVisible();

  // A team that does not exist is named, not an error page.
  await page.goto('/health?owner=nobody-at-all');
  await expect(page.getByRole('alert')).toContainText('Owner');

  await page.goto('/health');
  await page.getByLabel('Only mine').check();
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/mine=true/);
  await expect(page.getByLabel('Only mine')).toBeChecked();
});

test("a service's page shows its health card with the checks declared in its catalog file", async ({ page }) => {
  await signIn(page);
  await waitForCell(page, 'component:default/portolan', 'production', 'Up');
  await page.goto('/catalog/default/component/portolan');
  const card = page.getByRole('region', { name: 'Health', exact: true });
  const production = card.locator('section[data-environment="production"]');
  await expect(production.getByRole('heading', { level: 3 })).toContainText('Up');
  await expect(production.getByRole('heading', { level: 3 })).toContainText(/since \d{4}-\d\d-\d\d .* UTC/);
  await expect(production).toContainText('SLO objective');
  await expect(production).toContainText('99.90% over 30 days');
  await expect(production).toContainText('Error budget');
  await expect(production).toContainText(/p50 \d+ ms · p95 \d+ ms · p99 \d+ ms/);

  const check = production.locator('table.health-checks tbody tr');
  await expect(check).toHaveCount(1);
  await expect(check).toContainText('http://127.0.0.1:3000/healthz');
  await expect(check).toContainText('5 s');
  await expect(check).toContainText('declared in the catalog file: edit in repository');
  await expect(check.locator('.health-state')).toHaveText('Up');

  // 90 days of bars, today's with data, the days before the portal existed grey; each bar says its date.
  const strip = production.getByRole('img', { name: /Uptime per day in production, last 90 days/ });
  await expect(strip.locator('rect')).toHaveCount(90);
  await expect(strip.locator('rect.day-none').first()).toBeAttached();
  await expect(strip.locator('rect').last()).toHaveClass(/day-ok/);
  await expect(strip.locator('rect').last().locator('title')).toHaveText(/^\d{4}-\d\d-\d\d: \d+\.\d\d% uptime/);

  await expect(card.locator('section[data-environment="staging"]')).toContainText('http://127.0.0.1:3000/readyz');
  await expect(card.getByRole('link', { name: 'Incidents (JSON)' })).toHaveAttribute(
    'href',
    '/api/v1/incidents?entity=component%3Adefault%2Fportolan',
  );
  // p95 latency per hour, one line per environment, drawn on the server; no incidents while it stays up.
  const latency = card.getByRole('img', { name: /^p95 latency \(ms\) per hour: [1-3] series/ });
  await expect(latency).toBeVisible();
  await expect(latency.locator('polyline, circle').first()).toBeAttached();
  await expect(card.locator('.panel-legend')).toContainText('production');
  await expect(card.getByRole('region', { name: 'Incidents, last 90 days' })).toContainText('No incidents in the last 90 days.');

  // No checks, no card.
  await page.goto('/catalog/default/component/payments-api');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Payments API');
  await expect(page.getByRole('region', { name: 'Health', exact: true })).toHaveCount(0);
});

test('a service whose check fails shows as Down with the error', async ({ page }) => {
  await signIn(page);
  await waitForCell(page, 'component:default/fraud-scorer', 'production', 'Down');
  await page.goto('/catalog/default/component/fraud-scorer');
  const production = page.getByRole('region', { name: 'Health', exact: true }).locator('section[data-environment="production"]');
  await expect(production.getByRole('heading', { level: 3 }).locator('.health-state')).toHaveText('Down');
  const check = production.locator('table.health-checks tbody tr');
  await expect(check).toContainText('tcp://127.0.0.1:9');
  await expect(check.locator('.health-error')).not.toBeEmpty();
  await expect(production.getByRole('img', { name: /Uptime per day/ }).locator('rect').last()).toHaveClass(/day-down/);

  // Production going down opened an incident: an open bar on the production lane and a line in the list.
  const incidents = page.getByRole('region', { name: 'Incidents, last 90 days' });
  await expect(incidents.getByRole('img', { name: /^Incidents over the last 90 days: \d+, [1-9]\d* open$/ })).toBeVisible();
  await expect(incidents.locator('rect.incident-open')).not.toHaveCount(0);
  const open = incidents.locator('li[data-environment="production"]').first();
  await expect(open).toContainText('open');
  await expect(open).toContainText('from health');
  await expect(open.locator('time')).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
});

/** Removes the check this spec adds, left over from an interrupted run. */
async function removeLiveCheck(request: APIRequestContext) {
  const res = await request.get('/api/v1/health/checks?entity=component:default/storefront', { headers: auth });
  expect(res.status(), await res.text()).toBe(200);
  for (const c of await res.json()) {
    if (c.name === 'e2e-live') {
      const gone = await request.delete(`/api/v1/health/checks/${c.id}`, { headers: auth });
      expect(gone.status(), await gone.text()).toBe(204);
    }
  }
}

test('hydrated, the grid and the card follow changes of state without a reload', async ({ page, context, request }) => {
  test.skip(!hydrated(), 'live updates need JavaScript');
  const problems: string[] = [];
  const watch = (p: Page) => {
    p.on('pageerror', (e) => problems.push(`${p.url()}: ${e.message}`));
    p.on('console', (m) => {
      if (m.type() === 'error' && /hydrat|panicked/i.test(m.text())) problems.push(`${p.url()}: ${m.text().slice(0, 300)}`);
    });
  };
  watch(page);
  await removeLiveCheck(request);
  await signIn(page);

  // Both pages subscribe to the stream of changes before the change happens.
  const gridLive = page.waitForResponse((r) => r.url().endsWith('/api/v1/health/events') && r.status() === 200);
  await page.goto('/health');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await gridLive;
  const entityPage = await context.newPage();
  watch(entityPage);
  const cardLive = entityPage.waitForResponse((r) => r.url().endsWith('/api/v1/health/events') && r.status() === 200);
  await entityPage.goto('/catalog/default/component/storefront');
  await expect(entityPage.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await cardLive;
  await expect(entityPage.getByRole('region', { name: 'Health', exact: true })).toHaveCount(0);
  await expect(page.locator('tr[data-entity="component:default/storefront"]')).toHaveCount(0);

  // A check added in the portal goes from unknown to down at its first probe.
  const created = await request.post('/api/v1/health/checks', {
    headers: auth,
    data: {
      entity: 'component:default/storefront',
      environment: 'staging',
      name: 'e2e-live',
      target: 'tcp://127.0.0.1:9',
      interval: '1s',
    },
  });
  expect(created.status(), await created.text()).toBe(201);
  try {
    const cell = page.locator('tr[data-entity="component:default/storefront"] td[data-environment="staging"]');
    await expect(cell.locator('.health-state')).toHaveText('Down', { timeout: 20_000 });
    const card = entityPage.getByRole('region', { name: 'Health', exact: true });
    await expect(card.locator('section[data-environment="staging"] .health-state').first()).toHaveText('Down', {
      timeout: 20_000,
    });
    await expect(card).toContainText('added in the portal');
  } finally {
    await removeLiveCheck(request);
  }
  expect(problems).toEqual([]);
});

test('an alert links to its runbook by title, and the runbook shows the service live', async ({ page, request }) => {
  const project = test.info().project.name;
  await signIn(page);
  await waitForCell(page, 'component:default/fraud-scorer', 'production', 'Down');

  // A runbook hosted in the portal, about the failing service.
  const title = `Fraud scorer unreachable (${project})`;
  const made = await request.post('/api/v1/pages', {
    headers: auth,
    data: {
      space: 'runbooks',
      title,
      kind: 'runbook',
      entities: ['component:default/fraud-scorer'],
      markdown: '## Steps\n\n1. Check the listener.\n2. Restart it.\n',
    },
  });
  expect(made.status(), await made.text()).toBe(201);
  const runbook = await made.json();
  const address = `/docs/${runbook.space}/${runbook.slug}`;
  // Alertmanager's webhook says an alert fires, with that runbook's full address (staging: no incident opened).
  const delivery = (status: string) => ({
    version: '4',
    status,
    alerts: [
      {
        status,
        labels: { alertname: 'FraudScorerUnreachable', service: 'fraud-scorer', env: 'staging', severity: 'critical' },
        annotations: { summary: 'Nothing listens on the scorer port', runbook_url: `http://127.0.0.1:3000${address}` },
        startsAt: '2026-12-01T10:00:00Z',
        endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-12-01T10:30:00Z',
        fingerprint: `e2e-runbook-${project}`,
      },
    ],
  });
  try {
    const fired = await request.post('/api/v1/health/alertmanager', { headers: auth, data: delivery('firing') });
    expect(fired.status(), await fired.text()).toBe(200);

    // The 3 a.m. path: the service's page, the firing alert, its runbook by name.
    await page.goto('/catalog/default/component/fraud-scorer');
    const staging = page.getByRole('region', { name: 'Health', exact: true }).locator('section[data-environment="staging"]');
    const alert = staging.locator('li[data-alert="FraudScorerUnreachable"]');
    await expect(alert).toContainText('firing');
    await expect(alert).toContainText('Nothing listens on the scorer port');
    await alert.getByRole('link', { name: `Runbook: ${title}` }).click();
    await expect(page).toHaveURL(new RegExp(`${address}$`));
    await expect(page.getByRole('heading', { level: 1 })).toContainText(title);

    // The runbook says how the service is doing right now, and what is firing.
    const live = page.getByRole('region', { name: 'Live state' });
    const service = live.locator('[data-entity="component:default/fraud-scorer"]');
    await expect(service.locator('li[data-environment="production"] > .health-state')).toHaveText('Down');
    await expect(service.locator('li[data-environment="staging"]')).toContainText('FraudScorerUnreachable');
    await service.getByRole('link', { name: 'fraud-scorer' }).click();
    await expect(page).toHaveURL(/\/catalog\/default\/component\/fraud-scorer#health$/);
  } finally {
    const resolved = await request.post('/api/v1/health/alertmanager', { headers: auth, data: delivery('resolved') });
    expect(resolved.status(), await resolved.text()).toBe(200);
    const gone = await request.delete(`/api/v1/pages/${runbook.id}`, { headers: auth });
    expect(gone.status(), await gone.text()).toBe(204);
  }
  // Resolved, the alert leaves the card and stays in its history.
  await page.goto('/catalog/default/component/fraud-scorer');
  const card = page.getByRole('region', { name: 'Health', exact: true });
  await expect(card.locator('section[data-environment="staging"]')).toHaveCount(0);
  await expect(card.locator('.health-alert-history li[data-alert="FraudScorerUnreachable"]').first()).toHaveAttribute(
    'data-state',
    'resolved',
  );
});
