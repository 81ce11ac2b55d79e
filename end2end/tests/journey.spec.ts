// The foundation's user journeys: sign in through GitHub, see your name, switch theme, navigate, sign out; and
// the refusal someone outside the allowed organisations sees.
import { test, expect, Page } from '@playwright/test';

const hydrated = (page: Page) => test.info().project.name === 'hydrated';

async function waitForApp(page: Page) {
  if (hydrated(page)) {
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  }
}

async function signInAs(page: Page, login: string) {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
  await waitForApp(page);
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await expect(page).toHaveTitle(/Fake GitHub/);
  await page.getByRole('button', { name: `Authorize as ${login}` }).click();
}

test('sign in with GitHub, switch theme, navigate and sign out', async ({ page }) => {
  // Hydration mismatches and panics show up as console errors; failed portal requests as 4xx/5xx responses.
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('response', (res) => {
    const url = new URL(res.url());
    const portal = url.origin === 'http://127.0.0.1:3000';
    if (portal && res.status() >= 400 && url.pathname !== '/no/such/page') {
      errors.push(`${res.status()} ${url.pathname}`);
    }
  });

  await signInAs(page, 'octocat');
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome, The Octocat');
  await expect(page.locator('.user-name')).toHaveText('The Octocat');
  await expect(page.getByText('acme/platform')).toBeVisible();
  await waitForApp(page);

  // Theme: follows the system until chosen, then sticks across reloads.
  const html = page.locator('html');
  await expect(html).toHaveAttribute('data-theme', 'system');
  if (hydrated(page)) {
    await page.evaluate(() => ((window as any).__noReload = true));
  }
  // Hydrated, the page turns dark at once and the cookie comes with the server's answer: the reload below waits
  // for that answer (reloading before it would reload the old choice).
  const remembered = hydrated(page)
    ? page.waitForResponse((r) => r.url().includes('/fn/set_theme') && r.ok())
    : null;
  await page.getByRole('button', { name: 'Dark' }).click();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await expect(page.getByRole('button', { name: 'Dark' })).toHaveAttribute('aria-pressed', 'true');
  if (remembered) {
    await remembered;
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  }
  const darkBackground = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.reload();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await waitForApp(page);
  await page.getByRole('button', { name: 'Light' }).click();
  await expect(html).toHaveAttribute('data-theme', 'light');
  const lightBackground = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(lightBackground).not.toBe(darkBackground);

  // Navigate: profile, back home, and a page that does not exist.
  await page.locator('header').getByRole('link', { name: 'The Octocat' }).click();
  await expect(page).toHaveURL(/\/people\/octocat$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('The Octocat');
  await expect(page.getByText('Octo Team')).toBeVisible();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome, The Octocat');
  const missing = await page.goto('/no/such/page');
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Not found');

  // Sign out: back to the login page, and the home page needs signing in again.
  await page.goto('/');
  await waitForApp(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);

  expect(errors, 'no errors in the browser console').toEqual([]);
});

test('people outside the allowed organisations are refused with a clear message', async ({ page }) => {
  await signInAs(page, 'mallory');
  await expect(page).toHaveURL(/\/login\?error=org$/);
  await expect(page.getByRole('alert')).toContainText('not a member of an organisation that may use this portal');
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});
