import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.stack/**', 'gen/**', 'coverage/**', '*.js', '*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    // Workflow code is bundled into a deterministic sandbox: no Node built-ins, no clients.
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts', 'workflows/**/*.int.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'os', 'crypto', 'http', 'https', 'net', 'child_process'], message: 'Workflow code must be deterministic: no Node built-ins.' },
          { group: ['ioredis', 'pg', 'kafkajs', 'express', '@temporalio/client', '@temporalio/worker'], message: 'Side effects belong in activities.' },
        ],
      }],
    },
  },
  // Layering (docs/temporal.md): enforced here so ARCHITECTURE.md is a checked fact. Type-only imports are allowed.
  {
    // Workflows: no API, worker wiring, directory or activity values (activity *types* feed proxyActivities).
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts', 'workflows/**/*.int.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/api/**', '**/workers/**', '**/directory/**', '**/activities/**', '**/stedi-sim/**'], allowTypeImports: true, message: 'Workflows import only workflow definitions, lib/ and activity types.' },
        ],
      }],
    },
  },
  {
    // Activities: never workflow values (the workflow sandbox and the activity world stay apart); types are fine.
    files: ['activities/**/*.ts'],
    ignores: ['activities/**/*.test.ts', 'activities/**/*.int.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{ group: ['**/workflows/**', '**/api/**', '**/workers/**'], allowTypeImports: true, message: 'Activities import no workflow, API or worker values (types only).' }],
      }],
    },
  },
  {
    // API services: workflow definitions (*.defs, search attributes) and ports (types) only; adapters are wired
    // in the API's composition roots (api/routes.ts, api/main.ts).
    files: ['api/**/*.ts'],
    ignores: ['api/**/*.test.ts', 'api/routes.ts', 'api/main.ts', 'api/codec-main.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/activities/**', '**/directory/**', '**/workers/**'], allowTypeImports: true, message: 'API code depends on ports (types); adapters are wired in api/routes.ts.' },
          { group: ['**/workflows/**', '!**/workflows/*.defs', '!**/workflows/search-attributes'], allowTypeImports: true, message: 'The API imports workflow definitions (*.defs.ts, search-attributes.ts) only.' },
        ],
      }],
    },
  },
);
