// Bundles src/index.js (Vue 2 runtime + trading-vue-js) into one minified IIFE
// that the InChart front-end loads with a plain <script> tag.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))

await build({
  entryPoints: [here('./src/index.js')],
  outfile: here('../../public/vendor/inchart-chart.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2019',
  minify: true,
  sourcemap: false,
  // Vue's ESM build branches on process.env.NODE_ENV; "production" drops the
  // dev-only warnings and the devtools hook.
  define: { 'process.env.NODE_ENV': '"production"' },
  // Keep the MIT/BSD notices of Vue, trading-vue-js, hammer.js, ... (required by
  // their licences) but out of the way at the end of the file.
  legalComments: 'eof',
  logLevel: 'warning',
})
