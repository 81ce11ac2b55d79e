// Runbooks in the browser: a team member writes one with a table and a code block, previews it, saves, edits,
// compares two revisions and restores an old one; two people edit the same page at once and the second merges
// the conflict without losing text; someone outside the team can read but not edit; leaving with unsaved text
// asks first. Hydrated and without JavaScript (the editor is a plain form then).
import { test, expect, Page, Browser, BrowserContext } from '@playwright/test';

const isHydrated = () => test.info().project.name === 'hydrated';

async function waitForApp(page: Page) {
  if (isHydrated()) await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}

async function signInAs(page: Page, login: string) {
  await page.goto('/login');
  await waitForApp(page);
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: `Authorize as ${login}` }).click();
  await expect(page.locator('.user-name')).toBeVisible();
}

async function signedInContext(browser: Browser, login: string): Promise<[BrowserContext, Page]> {
  const context = await browser.newContext({ javaScriptEnabled: isHydrated() });
  const page = await context.newPage();
  await signInAs(page, login);
  return [context, page];
}

/// A fresh title per run and project, so the journeys never meet each other's pages.
const uniqueTitle = (what: string) => `${what} ${test.info().project.name} ${Date.now()}`;
const slugOf = (title: string) => title.toLowerCase().replace(/[^a-z0-9]+/g, '-');

/// Makes a payments runbook about payments-api through the new-page form and lands on it.
async function newRunbook(page: Page, title: string, markdown: string) {
  await page.goto('/docs/new?entity=component%3Adefault%2Fpayments-api');
  await waitForApp(page);
  await page.getByLabel('Space').fill('payments');
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Owning team').fill('group:default/payments');
  await page.getByLabel('Markdown').fill(markdown);
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(new RegExp(`/docs/payments/${slugOf(title)}$`));
  await expect(page.locator('.page-heading h1')).toContainText(title);
  await waitForApp(page);
}

async function openEditor(page: Page) {
  await page.getByRole('link', { name: 'Edit', exact: true }).click();
  await expect(page).toHaveURL(/\/edit$/);
  await waitForApp(page);
}

async function save(page: Page) {
  if (isHydrated()) {
    // The keyboard shortcut, where a script can listen for it.
    await page.getByLabel('Markdown').press('Control+s');
  } else {
    await page.getByRole('button', { name: 'Save', exact: true }).click();
  }
}

const STEPS = [
  '# Rotate the database password',
  '',
  '| host | role |',
  '|------|------|',
  '| db-primary | writer |',
  '| db-replica | reader |',
  '',
  '```sh',
  'vault write database/rotate-root/payments',
  '```',
  '',
].join('\n');

