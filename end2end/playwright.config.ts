// Playwright drives Debian's Chromium (never a downloaded browser) against a real `portolan serve` that signs
// people in through the fake GitHub binary. Every spec runs twice: hydrated, and with JavaScript disabled to prove
// the server-rendered path works on its own.
import { defineConfig } from '@playwright/test';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
const portolan = process.env.PORTOLAN_BIN ?? path.join(targetDir, 'debug', 'portolan');
const fakeGithub = process.env.FAKE_GITHUB_BIN ?? path.join(targetDir, 'debug', 'fake-github');
const dataDir = path.join(__dirname, '.tmp', 'data');

export const PORTAL = 'http://127.0.0.1:3000';
export const GITHUB = 'http://127.0.0.1:3999';

export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL: PORTAL,
    trace: 'off',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'hydrated', use: { javaScriptEnabled: true } },
    { name: 'no-js', use: { javaScriptEnabled: false } },
  ],
  webServer: [
    {
      command: `"${fakeGithub}" 127.0.0.1:3999`,
      url: `${GITHUB}/user`,
      // `/user` answers 401 without a token: any answer means the fake is up.
      reuseExistingServer: false,
      timeout: 30_000,
      env: {
        FAKE_GITHUB_CLIENT_ID: 'e2e-client',
        FAKE_GITHUB_CLIENT_SECRET: 'e2e-secret',
        // The portal's own token (PORTOLAN_GITHUB_TOKEN below): scaffolding creates repositories with it.
        FAKE_GITHUB_TOKENS: 'e2e-portal-github-token:octocat',
      },
    },
    {
      // A fresh database with the example catalog imported through the CLI; then a location whose file goes
      // away between two imports, leaving an orphan; then the server.
      command: [
        `rm -rf "${dataDir}" && mkdir -p "${dataDir}"`,
        `"${portolan}" catalog import examples/catalog`,
        `"${portolan}" catalog import end2end/fixtures/templates/service/template.yaml`,
        `cp -r end2end/fixtures/retired "${dataDir}/retired"`,
        `"${portolan}" catalog import "${dataDir}/retired"`,
        `rm "${dataDir}/retired/legacy.yaml"`,
        `"${portolan}" catalog import "${dataDir}/retired"`,
        `exec "${portolan}" serve`,
      ].join(' && '),
      url: `${PORTAL}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      cwd: root,
      env: {
        PORTOLAN_ADDR: '127.0.0.1:3000',
        PORTOLAN_DATA_DIR: dataDir,
        PORTOLAN_DATABASE_URL: `sqlite://${dataDir}/portolan.db?mode=rwc`,
        PORTOLAN_SITE_ROOT: path.join(root, 'target', 'site'),
        PORTOLAN_GITHUB_CLIENT_ID: 'e2e-client',
        PORTOLAN_GITHUB_CLIENT_SECRET: 'e2e-secret',
        PORTOLAN_GITHUB_URL: GITHUB,
        PORTOLAN_GITHUB_API_URL: GITHUB,
        PORTOLAN_ALLOWED_ORGS: 'acme',
        // octocat is in acme/platform: the administrator of these journeys; hubot is an ordinary member.
        PORTOLAN_ADMIN_TEAMS: 'acme/platform',
        PORTOLAN_LOG: 'warn',
        // Journeys record deployments as a CD tool would, with the bootstrap token.
        PORTOLAN_API_TOKEN: 'e2e-admin-token-0123456789',
        // Every journey signs in from 127.0.0.1, many times a minute: one client address standing for a whole
        // office. The login limit's own behaviour is covered by the HTTP tests.
        PORTOLAN_RATE_LIMIT_LOGIN: '1000',
        // Scaffolding publishes to the fake GitHub with this token; deploy sync stays off so that journeys see only
        // the deployments they record.
        PORTOLAN_GITHUB_TOKEN: 'e2e-portal-github-token',
        PORTOLAN_DEPLOY_SYNC_SECONDS: '0',
      },
    },
  ],
});
