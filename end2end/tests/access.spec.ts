// Who may do what: an administrator explains a decision, grants a right with a rule, sees it take effect and
// revokes it; an ordinary member sees the actions but no rule controls. And signing in returns to the page that
// asked for it. Hydrated and without JavaScript.
import { test, expect, Page, Browser } from '@playwright/test';

const isHydrated = () => test.info().project.name === 'hydrated';
const hydrated = (_page: Page) => isHydrated();

async function waitForApp(page: Page) {
  if (hydrated(page)) await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}

async function signInAs(page: Page, login: string) {
  await page.goto('/login');
  await waitForApp(page);
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: `Authorize as ${login}` }).click();
  await expect(page.locator('.user-name')).toBeVisible();
}

async function asSomeoneElse(browser: Browser, login: string, run: (page: Page) => Promise<void>) {
  const context = await browser.newContext({ javaScriptEnabled: isHydrated() });
  const page = await context.newPage();
  await signInAs(page, login);
  await run(page);
  await context.close();
}

async function explain(page: Page, login: string, entity: string) {
  await page.getByLabel('Person (login)').fill(login);
  await page.getByRole('textbox', { name: 'Entity', exact: true }).fill(entity);
  await page.getByRole('button', { name: 'Explain' }).click();
  await expect(page).toHaveURL(/entity=component/);
  await waitForApp(page);
}

test('an administrator grants a right with a rule, sees why, and revokes it', async ({ page, browser }) => {
  // hubot signs in once, so the portal knows them; their own page shows no rule controls.
  await asSomeoneElse(browser, 'hubot', async (hubot) => {
    await hubot.getByRole('link', { name: 'Access' }).click();
    await expect(hubot.getByRole('heading', { level: 1 })).toHaveText('Who may do what');
    await expect(hubot.getByRole('row', { name: /docs\.edit/ }).first()).toBeVisible();
    await expect(hubot.getByRole('heading', { name: 'Granted rules' })).toHaveCount(0);
    await expect(hubot.getByRole('button', { name: 'Grant' })).toHaveCount(0);
  });

  await signInAs(page, 'octocat');
  await page.getByRole('link', { name: 'Access' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Who may do what');
  await waitForApp(page);

  const docsEdit = page.getByTestId('decisions').locator('tr[data-action="docs.edit"]');
  await explain(page, 'hubot', 'component:default/payments-api');
  await expect(docsEdit).toContainText('refused');
  await expect(docsEdit).toContainText('hubot is not a member of the owner group:default/payments');

  await page.getByRole('textbox', { name: 'Who (user or group)' }).fill('user:hubot');
  await page.locator('select[name=action]').selectOption('docs.edit');
  await page.locator('select[name=scope_type]').selectOption('kind');
  await page.getByRole('textbox', { name: 'Which (kind, namespace or entity)' }).fill('component');
  await page.getByRole('button', { name: 'Grant' }).click();
  const rule = page.getByTestId('rules').getByRole('row', { name: /user:default\/hubot `docs\.edit` on kind component/ });
  await expect(rule).toBeVisible();

  // The question asked before is answered again, now allowed by the rule.
  await explain(page, 'hubot', 'component:default/payments-api');
  await expect(docsEdit).toContainText('allowed');
  await expect(docsEdit).toContainText(/rule #\d+ grants user:default\/hubot/);

  await rule.getByRole('button', { name: /Revoke rule #\d+/ }).click();
  await expect(rule).toHaveCount(0);
  await explain(page, 'hubot', 'component:default/payments-api');
  await expect(docsEdit).toContainText('refused');
});

test('signing in returns to the page that asked for it', async ({ page }) => {
  await page.goto('/catalog?kind=api');
  await expect(page).toHaveURL(/\/login\?next=%2Fcatalog%3Fkind%3Dapi$/);
  await waitForApp(page);
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: 'Authorize as octocat' }).click();
  await expect(page).toHaveURL(/\/catalog\?kind=api$/);
  await expect(page.getByLabel('Kind')).toHaveValue('api');
});