test('a team member writes a runbook, previews, saves, edits, compares and restores', async ({ page }) => {
  const title = uniqueTitle('Rotate secrets');
  await signInAs(page, 'monalisa');
  await newRunbook(page, title, '# Rotate\n\nFirst draft.\n');
  await expect(page.getByText('Revision 1 by monalisa')).toBeVisible();

  await openEditor(page);
  const source = page.getByLabel('Markdown');
  await expect(source).toHaveValue(/First draft\./);
  await source.fill(STEPS);
  if (isHydrated()) {
    // The preview follows the text without a reload, rendered by the server's own renderer.
    const preview = page.getByTestId('preview');
    await expect(preview.locator('td').first()).toHaveText('db-primary');
    await expect(preview.locator('pre code')).toContainText('vault write database/rotate-root/payments');
  }
  await page.getByLabel('Edit summary').fill('steps as a table');
  await save(page);
  await expect(page).toHaveURL(new RegExp(`/docs/payments/${slugOf(title)}$`));
  await expect(page.getByText('Revision 2 by monalisa')).toBeVisible();
  const body = page.locator('article.doc-body');
  await expect(body.locator('td').first()).toHaveText('db-primary');
  await expect(body.locator('pre code')).toContainText('vault write');

  await openEditor(page);
  await page.getByLabel('Markdown').fill(STEPS.replace('db-primary', 'db-main'));
  await page.getByLabel('Edit summary').fill('the primary was renamed');
  await save(page);
  await expect(page.getByText('Revision 3 by monalisa')).toBeVisible();
  await expect(body.locator('td').first()).toHaveText('db-main');

  // History: the latest two revisions are compared by default, side by side, the changed word marked.
  await page.getByRole('link', { name: 'History' }).click();
  await waitForApp(page);
  await expect(page.getByRole('row', { name: /the primary was renamed/ })).toBeVisible();
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByRole('heading', { name: /Revision 2 → 3/ })).toBeVisible();
  await expect(page.locator('td.diff-old mark')).toHaveText('db-primary');
  await expect(page.locator('td.diff-new mark')).toHaveText('db-main');

  // Revision 2 read as it was, then restored as a new revision.
  await page.getByRole('link', { name: '#2', exact: true }).click();
  await expect(page.locator('main > h1')).toContainText('revision 2');
  await waitForApp(page);
  await expect(page.locator('article.doc-body td').first()).toHaveText('db-primary');
  await page.getByRole('button', { name: 'Restore this revision' }).click();
  await expect(page).toHaveURL(new RegExp(`/docs/payments/${slugOf(title)}$`));
  await expect(page.getByText('Revision 4 by monalisa')).toBeVisible();
  await expect(body.locator('td').first()).toHaveText('db-primary');
  await page.getByRole('link', { name: 'History' }).click();
  await expect(page.getByRole('row', { name: /Restored revision 2/ })).toBeVisible();

  // The service's page lists its runbooks.
  await page.goto('/catalog/default/component/payments-api');
  await expect(page.getByRole('region', { name: 'Runbooks and docs' }).getByRole('link', { name: title })).toBeVisible();
});

test('two people edit the same page: the second save is a conflict, merged without losing text', async ({ page, browser }) => {
  const title = uniqueTitle('Failover');
  await signInAs(page, 'monalisa');
  await newRunbook(page, title, '# Failover\n\n1. Page the on-call\n');
  const editUrl = `/docs/payments/${slugOf(title)}/edit`;
  const [otherContext, other] = await signedInContext(browser, 'octocat');

  // Both open the editor on revision 1.
  await page.goto(editUrl);
  await waitForApp(page);
  await other.goto(editUrl);
  await waitForApp(other);

  await page.getByLabel('Markdown').fill('# Failover\n\n1. Page the on-call\n2. Promote the replica\n');
  await save(page);
  await expect(page.getByText('Revision 2 by monalisa')).toBeVisible();

  const mine = '# Failover\n\n1. Page the on-call\n2. Check the dashboards first\n';
  await other.getByLabel('Markdown').fill(mine);
  await other.getByLabel('Edit summary').fill('dashboards');
  await save(other);
  const alert = other.locator('.conflict');
  await expect(alert).toContainText('someone else saved first');
  await expect(alert).toContainText('Revision 2 was saved by monalisa');
  await expect(alert.locator('td.diff-new').filter({ hasText: 'Promote the replica' })).toBeVisible();
  // Nothing typed is lost.
  await expect(other.getByLabel('Markdown')).toHaveValue(mine);

  const merged = '# Failover\n\n1. Page the on-call\n2. Check the dashboards first\n3. Promote the replica\n';
  await other.getByLabel('Markdown').fill(merged);
  await save(other);
  await expect(other.getByText('Revision 3 by octocat')).toBeVisible();
  const items = other.locator('article.doc-body li');
  await expect(items).toHaveText(['Page the on-call', 'Check the dashboards first', 'Promote the replica']);
  await otherContext.close();
});

