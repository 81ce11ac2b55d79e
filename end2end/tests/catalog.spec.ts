// Catalog journeys: browse the imported catalog, filter it, open an entity and follow a relation to its owner.
import { test, expect, Page } from '@playwright/test';

const hydrated = (page: Page) => test.info().project.name === 'hydrated';

async function signIn(page: Page) {
  await page.goto('/login');
  if (hydrated(page)) await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: 'Authorize as octocat' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome, The Octocat');
}

test('filter the catalog, open an entity and follow its owner', async ({ page }) => {
  await signIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Catalog' }).click();
  await expect(page).toHaveURL(/\/catalog$/);
  await expect(page.getByText(/^\d+ entities match$/)).toBeVisible();

  await page.getByLabel('Kind').selectOption('component');
  await page.getByLabel('Owner').fill('payments');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/kind=component/);
  await expect(page).toHaveURL(/owner=payments/);
  await expect(page.getByText('2 entities match')).toBeVisible();
  const rows = page.locator('table.entity-table tbody tr');
  await expect(rows).toHaveCount(2);

  // The filtered view is a URL that can be shared.
  const shared = page.url();
  await page.goto(shared);
  await expect(page.getByText('2 entities match')).toBeVisible();

  await page.getByRole('link', { name: 'Payments API' }).click();
  await expect(page).toHaveURL(/\/catalog\/default\/component\/payments-api$/);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Payments API');
  await expect(page.locator('.lead')).toHaveText('Authorises and captures card payments for checkout.');
  await expect(page.getByRole('link', { name: 'Edit in repository' })).toHaveAttribute('href', /github\.com\/acme\/payments-api/);

  const relations = page.getByRole('region', { name: 'Relations' });
  await relations.getByRole('row', { name: /ownedBy/ }).getByRole('link').click();
  await expect(page).toHaveURL(/\/catalog\/default\/group\/payments$/);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Payments');
  await expect(page.getByRole('region', { name: 'Relations' }).getByRole('link', { name: 'Storefront' })).toBeVisible();
});

test('a dependency that does not exist is shown as missing', async ({ page }) => {
  await signIn(page);
  await page.goto('/catalog?q=portal');
  await page.locator('table.entity-table').getByRole('link', { name: 'Portolan', exact: true }).click();
  const row = page.getByRole('region', { name: 'Relations' }).getByRole('row', { name: /ledger/ });
  await expect(row).toContainText('missing');
  await expect(row.getByRole('link')).toHaveCount(0);
});

test('an entity its source no longer declares carries the orphan badge', async ({ page }) => {
  await signIn(page);
  await page.goto('/catalog?q=legacy');
  const row = page.locator('table.entity-table tbody tr', { hasText: 'Legacy billing' });
  await expect(row.locator('.badge')).toHaveText('orphan');
  await row.getByRole('link', { name: 'Legacy billing' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('orphan');
});

test('create and edit a portal-managed entity', async ({ page }) => {
  const name = `ledger-${test.info().project.name}`;
  await signIn(page);
  await page.goto('/catalog');
  await page.getByRole('link', { name: 'New entity' }).click();
  await expect(page).toHaveURL(/\/catalog\/new$/);
  if (hydrated(page)) await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const field = (f: string) => page.locator(`[name="form[${f}]"]`);
  await field('name').fill(name);
  await field('title').fill('Ledger');
  await field('owner').selectOption('group:default/platform');
  await field('spec_type').fill('service');
  await field('lifecycle').fill('experimental');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(new RegExp(`/catalog/default/component/${name}$`));
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Ledger');
  await expect(page.getByRole('region', { name: 'Relations' }).getByRole('link', { name: 'Platform' })).toBeVisible();

  await page.getByRole('link', { name: 'Edit', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/catalog/default/component/${name}/edit$`));
  if (hydrated(page)) await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator('[name="form[owner]"]')).toHaveValue('group:default/platform');
  await page.locator('[name="form[title]"]').fill('General ledger');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(new RegExp(`/catalog/default/component/${name}$`));
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('General ledger');
});
