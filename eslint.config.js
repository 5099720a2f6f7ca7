import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      // Parallel test builds (DURE_E2E_OUTDIR) and the package (npm run build:sdk).
      'dist-*/',
      'node_modules/',
      'test-results/',
      'playwright-report/',
      'bench/results/',
      '**/*.gen.*',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    // TypeScript (svelte-check) already checks names in Svelte files, as typescript-eslint advises.
    files: ['**/*.svelte'],
    rules: { 'no-undef': 'off' },
  },
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        URL: 'readonly',
        navigator: 'readonly',
        window: 'readonly',
        document: 'readonly',
        self: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
