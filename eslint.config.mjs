import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'stream', 'zlib', 'dns', 'tls', 'worker_threads', 'process', 'pg', 'nodemailer'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.nightshift/**', 'coverage/**', 'dist/**', 'bin/**', '*.config.js', '*.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { URL: 'readonly', console: 'readonly', process: 'readonly' } },
  },
  {
    // Workflow code is replayed: it must be deterministic, so no Node built-ins or I/O clients.
    files: ['workflows/**/*.ts', 'domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ regex: `^(node:)?(${nodeBuiltins.join('|')})(/.*)?$`, message: 'workflows/ and domain/ must stay free of Node built-ins and I/O modules' }],
      }],
      'no-restricted-globals': ['error', { name: 'process', message: 'no environment access here' }],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'use workflowTime() from workflows/clock.ts (workflow time, named as such)' }],
    },
  },
);
