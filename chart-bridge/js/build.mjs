// Bundles the two browser scripts the InChart front-end loads with a plain
// <script> tag, each a self-contained minified IIFE:
//   src/index.js  -> inchart-chart.js  (Vue 2 runtime + trading-vue-js)
//   src/editor.js -> inchart-editor.js (CodeMirror 6 with Python)
// They share no code and define one global each, so a page can load both.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))

await build({
  entryPoints: {
    'inchart-chart': here('./src/index.js'),
    'inchart-editor': here('./src/editor.js'),
  },
  outdir: here('../../public/vendor/'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2019',
  minify: true,
  sourcemap: false,
  // Vue's ESM build branches on process.env.NODE_ENV; "production" drops the
  // dev-only warnings and the devtools hook.
  define: { 'process.env.NODE_ENV': '"production"' },
  // Keep the MIT/BSD notices of Vue, trading-vue-js, hammer.js, CodeMirror ...
  // (required by their licences) but out of the way at the end of the file.
  legalComments: 'eof',
  logLevel: 'warning',
})
