// Cost: an administrator imports a billing file through the form, reads the organisation's month (both views,
// the tables and a CSV download) and a service's cost section. Hydrated and no-JS. The fixture is a CUR file
// written by `portolan cost generate --format cur --lines 400 --seed 11 --month 2026-10`, whose totals the
// generator printed: effective 1073.363495629, billed 4503.874973687, unallocated (effective) 380.956612273.
import { test, expect, Page } from '@playwright/test';
import * as path from 'path';
import * as fs from 'fs';

const TOKEN = 'e2e-admin-token-0123456789';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'cost', 'cur-2026-10.csv');

async function signIn(page: Page, login: string) {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: `Authorize as ${login}` }).click();
  await expect(page.locator('.user-name')).toBeVisible();
}

async function importFixture(page: Page) {
  await page.goto('/cost');
  await page.getByLabel('Billing file').setInputFiles(FIXTURE);
  await page.getByRole('button', { name: 'Import' }).click();
  await page.waitForURL(/\/cost\?month=2026-10/);
}

test('an administrator imports a billing file and reads the month in both views', async ({ page }) => {
  await signIn(page, 'octocat');
  await importFixture(page);
  await expect(page.locator('#cost-notice')).toContainText('AWS 111122223333 2026-10');
  await expect(page.locator('#cost-notice')).toContainText('1073.36 USD effective');
  await expect(page.locator('#cost-total')).toHaveText('1073.36 USD');
  await expect(page.locator('#cost-allocated')).toHaveText('64.5%');
  await expect(page.locator('#cost-change')).toContainText('new');
  await expect(page.locator('#cost-by-team').getByRole('row', { name: /payments/ })).toContainText('180.23 USD');
  await expect(page.locator('#cost-by-component').getByRole('row', { name: /storefront/ })).toContainText('286.62 USD');
  await expect(page.locator('#cost-daily rect.bar')).not.toHaveCount(0);

  // The invoice view.
  await page.getByLabel('Cost').selectOption('billed');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/metric=billed/);
  await expect(page.locator('#cost-total')).toHaveText('4503.87 USD');

  // Every table downloads as CSV, amounts exact.
  const href = await page.locator('#cost-by-component ~ a', { hasText: 'Download CSV' }).getAttribute('href');
  const res = await page.request.get(href!);
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toContain('text/csv');
  const csv = await res.text();
  expect(csv).toContain('component:default/storefront,248.0416352,USD');
  expect(csv).toContain('(unallocated),3933.48238353,USD');
});

test('importing the same file again changes nothing; a bad file is refused and changes nothing', async ({ page }) => {
  await signIn(page, 'octocat');
  await importFixture(page);
  await importFixture(page);
  await expect(page.locator('#cost-total')).toHaveText('1073.36 USD');
  await page.goto('/cost');
  await page.getByLabel('Billing file').setInputFiles({
    name: 'export.csv', mimeType: 'text/csv', buffer: Buffer.from('Date,Amount\n2026-10-01,3.50\n'),
  });
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.locator('#cost-error')).toContainText('export.csv: line 1: the header is not FOCUS');
  await page.goto('/cost?month=2026-10');
  await expect(page.locator('#cost-total')).toHaveText('1073.36 USD');
});

test("a service's page shows its cost by day, environment and cloud service", async ({ page }) => {
  await signIn(page, 'octocat');
  await importFixture(page);
  await page.goto('/catalog/default/component/storefront');
  const cost = page.getByRole('region', { name: 'Cost' });
  await expect(cost.locator('#entity-cost-total')).toContainText('USD');
  await expect(cost.locator('#cost-daily rect.bar')).toHaveCount(30);
  await expect(cost.locator('#entity-cost-by-environment')).toContainText('production');
  await expect(cost.locator('#entity-cost-by-service')).toContainText('Amazon');
});

test('people who may not import see no import form', async ({ page }) => {
  await signIn(page, 'monalisa');
  await page.goto('/cost');
  await expect(page.getByRole('heading', { name: 'Cost', level: 1 })).toBeVisible();
  await expect(page.getByLabel('Billing file')).toHaveCount(0);
});

test('a team member sets a monthly budget and sees it against the spend and forecast', async ({ page, request }) => {
  const res = await request.post('/api/v1/cost/imports?name=cur-2026-10.csv', {
    data: fs.readFileSync(FIXTURE),
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'text/csv' },
  });
  expect(res.status(), await res.text()).toBe(201);
  await signIn(page, 'monalisa');
  await page.goto('/cost?month=2026-10');
  const form = page.locator('#budget-form');
  await form.getByLabel('Team or component').fill('payments');
  await form.getByLabel('Monthly budget').fill('150');
  await form.getByRole('button', { name: 'Set budget' }).click();
  await expect(page.locator('#cost-notice')).toContainText('Budget of payments saved.');
  const row = page.locator('#cost-budgets tr[data-scope="group:default/payments"]');
  await expect(row).toContainText('180.23 USD (120.2%)');
  await expect(row).toContainText('150.00 USD');
  await expect(row).toContainText('over budget');

  // Another team's budget is refused, with the reason.
  await form.getByLabel('Team or component').fill('platform');
  await form.getByLabel('Monthly budget').fill('10');
  await form.getByRole('button', { name: 'Set budget' }).click();
  await expect(page.locator('#cost-error')).toContainText('cost.budget.edit');
});

