// API tokens: a person makes a token on the tokens page, sees the secret once, uses it against the JSON API,
// and revokes it. Hydrated and without JavaScript.
import { test, expect, Page } from '@playwright/test';

const hydrated = (page: Page) => test.info().project.name === 'hydrated';

async function signInAs(page: Page, login: string) {
  await page.goto('/login');
  if (hydrated(page)) {
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  }
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await page.getByRole('button', { name: `Authorize as ${login}` }).click();
  await expect(page.locator('.user-name')).toBeVisible();
}

test('make, use and revoke an API token', async ({ page, request }) => {
  await signInAs(page, 'hubot');
  await page.getByRole('link', { name: 'API tokens' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('API tokens');
  if (hydrated(page)) {
    await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
  }
  const name = `e2e-${test.info().project.name}-${Date.now()}`;
  await page.getByLabel('Name').fill(name);
  await page.getByRole('checkbox', { name: 'catalog:write' }).check();
  await page.getByLabel('Expires in (days, empty for never)').fill('7');
  await page.getByRole('button', { name: 'Create token' }).click();

  const secret = page.getByTestId('new-token');
  if (hydrated(page)) {
    // The secret is shown once, right after making it.
    await expect(secret).toHaveText(/^ptl_[A-Za-z0-9]{40}$/);
    const token = (await secret.textContent())!.trim();
    const me = await request.get('/api/v1/me', { headers: { Authorization: `Bearer ${token}` } });
    expect(me.status()).toBe(200);
    const body = await me.json();
    expect(body.login).toBe('hubot');
    expect(body.scopes).toEqual(['read', 'catalog:write']);
    await page.reload();
    await expect(page.getByTestId('new-token')).toHaveCount(0);
  }
  // Without JavaScript the form posts and the page comes back with the new token listed.
  const revoke = page.getByRole('button', { name: `Revoke ${name}` });
  await expect(revoke).toBeVisible();
  await expect(page.getByRole('row', { name: new RegExp(name) })).toContainText('read, catalog:write');
  await revoke.click();
  await expect(page.getByRole('row', { name: new RegExp(name) })).toContainText('revoked');
});
