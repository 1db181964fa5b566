// ESLint flat config: typescript-eslint's type-aware rules everywhere, plus the purity rules that
// keep src/core deterministic (no Node modules, no clock, no randomness, no timers).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".gavel/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["eslint.config.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            {
              from: "package",
              package: "node:test",
              name: ["test", "it", "describe", "suite", "before", "after"],
            },
          ],
        },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-empty": ["error", { allowEmptyCatch: false }],
      eqeqeq: ["error", "always"],
    },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "src/core is pure: no Node modules." },
            {
              group: [
                "**/node/**",
                "**/net/**",
                "**/disk/**",
                "**/api/**",
                "**/cli/**",
                "**/web/**",
                "**/sim/**",
              ],
              message: "src/core imports nothing outside src/core.",
            },
          ],
          paths: ["fs", "net", "dgram", "crypto", "os", "child_process", "timers"].map((name) => ({
            name,
            message: "src/core is pure: no I/O.",
          })),
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "Date", message: "src/core takes time as input (nowMs, timestampMs)." },
        { name: "setTimeout", message: "src/core has no timers; time comes in with ticks." },
        { name: "setInterval", message: "src/core has no timers; time comes in with ticks." },
        { name: "setImmediate", message: "src/core has no timers." },
        { name: "process", message: "src/core reads no environment." },
        { name: "performance", message: "src/core takes time as input." },
        { name: "crypto", message: "src/core takes randomness as input." },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: "src/core takes randomness from an injected Random." },
      ],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
