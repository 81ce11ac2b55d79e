// Deploys: a CD tool reports deployments through the API; people read the timeline and what runs where, a
// service's deploys with the commits each brought, and the DORA figures with a drill-down. Hydrated and no-JS.
import { test, expect, Page, APIRequestContext } from '@playwright/test';

const TOKEN = 'e2e-admin-token-0123456789';

async function signIn(page: Page) {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: 'Authorize as monalisa' }).click();
  await expect(page.locator('.user-name')).toBeVisible();
}

function ago(hours: number): string {
  return new Date(Date.now() - hours * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
}

// The same external ids every time: posting them again updates, so both projects see the same history.
async function recordHistory(request: APIRequestContext) {
  const post = async (body: object) => {
    const res = await request.post('/api/v1/deployments', {
      data: body,
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status(), await res.text()).toBeLessThan(300);
  };
  const d = (id: string, env: string, sha: string, status: string, hoursAgo: number, extra: object = {}) => ({
    component: 'payments-api', environment: env, status, external_id: id, commit_sha: sha,
    version: `v2.${sha.slice(-1)}.0`, started_at: ago(hoursAgo + 0.1), finished_at: ago(hoursAgo),
    actor: 'argocd', url: 'https://ci.example/run/' + id, ...extra,
  });
  await post(d('e2e-s1', 'staging', 'e2e0001', 'success', 50, {
    commits: [{ sha: 'e2e0001', committed_at: ago(60), pr_number: 41, pr_first_commit_at: ago(70) }],
  }));
  await post(d('e2e-p1', 'production', 'e2e0001', 'success', 48));
  await post(d('e2e-s2', 'staging', 'e2e0002', 'success', 20, {
    commits: [{ sha: 'e2e0002', committed_at: ago(22), pr_number: 42 }],
  }));
  await post(d('e2e-p2', 'production', 'e2e0002', 'failure', 18));
  await post(d('e2e-p3', 'production', 'e2e0002', 'success', 17));
  await post(d('e2e-p4', 'production', 'e2e0001', 'success', 16, { rollback_of: 'e2e-p3' }));
  await post(d('e2e-s3', 'staging', 'e2e0003', 'success', 2, {
    commits: [{ sha: 'e2e0003', committed_at: ago(3), pr_number: 43 }],
  }));
}

test.beforeEach(async ({ request }) => {
  await recordHistory(request);
});

test('the deploys timeline shows what runs where and filters by environment', async ({ page }) => {
  await signIn(page);
  await page.goto('/deploys');
  const matrix = page.getByRole('region', { name: 'What runs where' });
  const row = matrix.getByRole('row', { name: /payments-api/ });
  // Staging runs e2e0003 and e2e0002 that production (rolled back to e2e0001) does not.
  await expect(row.getByText('v2.3.0')).toBeVisible();
  await expect(row.getByText('+2 ahead')).toBeVisible();
  await expect(row.getByText('v2.1.0')).toBeVisible();

  const timeline = page.getByRole('region', { name: 'Timeline' });
  await expect(timeline.locator('tr[data-deployment="e2e-p2"]')).toContainText('failure');
  await page.getByLabel('Environment').selectOption('production');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/environment=production/);
  await expect(timeline.locator('tr[data-deployment="e2e-p4"]')).toContainText('rollback');
  await expect(timeline.locator('tr[data-deployment="e2e-s3"]')).toHaveCount(0);
});

test("a service's page lists its deploys with the commits each brought", async ({ page }) => {
  await signIn(page);
  await page.goto('/catalog/default/component/payments-api');
  const deploys = page.getByRole('region', { name: 'Deploys' });
  const p3 = deploys.locator('tr[data-deployment="e2e-p3"]');
  await expect(p3).toContainText('production');
  await expect(p3).toContainText('argocd');
  await p3.getByText('1 commit').click();
  await expect(p3.getByText('e2e0002')).toBeVisible();
  await expect(p3.getByText('#42')).toBeVisible();
  await deploys.getByRole('link', { name: 'DORA figures' }).click();
  await expect(page).toHaveURL(/\/dora\?scope=component/);
});

test('the DORA page shows the four keys and drills down to the deployments behind them', async ({ page }) => {
  await signIn(page);
  await page.goto('/dora?scope=component:default/payments-api&days=30');
  const cfr = page.getByRole('region', { name: 'Change failure rate' });
  // Three production units (p1, p3 and the rollback p4); p3 failed.
  await expect(cfr.locator('.kpi-value')).toContainText('%');
  await expect(page.getByText(/Pipeline failures .*: 1/)).toBeVisible();
  await expect(page.getByRole('img', { name: 'Deployments per week' })).toBeVisible();
  await cfr.getByRole('link', { name: /of \d+ deployments/ }).click();
  const drill = page.getByRole('region', { name: 'Deployments that caused a failure' });
  await expect(drill.locator('tr[data-deployment="e2e-p3"]')).toBeVisible();
  await page.getByRole('link', { name: 'How is this computed?' }).click();
  await expect(page.getByRole('heading', { name: 'Change failure rate' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Performance bands' }).getByRole('row')).not.toHaveCount(0);
});
