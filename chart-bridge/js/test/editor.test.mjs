// End-to-end checks of window.InChartEditor (CodeMirror 6) in real headless
// Chromium, on a page served under the app's Content-Security-Policy.
// Needs the bundles (`npm run build`) and /usr/bin/chromium.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const EDITOR = here('../../../public/vendor/inchart-editor.js')
const CHART = here('../../../public/vendor/inchart-chart.js')
const OUT = here('./out/')

// The app's policy (app/src/lib.rs) without the nonce and wasm: no eval, no
// inline scripts, inline styles allowed, images from data: URLs.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'"

// A signal script with most of what Python highlighting has to tell apart.
const SCRIPT = `# Moving-average crossover
import math

@signal
def crossover(closes, fast=10, slow=30):
    """Buy when the fast average crosses above the slow one."""
    if len(closes) < slow:
        return None
    ratio = sum(closes[-fast:]) / fast / (sum(closes[-slow:]) / slow)
    return "buy" if ratio > 1.0 and not math.isnan(ratio) else "sell"


class Strategy:
    pass
`

// Runs first on every page: records the window's own names (to find what the
// bundles add) and any CSP violation.
const PRELUDE = `
window.__globals = Object.getOwnPropertyNames(window)
window.__violations = []
document.addEventListener('securitypolicyviolation', (e) => __violations.push(e.violatedDirective + ' ' + e.blockedURI))
`

// Mounts the editor from a page script, i.e. under the CSP (code run through
// page.evaluate is exempt from it).
const MOUNT = `
document.addEventListener('DOMContentLoaded', () => {
  window.changes = []
  window.runs = 0
  const ed = InChartEditor.mount(document.getElementById('editor'), { doc: ${JSON.stringify(SCRIPT)}, theme: 'dark' })
  ed.onChange((text) => changes.push(text))
  ed.onRun(() => runs++)
  window.ed = ed
})`

const page = (scripts, body) => `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>InChartEditor test page</title>
<link rel="icon" href="data:,">
<style>
  html, body { margin: 0; background: #808080; }
  #editor { width: 640px; height: 340px; margin: 20px; }
  #chart { width: 640px; height: 300px; margin: 20px; }
</style>
${scripts.map((s) => `<script src="${s}"></script>`).join('\n')}
</head>
<body>
${body}
</body>
</html>`

const ROUTES = {
  '/': [page(['/prelude.js', '/inchart-editor.js', '/mount.js'], '<div id="editor"></div>'), 'text/html'],
  // Both bundles, as on the chart page with the script editor open.
  '/both': [page(['/prelude.js', '/inchart-chart.js', '/inchart-editor.js', '/helpers.js'],
    '<div id="chart"></div><div id="editor"></div>'), 'text/html'],
  '/prelude.js': [PRELUDE, 'text/javascript'],
  '/mount.js': [MOUNT, 'text/javascript'],
}
const FILES = {
  '/inchart-editor.js': EDITOR,
  '/inchart-chart.js': CHART,
  '/helpers.js': here('./helpers.js'),
}

let server, browser, tab
const pageErrors = []

before(async () => {
  for (const f of [EDITOR, CHART]) assert.ok(fs.existsSync(f), `bundle missing: run "npm run build" first (${f})`)
  fs.mkdirSync(OUT, { recursive: true })
  server = http.createServer((req, res) => {
    const headers = { 'content-security-policy': CSP }
    if (ROUTES[req.url]) {
      const [body, type] = ROUTES[req.url]
      return res.writeHead(200, { ...headers, 'content-type': type }).end(body)
    }
    if (FILES[req.url]) {
      return res.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(fs.readFileSync(FILES[req.url]))
    }
    res.writeHead(404).end()
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  browser = await chromium.launch({
    // CHROMIUM overrides the browser for machines without /usr/bin/chromium.
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync',
    ],
  })
  tab = await newTab('/')
})

after(async () => {
  await browser?.close()
  server?.close()
})

async function newTab(path) {
  const p = await browser.newPage({ viewport: { width: 680, height: 380 } })
  p.on('pageerror', (e) => pageErrors.push(e.message))
  p.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()))
  await p.goto(`http://127.0.0.1:${server.address().port}${path}`)
  return p
}

