// Every page hydrates without a mismatch: a hydration error leaves a page dead to clicks and keys while it still
// looks right, which no other journey would notice on a page it only reads. Hydrated project only.
import { test, expect, Page } from '@playwright/test';

async function signIn(page: Page) {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: 'Authorize as monalisa' }).click();
  await expect(page.locator('.user-name')).toBeVisible();
}

test('every page hydrates without errors', async ({ page }) => {
  test.skip(test.info().project.name !== 'hydrated', 'hydration needs JavaScript');
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /hydrat|panicked|regular expression/i.test(m.text())) {
      problems.push(`${page.url()}: ${m.text().slice(0, 300)}`);
    }
  });
  await signIn(page);

  // A guide about the payments team, so the guide checklist, the team's onboarding and the files show.
  await page.goto('/docs/new');
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const title = `Hydration guide ${Date.now()}`;
  await page.getByLabel('Space').fill('payments');
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Kind').selectOption('guide');
  await page.getByLabel('Owning team').fill('group:default/payments');
  await page.getByLabel('About').fill('group:default/payments, component:default/payments-api');
  await page.getByLabel('Markdown').fill('# Welcome\n\n## Get access\n\nSee [[component:payments-api]].\n');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/docs\/payments\/hydration-guide-/);
  const doc = new URL(page.url()).pathname;

  const pages = [
    '/', '/catalog', '/catalog?kind=component', '/catalog/default/component/payments-api', '/catalog/default/group/payments',
    '/catalog/locations', '/catalog/new', '/docs', '/docs?space=payments', '/docs/new', doc, `${doc}/edit`, `${doc}/history`,
    `${doc}/revisions/1`, '/search?q=payments', '/people/monalisa', '/settings/tokens', '/settings/access',
    '/deploys', '/deploys?environment=production', '/dora', '/dora?scope=group:default/payments&drill=frequency', '/dora/how',
    '/cost', '/cost?month=2026-10&metric=billed', '/cost?month=2026-10&team=payments',
  ];
  for (const path of pages) {
    await page.goto(path);
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
    // Give a late mismatch (inside a resolved suspense) time to surface.
    await page.waitForTimeout(300);
  }
  expect(problems).toEqual([]);
});
