// Lint for the whole project, plus the rule that keeps workflow code deterministic: code under
// src/workflows/ runs inside Temporal's replaying sandbox, so it may import only
// @temporalio/workflow, other workflow code and types — no Node built-ins, no config, no I/O,
// no clock or randomness of its own (the workflow API provides deterministic ones).
import js from '@eslint/js';
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/', 'scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', fetch: 'readonly', URL: 'readonly', AbortSignal: 'readonly', URLSearchParams: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', NodeJS: 'readonly', RequestInit: 'readonly', Response: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Only src/config.ts reads settings from the environment. The toolchain passes the process
    // environment (PATH, GOBIN) through to the builds it runs, which is not reading settings.
    files: ['src/**/*.ts'],
    ignores: ['src/config.ts', 'src/toolchain/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read settings through src/config.ts.' }],
    },
  },
  {
    // Browser code, bundled for the pages by src/web/assets.ts: browser globals, and no Node.
    files: ['src/web/client/**/*.ts'],
    languageOptions: {
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'history', 'navigator', 'localStorage', 'crypto', 'EventSource', 'MessageEvent', 'FormData', 'File', 'Node', 'HTMLElement', 'HTMLInputElement', 'HTMLSelectElement', 'HTMLButtonElement', 'HTMLImageElement', 'HTMLAnchorElement', 'HTMLOListElement', 'HTMLOutputElement', 'HTMLLIElement', 'HTMLElementTagNameMap', 'Intl'].map((name) => [name, 'readonly']),
      ),
    },
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins.map((name) => ({ name, message: 'Browser code cannot use Node built-ins.' })) }],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require'],
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'test/fixtures/workflows*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code cannot use Node built-ins: do it in an activity.' })),
            ...['@temporalio/client', '@temporalio/worker', '@temporalio/activity'].map((name) => ({
              name,
              message: 'Workflow code imports only @temporalio/workflow.',
            })),
          ],
          patterns: [
            { group: ['**/config', '**/config.js'], message: 'Workflows get settings as input, never from config.' },
            {
              group: ['**/activities/*', '**/activities/*.js', '!**/activities/index.js'],
              message: 'Import activity types only, through `import type` from activities/index.js.',
              allowTypeImports: true,
            },
            {
              group: ['**/db/*', '**/storage/*', '**/alerts/*', '**/ledger/*', '**/api/*', '**/print-adapters/*'],
              message: 'Adapters run in activities; workflows may import their types only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'No process in workflow code.' },
        { name: 'Buffer', message: 'No Buffer in workflow code.' },
        { name: 'require', message: 'No require in workflow code.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='Date'][property.name='now']", message: 'No clock in workflow code: take time as input, or use workflow timers.' },
        { selector: "NewExpression[callee.name='Date']", message: 'No clock in workflow code: take time as input, or use workflow timers.' },
        { selector: "MemberExpression[object.name='Math'][property.name='random']", message: 'No randomness in workflow code: use uuid4() from @temporalio/workflow.' },
      ],
    },
  },
);