// The editor's n-th line (1-based), as a locator.
const line = (n) => tab.locator('#editor .cm-line').nth(n - 1)

// Puts the cursor at the end of line n by clicking right of its text.
async function clickEndOf(n) {
  const box = await line(n).boundingBox()
  await tab.mouse.click(box.x + box.width - 2, box.y + box.height / 2)
}

test('API surface', async () => {
  const api = await tab.evaluate(() => ({
    version: InChartEditor.version,
    keys: Object.keys(InChartEditor).sort(),
    live: InChartEditor.liveInstances(),
    methods: Object.keys(ed).sort(),
    same: document.getElementById('editor').__inchartEditor === ed,
    added: Object.getOwnPropertyNames(window).filter((k) => !__globals.includes(k)).sort(),
  }))
  assert.deepEqual(api, {
    version: '1',
    keys: ['liveInstances', 'mount', 'version'],
    live: 1,
    methods: ['destroy', 'focus', 'getDoc', 'onChange', 'onRun', 'setDiagnostics', 'setDoc', 'setTheme'],
    same: true,
    // The bundle adds one global. The others are the test page's own.
    added: ['InChartEditor', '__globals', '__violations', 'changes', 'ed', 'runs'],
  })
})

test('mounts under the CSP with the text, line numbers, font and theme', async () => {
  const r = await tab.evaluate(() => {
    const el = document.getElementById('editor')
    const editor = el.querySelector('.cm-editor')
    const scroller = getComputedStyle(el.querySelector('.cm-scroller'))
    return {
      doc: ed.getDoc(),
      numbers: [...el.querySelectorAll('.cm-lineNumbers .cm-gutterElement')]
        .map((n) => n.textContent).filter((t) => t !== ''),
      lines: el.querySelectorAll('.cm-line').length,
      size: [editor.offsetWidth, editor.offsetHeight],
      background: getComputedStyle(editor).backgroundColor,
      color: getComputedStyle(editor).color,
      gutter: getComputedStyle(el.querySelector('.cm-lineNumbers .cm-gutterElement:not(.cm-activeLineGutter)')).color,
      font: [scroller.fontFamily, scroller.fontSize, scroller.lineHeight],
      label: el.querySelector('.cm-content').getAttribute('aria-label'),
      violations: __violations,
    }
  })
  assert.equal(r.doc, SCRIPT)
  const n = SCRIPT.split('\n').length
  assert.equal(r.lines, n)
  // The first gutter element is CodeMirror's hidden width spacer.
  assert.deepEqual(r.numbers.slice(-n), Array.from({ length: n }, (_, i) => String(i + 1)))
  assert.deepEqual(r.size, [640, 340], 'fills its container')
  assert.equal(r.background, 'rgb(28, 28, 30)')
  assert.equal(r.color, 'rgb(242, 242, 247)')
  assert.equal(r.gutter, 'rgb(142, 142, 147)')
  assert.deepEqual(r.font, ['ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', '13px', '19.5px'])
  assert.equal(r.label, 'Python script')
  assert.deepEqual(r.violations, [])
})

// Colours of the highlighted tokens: [text, css colour] for every styled span.
function tokenColors() {
  return tab.evaluate(() =>
    [...document.querySelectorAll('#editor .cm-line span')]
      .filter((s) => s.className && !s.className.startsWith('cm-lint'))
      .map((s) => [s.textContent, getComputedStyle(s).color]))
}

