// Type-aware lint: floating promises and stray console calls are errors (style.md "Tooling").
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/**
 * style.md "Dependencies point one way": functions import shared/, shared/ never imports a
 * function, functions never import each other. The composition roots that assemble several
 * functions in one process (functions/platform, and the tests and benches) are the exception.
 */
const oneWay = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const from = path.relative(root, context.filename).split(path.sep);
    const check = (node) => {
      const spec = node.source?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const to = path.relative(root, path.resolve(path.dirname(context.filename), spec)).split(path.sep);
      if (to[0] !== 'functions') return;
      if (from[0] === 'shared')
        context.report({ node, message: `shared/ must not import a function (${to.slice(0, 2).join('/')})` });
      else if (from[0] === 'functions' && from[1] !== 'platform' && to[1] !== from[1])
        context.report({
          node,
          message: `functions/${from[1]} must not import functions/${to[1]}: functions talk through events; move what both need to shared/`,
        });
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.cache/**', 'data/**', 'coverage/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['shared/**/*.ts', 'functions/**/*.ts'],
    plugins: { streamforge: { rules: { 'one-way': oneWay } } },
    rules: { 'streamforge/one-way': 'error' },
  },
  {
    files: ['scripts/**', 'bench/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // The status page's module runs in the browser (functions/queue-manager/ui-routes.ts serves it).
    files: ['functions/queue-manager/ui/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'sessionStorage',
          'fetch',
          'setTimeout',
          'clearTimeout',
          'performance',
          'AbortController',
          'TextDecoderStream',
          'Node',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
);