// A FOCUS file for June 2026 (another account, so October's figures above stay as they are): storefront spends
// about 5.00 a day and 60.00 on 25 June; untagged spend is 1.00 a day and 30.00 on 27 June.
const SPIKE = path.join(__dirname, '..', 'fixtures', 'cost', 'focus-2026-06-spike.csv');

test("a service's owner dismisses an anomaly with a reason and reopens it", async ({ page, request }) => {
  const res = await request.post('/api/v1/cost/imports?name=focus-2026-06-spike.csv', {
    data: fs.readFileSync(SPIKE),
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'text/csv' },
  });
  expect(res.status(), await res.text()).toBe(201);
  await signIn(page, 'monalisa');
  await page.goto('/cost?month=2026-06');
  const spike = page.locator('#cost-anomalies tr[data-scope="component:default/storefront"][data-day="2026-06-25"]');
  await expect(spike).toContainText('60.00 USD');
  await expect(spike).toHaveAttribute('data-status', 'open');
  // Untagged spend is nobody's component: only administrators may decide about it.
  const untagged = page.locator('#cost-anomalies tr[data-scope="unallocated"][data-day="2026-06-27"]');
  await expect(untagged).toContainText('30.00 USD');
  await expect(untagged.getByRole('button', { name: 'Dismiss' })).toHaveCount(0);

  await spike.getByLabel('Reason').fill('quarterly load test');
  await spike.getByRole('button', { name: 'Dismiss' }).click();
  await expect(page.locator('#cost-notice')).toContainText('Anomaly of storefront on 2026-06-25 dismissed.');
  const dismissed = page.locator('#cost-anomalies tr[data-scope="component:default/storefront"][data-day="2026-06-25"]');
  await expect(dismissed).toHaveAttribute('data-status', 'dismissed');
  await expect(dismissed).toContainText('by monalisa');
  await expect(dismissed).toContainText('quarterly load test');

  await dismissed.getByRole('button', { name: 'Reopen' }).click();
  await expect(page.locator('#cost-notice')).toContainText('reopened');
  await expect(page.locator('#cost-anomalies tr[data-day="2026-06-25"]')).toHaveAttribute('data-status', 'open');
});

test('an administrator edits the allocation rules; a mistake comes back with the text as typed', async ({ page }) => {
  await signIn(page, 'octocat');
  await page.goto('/cost');
  await page.locator('#rules summary').click();
  const editor = page.getByLabel('Rules (YAML)');
  const original = await editor.inputValue();
  expect(original).toContain('component_tags:');
  expect(original).toContain('shared: []');

  // A YAML mistake: refused, naming the line; the editor opens again with what was typed.
  const broken = `${original}\naccounts: [unclosed\n`;
  await editor.fill(broken);
  await page.getByRole('button', { name: 'Save and re-allocate' }).click();
  await expect(page.locator('#cost-error')).toContainText('Rules not saved, nothing changed: line');
  await expect(page.getByLabel('Rules (YAML)')).toHaveValue(broken);

  // A shared rule (for a tag no test file carries, so the other tests' figures stay): saved and shown.
  const edited = original.replace('shared: []', 'shared:\n- name: e2e-unused\n  tag: e2e=unused\n  split: proportional');
  await page.getByLabel('Rules (YAML)').fill(edited);
  await page.getByRole('button', { name: 'Save and re-allocate' }).click();
  await expect(page.locator('#cost-notice')).toContainText('Allocation rules saved');
  await expect(page.locator('#rules')).toContainText('by octocat');
  await page.locator('#rules summary').click();
  await expect(page.getByLabel('Rules (YAML)')).toHaveValue(/name: e2e-unused/);

  // And back to what was there.
  await page.getByLabel('Rules (YAML)').fill(original);
  await page.getByRole('button', { name: 'Save and re-allocate' }).click();
  await expect(page.locator('#cost-notice')).toContainText('Allocation rules saved');
  await page.locator('#rules summary').click();
  await expect(page.getByLabel('Rules (YAML)')).toHaveValue(original);
});

test('people who may not change the allocation rules see no rules editor', async ({ page }) => {
  await signIn(page, 'monalisa');
  await page.goto('/cost');
  await expect(page.getByRole('heading', { name: 'Cost', level: 1 })).toBeVisible();
  await expect(page.locator('#rules')).toHaveCount(0);
});
