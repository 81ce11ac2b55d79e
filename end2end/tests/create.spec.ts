// Scaffolding: pick a template, fill two form steps with a refusal on the way (and Back keeping what was typed),
// review, dry-run, create, watch the run's log, and open the new service in the catalog. The repository is
// created on the fake GitHub, which keeps a real bare git repository that the portal pushes to. Hydrated and
// no-JS: each project creates its own repository.
import { test, expect, Page } from '@playwright/test';

async function signIn(page: Page, login: string) {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: `Authorize as ${login}` }).click();
  await expect(page.locator('.user-name')).toBeVisible();
}

test('a new service from a template: wizard, dry-run, live log, catalog', async ({ page }, info) => {
  const name = `e2e-svc-${info.project.name}`;
  await signIn(page, 'octocat');
  await page.goto('/create');
  const card = page.locator('[data-template="template:default/e2e-service"]');
  await expect(card).toContainText('A small service, created by the browser tests');
  await card.getByRole('link', { name: 'Choose' }).click();

  // Step 1: about the service.
  await expect(page.getByRole('heading', { name: 'About the service' })).toBeVisible();
  // Hydrated, the step reacts to a choice only once the browser code runs: on a cold machine the wizard may have
  // been loaded as a whole page (Choose clicked before /create hydrated) and still be loading it.
  if (info.project.name === 'hydrated') await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByLabel('Description')).toHaveValue('Created from the E2E template');
  await page.getByLabel('Name *').fill(name);
  await page.getByLabel('Owner *').selectOption('group:default/engineering');

  // A choice that decides the next field: hydrated, the step is laid out again as soon as it changes; without
  // JavaScript, the field's own button does it. What was typed stays.
  await expect(page.getByLabel('Rust edition')).toHaveValue('2024');
  await page.getByLabel('Language').selectOption('go');
  if (info.project.name === 'no-js') await page.getByRole('button', { name: 'Show the fields for this choice' }).click();
  await expect(page.getByLabel('Go version *')).toBeVisible();
  await expect(page.getByLabel('Rust edition')).toHaveCount(0);
  await expect(page.getByLabel('Name *')).toHaveValue(name);
  await expect(page.getByLabel('Language')).toHaveValue('go');
  await page.getByLabel('Go version *').fill('1.23');
  await page.locator('#next').click();

  // Step 2: a repository name GitHub would refuse; the server says so next to the field.
  await expect(page.getByRole('heading', { name: 'Repository' })).toBeVisible();
  await page.getByLabel('Owner', { exact: true }).selectOption('acme');
  await page.getByLabel('Repository name').fill('not a name');
  await page.locator('#next').click();
  await expect(page.locator('[data-field="repoUrl"] .field-error')).toContainText('is not a valid repository name');

  // Back keeps what was typed.
  await page.getByRole('button', { name: 'Back' }).click();
  await expect(page.getByLabel('Name *')).toHaveValue(name);
  await page.locator('#next').click();
  await expect(page.getByLabel('Repository name')).toHaveValue('not a name');
  await page.getByLabel('Repository name').fill(name);
  await page.locator('#next').click();

  // Review, then a dry-run that shows the rendered files and creates nothing.
  const review = page.locator('#review');
  await expect(review).toContainText(name);
  await expect(review).toContainText('group:default/engineering');
  await page.locator('#dry-run').click();
  const dry = page.locator('#dry-run-result');
  await expect(dry).toContainText('Would create the private repository acme/' + name);
  await expect(page.locator('#dry-run-files')).toContainText('catalog-info.yaml');
  await dry.getByText('README.md').click();
  await expect(dry.locator('pre').first()).toContainText(`# ${name}`);

  // Create: the task page follows the run to the end.
  await page.locator('#create').click();
  await page.waitForURL(/\/create\/tasks\//);
  const status = page.locator('#task-status');
  if (info.project.name === 'no-js') {
    // Without JavaScript the page shows the state it was loaded with: reload until the run ends.
    for (let i = 0; i < 40 && (await status.getAttribute('data-status')) !== 'completed'; i++) {
      await page.waitForTimeout(250);
      await page.reload();
    }
  }
  // A busy machine may take a while to create and push the repository.
  await expect(status).toHaveAttribute('data-status', 'completed', { timeout: 30_000 });
  await expect(page.locator('#task-log')).toContainText(`Pushed 3 files to acme/${name}`);
  await expect(page.locator('#task-steps li[data-status="completed"]')).toHaveCount(3);

  await page.locator('#task-links').getByRole('link', { name: 'Open in catalog' }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
  await expect(page.locator('body')).toContainText('Created from the E2E template');
});
