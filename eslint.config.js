// eslint for the browser client (src/parley/web), run by `make check`: the recommended rules,
// with the browser's globals and ES modules; the worklets run in an AudioWorkletGlobalScope.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["src/parley/web/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      "no-unused-vars": ["error", { caughtErrors: "none" }],
    },
  },
  {
    files: ["src/parley/web/*-worklet.js"],
    languageOptions: { globals: { ...globals.audioWorklet } },
  },
];