test('someone outside the owning team reads a runbook but cannot edit it', async ({ page, browser }) => {
  const title = uniqueTitle('Payments refunds');
  const [monaContext, mona] = await signedInContext(browser, 'monalisa');
  await newRunbook(mona, title, '# Refunds\n\nOnly payments edits this.\n');
  // What the edit form would post, read from the owner's own editor.
  await mona.goto(`/docs/payments/${slugOf(title)}/edit`);
  const pageId = await mona.locator('input[name="page_id"]').first().inputValue();
  const baseRevision = await mona.locator('input[name="base_revision"]').first().inputValue();
  await monaContext.close();

  await signInAs(page, 'hubot');
  await page.goto(`/docs/payments/${slugOf(title)}`);
  await expect(page.getByText('Only payments edits this.')).toBeVisible();
  await expect(page.getByRole('link', { name: 'History' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Edit', exact: true })).toHaveCount(0);
  const res = await page.goto(`/docs/payments/${slugOf(title)}/edit`);
  expect(res?.status()).toBe(403);
  await expect(page.getByText(/You may not docs\.edit/)).toBeVisible();
  await expect(page.getByLabel('Markdown')).toHaveCount(0);

  // Posting the edit form directly, from this origin with hubot's session, is refused too, and changes nothing.
  const posted = await page.request.post('/fn/docs_save', {
    headers: { Origin: new URL(page.url()).origin },
    form: { page_id: pageId, base_revision: baseRevision, title, markdown: '# Refunds\n\nHubot was here.\n', summary: 'x' },
  });
  expect(posted.status()).toBe(403);
  expect(await posted.text()).toContain('docs.edit');
  await page.goto(`/docs/payments/${slugOf(title)}`);
  await expect(page.getByText('Only payments edits this.')).toBeVisible();
  await expect(page.getByText('Hubot was here.')).toHaveCount(0);
});

test('leaving the editor with unsaved text asks first', async ({ page }) => {
  test.skip(!isHydrated(), 'the question needs a script; without one the browser leaves as asked');
  const title = uniqueTitle('Unsaved');
  await signInAs(page, 'monalisa');
  await newRunbook(page, title, 'Start\n');
  await openEditor(page);
  await page.getByLabel('Markdown').fill('Start\n\nHalf-written thought');

  // A link inside the portal: the question comes first; "stay" keeps the text.
  page.once('dialog', (d) => d.dismiss());
  await page.getByRole('link', { name: 'Docs', exact: true }).first().click();
  await expect(page).toHaveURL(/\/edit$/);
  await expect(page.getByLabel('Markdown')).toHaveValue('Start\n\nHalf-written thought');

  // Closing the tab asks too.
  let asked = '';
  page.once('dialog', async (d) => {
    asked = d.type();
    await d.accept();
  });
  await page.close({ runBeforeUnload: true });
  await expect.poll(() => asked).toBe('beforeunload');
});

test('find a page from anywhere: Ctrl-K, or the search page without JavaScript', async ({ page }) => {
  const title = uniqueTitle('Certificate renewal');
  await signInAs(page, 'monalisa');
  await newRunbook(page, title, '# Renew\n\nRun certbot renew on the edge hosts.\n');
  await page.goto('/catalog');
  await waitForApp(page);
  if (isHydrated()) {
    await page.keyboard.press('Control+k');
    const palette = page.getByRole('dialog', { name: 'Search' });
    await expect(palette).toBeVisible();
    // Words from the page's text, partial: the palette lists it as you type.
    await palette.getByRole('searchbox').fill('certb edge');
    await expect(palette.getByRole('option').first()).toContainText(title);
    await expect(palette.locator('mark').first()).toHaveText('certb');
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(new RegExp(`/docs/payments/${slugOf(title)}$`));
    await expect(palette).toHaveCount(0);
    // Escape closes it.
    await page.keyboard.press('Control+k');
    await expect(palette).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(palette).toHaveCount(0);
  } else {
    await page.getByRole('link', { name: /Search/ }).click();
    await expect(page).toHaveURL(/\/search$/);
    await page.getByRole('searchbox', { name: 'Words' }).fill('certb edge');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const results = page.getByTestId('search-results');
    await expect(results.getByRole('link', { name: title })).toBeVisible();
    await expect(results.locator('.snippet mark').first()).toHaveText('certb');
    await results.getByRole('link', { name: title }).click();
    await expect(page).toHaveURL(new RegExp(`/docs/payments/${slugOf(title)}$`));
  }
});

test('a new team member completes an onboarding step and the team page shows it', async ({ page }) => {
  const title = uniqueTitle('Payments onboarding');
  await signInAs(page, 'monalisa');
  await page.goto('/docs/new');
  await waitForApp(page);
  await page.getByLabel('Space').fill('onboarding');
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Kind').selectOption('guide');
  await page.getByLabel('Owning team').fill('group:default/payments');
  await page.getByLabel('About').fill('group:default/payments');
  await page.getByLabel('Markdown').fill('# Welcome\n\n## Get access\n\nAsk in #access.\n\n## Read the runbooks\n\nStart with [[component:payments-api]].\n');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(new RegExp(`/docs/onboarding/${slugOf(title)}$`));
  await waitForApp(page);

  const guide = page.getByTestId('guide');
  await expect(guide).toContainText('0 of 2 steps done');
  await expect(guide).toContainText('Assigned to your team.');
  await guide.getByRole('button', { name: 'Get access: mark done' }).click();
  await expect(guide).toContainText('1 of 2 steps done');
  await expect(guide.getByRole('button', { name: 'Get access: done; mark not done' })).toHaveAttribute('aria-pressed', 'true');

  // The docs list shows it under "Your onboarding"; the team's page shows the member's progress.
  await page.goto('/docs');
  await expect(page.getByRole('region', { name: 'Your onboarding' }).getByRole('link', { name: title })).toBeVisible();
  await page.goto('/catalog/default/group/payments');
  const team = page.getByTestId('team-guides');
  const row = team.locator('h3', { hasText: title }).locator('xpath=following-sibling::table[1]').getByRole('row', { name: /monalisa/ });
  await expect(row).toContainText('1 of 2 steps done');
});

// A 1×1 PNG.
const PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

test('attach a diagram while editing, show it, and nest a page under the runbook', async ({ page }) => {
  const title = uniqueTitle('Database failover');
  await signInAs(page, 'monalisa');
  await newRunbook(page, title, '# Failover\n\nThe diagram:\n\n');
  await openEditor(page);
  const files = page.getByTestId('attachments');
  await files.getByLabel('Attach a file').setInputFiles({ name: 'failover flow.png', mimeType: 'image/png', buffer: PIXEL });
  await files.getByRole('button', { name: 'Upload' }).click();
  await expect(files.getByRole('status')).toHaveText('Attached failover-flow.png.');
  await expect(files.getByRole('link', { name: 'failover-flow.png' })).toBeVisible();
  if (isHydrated()) {
    // Uploaded in the background: the text is still being edited, and the image's Markdown is in it.
    await expect(page).toHaveURL(/\/edit$/);
    await expect(page.getByLabel('Markdown')).toHaveValue(/!\[failover-flow\.png\]\(\/files\/\d+\/failover-flow\.png\)/);
    await expect(page.getByTestId('preview').locator('img')).toHaveAttribute('src', /failover-flow\.png$/);
  } else {
    // Back from the plain form: the Markdown to paste is listed.
    const snippet = await files.locator('code.snippet').first().innerText();
    const text = await page.getByLabel('Markdown').inputValue();
    await page.getByLabel('Markdown').fill(`${text}${snippet}\n`);
  }
  await save(page);
  await expect(page.locator('.page-heading h1')).toContainText(title);
  const img = page.locator('article.doc-body img');
  await expect(img).toHaveAttribute('alt', 'failover-flow.png');
  // The browser could load and decode it: served with its real type.
  await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(1);
  // A file that is not what its name says is refused with the reason.
  await openEditor(page);
  await files.getByLabel('Attach a file').setInputFiles({ name: 'evil.png', mimeType: 'image/png', buffer: Buffer.from('<script>alert(1)</script>') });
  await files.getByRole('button', { name: 'Upload' }).click();
  await expect(files.getByRole('alert')).toContainText('evil.png is not a valid .png file');

  // A page under this one shows the runbook in its breadcrumbs, and the runbook lists it.
  await page.goto(`/docs/payments/${slugOf(title)}`);
  await waitForApp(page);
  await page.getByRole('link', { name: 'New page under this one' }).click();
  await waitForApp(page);
  await expect(page.getByLabel('Under page')).toHaveValue(slugOf(title));
  await page.getByLabel('Title').fill(`${title} replica checks`);
  await page.getByLabel('Owning team').fill('group:default/payments');
  await page.getByLabel('Markdown').fill('# Replica checks\n');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('link', { name: title })).toBeVisible();
  await page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('link', { name: title }).click();
  await expect(page.getByRole('region', { name: 'Pages under this one' }).getByRole('link', { name: `${title} replica checks` })).toBeVisible();
});