// WCAG contrast ratio of two "rgb(r, g, b)" colours.
function contrast(a, b) {
  const lum = (c) => {
    const [r, g, bl] = c.match(/\d+/g).slice(0, 3).map((v) => {
      const s = v / 255
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl
  }
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x)
  return (hi + 0.05) / (lo + 0.05)
}

async function backgrounds() {
  return tab.evaluate(() => {
    const editor = document.querySelector('#editor .cm-editor')
    // The active line's colour, read from a line that is not the active one.
    const probe = document.createElement('div')
    probe.className = 'cm-activeLine'
    editor.querySelector('.cm-content').appendChild(probe)
    const back = getComputedStyle(editor).backgroundColor
    // It is translucent (the selection shows through): blend it over the background.
    const [r, g, b, a = 1] = getComputedStyle(probe).backgroundColor.match(/[\d.]+/g).map(Number)
    const under = back.match(/\d+/g).map(Number)
    const active = `rgb(${[r, g, b].map((v, i) => Math.round(a * v + (1 - a) * under[i])).join(', ')})`
    probe.remove()
    return { back, active, text: getComputedStyle(editor).color }
  })
}

test('Python is highlighted, and every token colour passes WCAG AA in both themes', async () => {
  for (const theme of ['dark', 'light']) {
    await tab.evaluate((t) => ed.setTheme(t), theme)
    const tokens = await tokenColors()
    const colorOf = (text) => tokens.find(([t]) => t === text)?.[1]
    const bg = await backgrounds()
    // Keywords, the defined name, strings, numbers, comments, decorators and
    // calls each get a colour of their own; plain names keep the text colour.
    const kinds = {
      keyword: colorOf('def'),
      name: colorOf('crossover'),
      string: colorOf('"buy"'),
      number: colorOf('1.0'),
      comment: colorOf('# Moving-average crossover'),
      decorator: colorOf('@'),
      call: colorOf('len'),
      class: colorOf('Strategy'),
    }
    for (const [kind, c] of Object.entries(kinds)) assert.ok(c, `${theme}: no styled span for ${kind}`)
    assert.equal(new Set(Object.values(kinds)).size, Object.keys(kinds).length, `${theme}: ${JSON.stringify(kinds)}`)
    for (const c of Object.values(kinds)) assert.notEqual(c, bg.text)
    assert.equal(colorOf('if'), kinds.keyword)
    assert.equal(colorOf('None'), kinds.keyword)
    assert.equal(colorOf('ratio'), undefined, 'a plain name is not a styled span')
    for (const [text, c] of tokens) {
      for (const ground of [bg.back, bg.active]) {
        const ratio = contrast(c, ground)
        assert.ok(ratio >= 4.5, `${theme}: ${JSON.stringify(text)} ${c} on ${ground}: ${ratio.toFixed(2)}:1`)
      }
    }
    assert.ok(contrast(bg.text, bg.back) >= 4.5)
  }
  await tab.evaluate(() => ed.setTheme('dark'))
})

test('typing fires onChange; Enter auto-indents; Tab and Shift-Tab indent; undo works', async () => {
  await tab.evaluate(() => { changes.length = 0 })
  // End of "    pass" (the last line with text), then a new line.
  const n = SCRIPT.split('\n').length - 1
  await clickEndOf(n)
  await tab.keyboard.press('Enter')
  await tab.keyboard.type('x = 1')
  let r = await tab.evaluate(() => ({ doc: ed.getDoc(), changes: changes.slice() }))
  assert.ok(r.doc.endsWith('    pass\n    x = 1\n'), JSON.stringify(r.doc.slice(-30)))
  assert.ok(r.changes.length >= 6, `onChange calls: ${r.changes.length}`)
  assert.equal(r.changes[r.changes.length - 1], r.doc, 'onChange gets the whole text')

  // A block opener indents the next line by the 4-space unit.
  await tab.keyboard.press('Enter')
  await tab.keyboard.press('Shift+Tab')
  await tab.keyboard.type('def g():')
  await tab.keyboard.press('Enter')
  await tab.keyboard.type('return 2')
  r = await tab.evaluate(() => ed.getDoc())
  assert.ok(r.endsWith('    x = 1\ndef g():\n    return 2\n'), JSON.stringify(r.slice(-40)))

  // Tab indents the line (not only inserts at the cursor); Shift-Tab undoes it.
  await tab.keyboard.press('Home')
  await tab.keyboard.press('Tab')
  r = await tab.evaluate(() => ed.getDoc())
  assert.ok(r.endsWith('def g():\n        return 2\n'), JSON.stringify(r.slice(-40)))
  const focused = await tab.evaluate(() => document.activeElement.classList.contains('cm-content'))
  assert.ok(focused, 'Tab keeps the focus in the editor')
  await tab.keyboard.press('Shift+Tab')
  r = await tab.evaluate(() => ed.getDoc())
  assert.ok(r.endsWith('def g():\n    return 2\n'), JSON.stringify(r.slice(-40)))
  // Escape, then Tab, leaves the editor: the keyboard is not trapped.
  await tab.keyboard.press('Escape')
  await tab.keyboard.press('Tab')
  const left = await tab.evaluate(() => ({ inside: !!document.activeElement.closest('.cm-editor'), doc: ed.getDoc() }))
  assert.deepEqual(left, { inside: false, doc: r })
  await tab.locator('#editor .cm-content').focus()

  // Undo everything typed since the click.
  for (let i = 0; i < 20; i++) await tab.keyboard.press('Control+z')
  r = await tab.evaluate(() => ed.getDoc())
  assert.equal(r, SCRIPT)
})

test('Mod-Enter (and Ctrl-Enter) runs the script and inserts nothing', async () => {
  await clickEndOf(8)
  const before = await tab.evaluate(() => ({ doc: ed.getDoc(), runs }))
  await tab.keyboard.press('ControlOrMeta+Enter')
  await tab.keyboard.press('Control+Enter')
  const r = await tab.evaluate(() => ({ doc: ed.getDoc(), runs }))
  assert.equal(r.runs, before.runs + 2)
  assert.equal(r.doc, before.doc, 'no newline inserted')
  // Without a callback the key still inserts nothing.
  await tab.evaluate(() => ed.onRun(null))
  await tab.keyboard.press('ControlOrMeta+Enter')
  assert.equal(await tab.evaluate(() => ed.getDoc()), before.doc)
  await tab.evaluate(() => ed.onRun(() => runs++))
})

test('setDoc replaces the text as one undoable step without calling onChange', async () => {
  const r = await tab.evaluate(() => {
    changes.length = 0
    const old = ed.getDoc()
    ed.setDoc('print(1)\n')
    const res = { replaced: ed.getDoc(), changes: changes.length }
    ed.setDoc('print(1)\n') // same text: nothing happens
    ed.setDoc(old)
    res.back = ed.getDoc() === old
    return res
  })
  assert.deepEqual(r, { replaced: 'print(1)\n', changes: 0, back: true })
  // Mod-z goes back to the previous text, one setDoc at a time.
  await tab.locator('#editor .cm-content').focus()
  await tab.keyboard.press('Control+z')
  assert.equal(await tab.evaluate(() => ed.getDoc()), 'print(1)\n')
  await tab.keyboard.press('Control+z')
  assert.equal(await tab.evaluate(() => ed.getDoc()), SCRIPT)
  // The user's undo is reported like any edit.
  assert.ok(await tab.evaluate(() => changes.length) >= 2)
})

test('setDiagnostics marks the line in the gutter and underlines the token; [] clears', async () => {
  const r = await tab.evaluate(() => {
    ed.setDiagnostics([
      { line: 9, column: 5, message: "NameError: name 'ratio' is not defined", severity: 'error' },
      { line: 2, column: null, message: 'math is imported but unused', severity: 'warning' },
    ])
    const el = document.getElementById('editor')
    const top = (node) => Math.round(node.getBoundingClientRect().top)
    const lines = el.querySelectorAll('.cm-line')
    const markerLine = (cls) => {
      const m = el.querySelector(`.cm-gutter-lint .${cls}`)
      return m && [...lines].findIndex((l) => top(l) === top(m.closest('.cm-gutterElement'))) + 1
    }
    return {
      errorMarkerLine: markerLine('cm-lint-marker-error'),
      warningMarkerLine: markerLine('cm-lint-marker-warning'),
      errorText: [...el.querySelectorAll('.cm-lintRange-error')].map((n) => n.textContent).join(''),
      warningText: [...el.querySelectorAll('.cm-lintRange-warning')].map((n) => n.textContent).join(''),
    }
  })
  assert.deepEqual(r, {
    errorMarkerLine: 9,
    warningMarkerLine: 2,
    errorText: 'ratio',
    warningText: 'import math',
  })

  // Hovering the gutter mark shows the message.
  await tab.mouse.move(0, 0)
  const mark = tab.locator('#editor .cm-lint-marker-error')
  await mark.hover()
  const tip = tab.locator('.cm-tooltip-lint')
  await tip.waitFor()
  assert.match(await tip.textContent(), /NameError: name 'ratio' is not defined/)
  await tab.screenshot({ path: `${OUT}editor-dark.png` })
  await tab.mouse.move(660, 370)

  // Out-of-range input is clamped rather than thrown.
  const clamped = await tab.evaluate(() => {
    ed.setDiagnostics([{ line: 999, column: 999, message: 'end', severity: 'error' }, { line: 0, message: 'start' }])
    return document.querySelectorAll('#editor .cm-lint-marker-error').length
  })
  assert.equal(clamped, 2)

  const cleared = await tab.evaluate(() => {
    ed.setDiagnostics([])
    const el = document.getElementById('editor')
    return el.querySelectorAll('.cm-lint-marker, [class*="cm-lintRange"]').length
  })
  assert.equal(cleared, 0)
})

test('setTheme switches the background; the light theme looks right', async () => {
  const light = await tab.evaluate(() => {
    ed.setTheme('light')
    ed.setDiagnostics([{ line: 9, column: 5, message: 'NameError', severity: 'error' }])
    return getComputedStyle(document.querySelector('#editor .cm-editor')).backgroundColor
  })
  assert.equal(light, 'rgb(255, 255, 255)')
  // A selection and the cursor on line 6, as a user sees it.
  await clickEndOf(6)
  await tab.keyboard.press('Shift+Home')
  await tab.screenshot({ path: `${OUT}editor-light.png` })
  const gutter = await tab.evaluate(() =>
    getComputedStyle(document.querySelector('#editor .cm-lineNumbers .cm-gutterElement:not(.cm-activeLineGutter)')).color)
  assert.equal(gutter, 'rgb(110, 110, 115)')
  const dark = await tab.evaluate(() => {
    ed.setTheme('dark')
    return getComputedStyle(document.querySelector('#editor .cm-editor')).backgroundColor
  })
  assert.equal(dark, 'rgb(28, 28, 30)')
  await tab.screenshot({ path: `${OUT}editor-dark-selection.png` })
  await tab.evaluate(() => ed.setDiagnostics([]))
})

test('readOnly: keys do not change the text', async () => {
  await tab.evaluate(() => {
    const box = document.createElement('div')
    box.id = 'ro'
    box.style.height = '60px'
    document.body.appendChild(box)
    window.ro = InChartEditor.mount(box, { doc: 'x = 1\n', readOnly: true, theme: 'light' })
  })
  await tab.locator('#ro .cm-content').click()
  await tab.keyboard.type('abc')
  await tab.keyboard.press('Tab')
  const r = await tab.evaluate(() => {
    const res = { doc: ro.getDoc(), live: InChartEditor.liveInstances() }
    ro.destroy()
    document.getElementById('ro').remove()
    return res
  })
  assert.deepEqual(r, { doc: 'x = 1\n', live: 2 })
})

test('destroy removes the editor; 20 mount/destroy cycles leave none', async () => {
  const r = await tab.evaluate(() => {
    const el = document.getElementById('editor')
    const text = ed.getDoc()
    ed.destroy()
    const res = {
      live: InChartEditor.liveInstances(),
      children: el.childNodes.length,
      prop: el.__inchartEditor,
      docAfter: ed.getDoc() === text,
    }
    ed.destroy() // harmless
    ed.setDoc('ignored')
    ed.setDiagnostics([{ line: 1, message: 'ignored' }])
    ed.setTheme('light')
    res.liveAfterSecond = InChartEditor.liveInstances()
    let maxLive = 0
    for (let i = 0; i < 20; i++) {
      const x = InChartEditor.mount(el, { doc: 'print(' + i + ')', theme: i % 2 ? 'light' : 'dark' })
      maxLive = Math.max(maxLive, InChartEditor.liveInstances())
      x.destroy()
    }
    // Mounting onto a container that already holds an editor replaces it.
    InChartEditor.mount(el, { doc: 'a' })
    InChartEditor.mount(el, { doc: 'b' })
    res.remount = [InChartEditor.liveInstances(), el.querySelectorAll('.cm-editor').length, el.__inchartEditor.getDoc()]
    el.__inchartEditor.destroy()
    res.maxLive = maxLive
    res.loopLive = InChartEditor.liveInstances()
    res.children2 = el.childNodes.length
    return res
  })
  assert.deepEqual(r, {
    live: 0,
    children: 0,
    prop: undefined,
    docAfter: true,
    liveAfterSecond: 0,
    maxLive: 1,
    remount: [1, 1, 'b'],
    loopLive: 0,
    children2: 0,
  })
})

test('with the chart bundle on the same page: both work', async () => {
  const both = await newTab('/both')
  const r = await both.evaluate(async () => {
    const chart = InChartChart.mount(document.getElementById('chart'), { candles: T.candles(200, Date.UTC(2024, 0, 1), 100) })
    const editor = InChartEditor.mount(document.getElementById('editor'), { doc: 'def f():\n    return 1\n' })
    await T.settle()
    const res = {
      added: Object.getOwnPropertyNames(window).filter((k) => !__globals.includes(k)).sort(),
      candles: chart.candleCount(),
      stats: T.chartStats(document.getElementById('chart'), { up: '#30D158', down: '#FF453A' }).counts,
      keyword: getComputedStyle([...document.querySelectorAll('#editor .cm-line span')].find((s) => s.textContent === 'def')).color,
      lives: [InChartChart.liveInstances(), InChartEditor.liveInstances()],
      violations: __violations,
    }
    chart.destroy()
    editor.destroy()
    return res
  })
  await both.close()
  // Hammer and regeneratorRuntime are leaked by the chart bundle (hammer.js
  // and Babel's runtime inside trading-vue-js' dist build); __globals and
  // __violations come from the test's prelude, T from helpers.js.
  assert.deepEqual(r.added, ['Hammer', 'InChartChart', 'InChartEditor', 'T', '__globals', '__violations', 'regeneratorRuntime'])
  assert.equal(r.candles, 200)
  assert.ok(r.stats.up > 100 && r.stats.down > 100, JSON.stringify(r.stats))
  assert.notEqual(r.keyword, 'rgb(242, 242, 247)', 'the editor is highlighted')
  assert.deepEqual(r.lives, [1, 1])
  assert.deepEqual(r.violations, [])
})

test('no page errors or CSP violations', async () => {
  assert.deepEqual(await tab.evaluate(() => __violations), [])
  assert.deepEqual(pageErrors, [])
})
