import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.parley/**', 'bin/**', '*.config.js', '.dependency-cruiser.js', 'test/interop/.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='createSecureContext'][arguments.length=0]", message: 'pass explicit TLS options' },
      ],
    },
  },
  {
    // Identities and method names are matched exactly (DESIGN.md §5): no regex or substring tests in authz.
    files: ['src/authz/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'NewExpression[callee.name="RegExp"]', message: 'no regular expressions in authorization' },
        { selector: 'Literal[regex]', message: 'no regular expressions in authorization' },
        { selector: "CallExpression[callee.property.name=/^(match|includes|startsWith|endsWith|indexOf)$/]", message: 'identities and methods match exactly; use the spiffe authorizers' },
      ],
    },
  },
  {
    // No function over 80 lines in src/ (architecture issue): split long ones by concept.
    files: ['src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  {
    // Plain CommonJS helpers that tests start as child processes.
    files: ['test/**/*.js', 'scripts/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', global: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
