// Catalog journeys: browse the imported catalog, filter it, open an entity and follow a relation to its owner.
import { test, expect, Page } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

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
  // The repository's catalog file on the configured GitHub (here the fake, as a GitHub Enterprise would be).
  await expect(page.getByRole('link', { name: 'Edit in repository' })).toHaveAttribute(
    'href',
    'http://127.0.0.1:3999/acme/payments-api/blob/HEAD/catalog-info.yaml',
  );

  const relations = page.getByRole('region', { name: 'Relations' });
  await relations.getByRole('row', { name: /ownedBy/ }).getByRole('link').click();
  await expect(page).toHaveURL(/\/catalog\/default\/group\/payments$/);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Payments');
  await expect(page.getByRole('region', { name: 'Relations' }).getByRole('link', { name: 'Storefront' })).toBeVisible();
});

test('sort the catalog by a column, and by namespace filter', async ({ page }) => {
  await signIn(page);
  await page.goto('/catalog?kind=component&namespace=default');
  await expect(page.getByLabel('Namespace')).toHaveValue('default');
  const name = page.locator('table.entity-table thead th', { hasText: 'Name' });
  await expect(name).toHaveAttribute('aria-sort', 'ascending');
  await name.getByRole('link').click();
  await expect(page).toHaveURL(/kind=component&namespace=default&sort=-name$/);
  await expect(page.locator('table.entity-table thead th', { hasText: 'Name' })).toHaveAttribute('aria-sort', 'descending');
  await expect(page.getByLabel('Sort')).toHaveValue('-name');
  const names = await page.locator('table.entity-table tbody tr td:first-child a').allTextContents();
  expect(names.length).toBeGreaterThan(1);
  await page.goto('/catalog?kind=component&namespace=elsewhere');
  await expect(page.getByText('0 entities match')).toBeVisible();
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
  // Its file is gone, so it can only be removed here (octocat administers the portal), though it names a repository.
  await expect(page.getByRole('button', { name: 'Remove orphan' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Edit in repository' })).toHaveCount(0);
});

test('import a catalog from the locations page, problems and all', async ({ page }) => {
  // A catalog of this run's own: one good entity, and a file whose second document is broken.
  const project = test.info().project.name;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `portolan-e2e-${project}-`));
  const component = (name: string, title: string) =>
    `apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${name}\n  title: ${title}\n` +
    `spec:\n  type: service\n  lifecycle: experimental\n  owner: platform\n`;
  fs.writeFileSync(path.join(dir, 'catalog-info.yaml'), component(`imported-${project}`, `Imported ${project}`));
  fs.writeFileSync(path.join(dir, 'broken.yaml'), `${component(`kept-${project}`, 'Kept')}---\nkind: [oops\n`);

  await signIn(page);
  await page.goto('/catalog');
  await page.getByRole('link', { name: 'Locations' }).click();
  await expect(page).toHaveURL(/\/catalog\/locations$/);
  if (hydrated(page)) await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await page.getByLabel('Path or URL').fill(dir);
  await page.getByRole('button', { name: 'Register and import' }).click();
  if (hydrated(page)) {
    await expect(page.locator('p.alert[role="status"]')).toContainText('2 added, 0 updated, 0 unchanged, 0 removed, 0 orphaned, 1 errors');
  }
  const row = page.locator('table.entity-table tbody tr', { hasText: dir });
  await expect(row.locator('.badge')).toHaveText('failed');
  await expect(row).toContainText(/\d{4}-\d\d-\d\d \d\d:\d\d.*UTC/);
  // The problem names the file, the document and the line.
  await expect(row.locator('pre.errors')).toContainText('broken.yaml');
  await expect(row.locator('pre.errors')).toContainText('document 2');
  await expect(row.locator('pre.errors')).toContainText('line');

  // The good documents, including the one beside the broken document, are in the catalog.
  await page.goto(`/catalog?q=${project}`);
  await expect(page.locator('table.entity-table').getByRole('link', { name: `Imported ${project}` })).toBeVisible();
  await page.goto(`/catalog?q=kept-${project}`);
  await expect(page.locator('table.entity-table').getByRole('link', { name: 'Kept' })).toBeVisible();
  fs.rmSync(dir, { recursive: true, force: true });
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
