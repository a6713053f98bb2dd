// End-to-end checks of the drawing tools (src/drawings.js) in real headless
// Chromium, driven with real mouse and keyboard input.
// Needs the bundle (`npm run build`) and /usr/bin/chromium.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const BUNDLE = here('../../../public/vendor/inchart-chart.js')
const OUT = here('./out/')
const FILES = {
  '/': [here('./page.html'), 'text/html'],
  '/helpers.js': [here('./helpers.js'), 'text/javascript'],
  '/inchart-chart.js': [BUNDLE, 'text/javascript'],
}
// The drawing colour: the accent of each theme (style/main.css).
const ACCENT = { dark: '#0A84FF', light: '#0066CC' }
const SYMBOL = 'BTCUSDT'

let server, browser, page
const pageErrors = []

// In-page helpers (window.DT): the mounted chart, the changes it reported,
// and conversions between the candle canvas' pixels and time/price.
function installHelpers() {
  const grid = () => document.querySelector('#chart .trading-vue-chart').__vue__._layout.grids[0]
  const canvas = () => document.querySelector('#chart canvas[id$="-grid-0-canvas"]')
  window.DT = {
    changes: [],
    grid,
    toScreen: (p) => [grid().t2screen(p.time), grid().$2screen(p.price)],
    // Time/price under a canvas pixel, and how much one pixel is worth.
    at: (x, y) => ({ time: grid().screen2t(x), price: grid().screen2$(y) }),
    perPx: () => ({ time: grid().screen2t(1) - grid().screen2t(0), price: Math.abs(grid().screen2$(0) - grid().screen2$(1)) }),
    // Pixels of `color` within `r` px of canvas point (x, y).
    near(x, y, color, r = 3) {
      const c = canvas()
      const k = devicePixelRatio
      const [tr, tg, tb] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16))
      const x0 = Math.max(0, Math.round((x - r) * k))
      const y0 = Math.max(0, Math.round((y - r) * k))
      const w = Math.max(1, Math.min(c.width - x0, Math.round(2 * r * k)))
      const h = Math.max(1, Math.min(c.height - y0, Math.round(2 * r * k)))
      const px = c.getContext('2d').getImageData(x0, y0, w, h).data
      let n = 0
      for (let i = 0; i < px.length; i += 4) {
        if (Math.abs(px[i] - tr) + Math.abs(px[i + 1] - tg) + Math.abs(px[i + 2] - tb) <= 40) n++
      }
      return n
    },
    pressed: () => [...document.querySelectorAll('.inchart-draw-bar button[aria-pressed="true"]')].map((b) => b.dataset.tool),
  }
}

before(async () => {
  assert.ok(fs.existsSync(BUNDLE), `bundle missing: run "npm run build" first (${BUNDLE})`)
  fs.mkdirSync(OUT, { recursive: true })
  server = http.createServer((req, res) => {
    const file = FILES[req.url]
    if (!file) return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': file[1] }).end(fs.readFileSync(file[0]))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync',
    ],
  })
  page = await openPage({ width: 1000, height: 600 })
})

after(async () => {
  await browser?.close()
  server?.close()
})

async function openPage(viewport, chartSize, options = {}) {
  const p = await browser.newPage({ viewport, ...options })
  p.on('pageerror', (e) => pageErrors.push(e.message))
  p.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()))
  await p.goto(`http://127.0.0.1:${server.address().port}/`)
  await p.evaluate(installHelpers)
  await p.evaluate(async ({ symbol, chartSize }) => {
    const el = document.getElementById('chart')
    if (chartSize) Object.assign(el.style, { width: `${chartSize[0]}px`, height: `${chartSize[1]}px` })
    // An input elsewhere on the page, where the trader may be typing.
    const other = document.createElement('input')
    other.id = 'elsewhere'
    document.body.appendChild(other)
    const h = InChartChart.mount(el, { title: `${symbol} · 1h`, candles: T.candles(300, Date.UTC(2024, 0, 1), 42000) })
    h.setDrawings(symbol, [])
    h.enableDrawings((c) => DT.changes.push(c))
    await T.settle()
  }, { symbol: SYMBOL, chartSize })
  return p
}

async function gridBox(p = page) {
  return p.locator('#chart canvas[id$="-grid-0-canvas"]').boundingBox()
}

// Mouse helpers in canvas coordinates.
async function move(x, y, p = page) {
  const b = await gridBox(p)
  await p.mouse.move(b.x + x, b.y + y, { steps: 4 })
}
async function drag(from, to, p = page) {
  await move(...from, p)
  await p.mouse.down()
  await move(...to, p)
  await p.mouse.up()
}
async function click(x, y, p = page) {
  await move(x, y, p)
  await p.mouse.down()
  await p.mouse.up()
}

const settle = (p = page) => p.evaluate(() => T.settle())
const changes = async (p = page) => p.evaluate(() => DT.changes.splice(0))
const drawingsNow = async (p = page) => p.evaluate(() => document.getElementById('chart').__inchartChart.drawings())
const range = async (p = page) => p.evaluate(() => document.getElementById('chart').__inchartChart.visibleRange())

// Asserts that `point` is the time/price under canvas pixel (x, y), within 1.5 px.
async function assertAt(point, x, y, what) {
  const r = await page.evaluate(([x, y]) => ({ at: DT.at(x, y), per: DT.perPx() }), [x, y])
  assert.ok(Number.isInteger(point.time), `${what}: time is an integer (${point.time})`)
  assert.ok(Math.abs(point.time - r.at.time) <= 1.5 * r.per.time, `${what}: time ${point.time} vs ${r.at.time}`)
  assert.ok(Math.abs(point.price - r.at.price) <= 1.5 * r.per.price, `${what}: price ${point.price} vs ${r.at.price}`)
}

async function accentNear(x, y, r = 3, theme = 'dark', p = page) {
  return p.evaluate(([x, y, c, r]) => DT.near(x, y, c, r), [x, y, ACCENT[theme], r])
}

async function clickTool(label) {
  await page.getByRole('button', { name: label, exact: true }).click()
}

test('enableDrawings shows a named toolbar; the handle gains the drawing methods', async () => {
  const r = await page.evaluate(() => {
    const h = document.getElementById('chart').__inchartChart
    const bar = document.querySelector('#chart .inchart-draw-bar')
    return {
      methods: ['enableDrawings', 'setDrawings', 'applyDrawingChange', 'drawings'].map((m) => typeof h[m]),
      role: bar.getAttribute('role'),
      label: bar.getAttribute('aria-label'),
      buttons: [...bar.querySelectorAll('button')].map((b) => [b.getAttribute('aria-label'), b.title]),
      pressed: DT.pressed(),
      box: bar.getBoundingClientRect().toJSON(),
      chart: document.getElementById('chart').getBoundingClientRect().toJSON(),
    }
  })
  assert.deepEqual(r.methods, ['function', 'function', 'function', 'function'])
  assert.equal(r.role, 'toolbar')
  assert.equal(r.label, 'Drawing tools')
  assert.deepEqual(r.buttons.slice(1), [
    ['Select', 'Select (Alt+S)'],
    ['Trend line', 'Trend line (Alt+T)'],
    ['Horizontal line', 'Horizontal line (Alt+H)'],
    ['Ray', 'Ray (Alt+R)'],
    ['Rectangle', 'Rectangle (Alt+G)'],
    ['Fibonacci retracement', 'Fibonacci retracement (Alt+F)'],
    ['Text note', 'Text note (Alt+N)'],
    ['Undo', 'Undo (Ctrl+Z)'],
    ['Redo', 'Redo (Ctrl+Shift+Z)'],
    ['Delete drawing', 'Delete drawing (Delete)'],
  ])
  assert.deepEqual(r.pressed, ['select'])
  assert.ok(r.box.left - r.chart.left < 12 && r.box.width < 48, `a narrow strip at the left: ${JSON.stringify(r.box)}`)
})

test('a trend line drawn by press-drag-release is reported in time and price, drawn, and the chart does not pan', async () => {
  const before = await range()
  await clickTool('Trend line')
  await drag([300, 300], [500, 150])
  await settle()
  const c = await changes()
  assert.equal(c.length, 1, JSON.stringify(c))
  assert.equal(c[0].op, 'put')
  const d = c[0].drawing
  assert.equal(d.kind, 'trend')
  assert.equal(d.symbol, SYMBOL)
  assert.match(d.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.equal(d.points.length, 2)
  await assertAt(d.points[0], 300, 300, 'first point')
  await assertAt(d.points[1], 500, 150, 'second point')
  assert.deepEqual(await range(), before, 'the chart did not pan')
  assert.ok((await accentNear(400, 225)) > 2, 'line pixels at its middle')
  assert.ok((await accentNear(200, 375)) === 0, 'nothing beyond its end')
  assert.deepEqual(await page.evaluate(() => DT.pressed()), ['select'], 'back to the pointer after a drawing')
})

test('horizontal line (one click), ray (click-click), rectangle and Fibonacci', async () => {
  await clickTool('Horizontal line')
  await click(400, 100)
  await clickTool('Ray')
  await click(150, 420)
  await click(151, 420) // a double click does not make a zero-length ray
  await move(250, 380) // the second point follows the pointer
  assert.ok((await accentNear(200, 400)) > 2, 'the ray in progress is drawn')
  await click(250, 380)
  await clickTool('Rectangle')
  await drag([600, 80], [700, 160])
  await clickTool('Fibonacci retracement')
  await drag([560, 400], [760, 250])
  await settle()
  const c = await changes()
  assert.deepEqual(c.map((x) => [x.op, x.drawing.kind, x.drawing.points.length]), [
    ['put', 'horizontal', 1], ['put', 'ray', 2], ['put', 'rectangle', 2], ['put', 'fibonacci', 2],
  ])
  await assertAt(c[0].drawing.points[0], 400, 100, 'horizontal')
  await assertAt(c[1].drawing.points[0], 150, 420, 'ray start')
  await assertAt(c[1].drawing.points[1], 250, 380, 'ray through')
  await assertAt(c[2].drawing.points[1], 700, 160, 'rectangle corner')
  await assertAt(c[3].drawing.points[0], 560, 400, 'fib start')

  // Horizontal: across the whole width. Ray: beyond its second point.
  assert.ok((await accentNear(30, 100)) > 2 && (await accentNear(780, 100)) > 2, 'horizontal line across the chart')
  assert.ok((await accentNear(350, 340)) > 2, 'ray extended past its second point')
  assert.ok((await accentNear(100, 440)) === 0, 'ray does not extend backwards')
  // Rectangle: its edges.
  assert.ok((await accentNear(650, 80)) > 2 && (await accentNear(700, 120)) > 2, 'rectangle edges')
  // Fibonacci: a line at each level between the two points.
  const levels = await page.evaluate((d) => [0, 0.236, 0.382, 0.5, 0.618, 0.786, 1].map((l) => {
    const price = d.points[1].price + (d.points[0].price - d.points[1].price) * l
    return DT.near(700, DT.grid().$2screen(price), '#0A84FF', 2)
  }), c[3].drawing)
  assert.ok(levels.every((n) => n > 2), `fib level pixels: ${levels}`)
  assert.equal((await drawingsNow()).length, 5)
})

test('a note asks for its text inline; double-click edits it', async () => {
  await clickTool('Text note')
  await click(200, 200)
  const input = page.locator('#chart input.inchart-draw-note')
  assert.equal(await input.count(), 1, 'inline input shown')
  assert.equal(await input.getAttribute('maxlength'), '280')
  assert.ok(await input.evaluate((e) => e === document.activeElement), 'input focused')
  assert.deepEqual(await changes(), [], 'nothing reported before the text is entered')
  await page.keyboard.type('Support holds here')
  await page.screenshot({ path: `${OUT}drawings-note-input.png` })
  await page.keyboard.press('Enter')
  await settle()
  let c = await changes()
  assert.equal(c.length, 1)
  assert.equal(c[0].drawing.kind, 'note')
  assert.equal(c[0].drawing.text, 'Support holds here')
  await assertAt(c[0].drawing.points[0], 200, 200, 'note point')
  assert.equal(await input.count(), 0, 'input gone')
  assert.ok((await accentNear(200, 200, 6)) > 2, 'note dot (selected: with a handle ring) drawn')

  // Double-click the note's label: edit it.
  await move(230, 183)
  await page.mouse.dblclick((await gridBox()).x + 230, (await gridBox()).y + 183)
  assert.equal(await input.count(), 1, 'input opened by double-click')
  assert.equal(await input.inputValue(), 'Support holds here')
  await page.keyboard.press('Control+A')
  await page.keyboard.type('x'.repeat(300))
  await page.keyboard.press('Enter')
  await settle()
  c = await changes()
  assert.equal(c.length, 1, JSON.stringify(c.map((x) => x.op)))
  assert.equal(c[0].drawing.text, 'x'.repeat(280), 'at most 280 characters')

  // Escape cancels a new note.
  await clickTool('Text note')
  await click(300, 400)
  await page.keyboard.type('never mind')
  await page.keyboard.press('Escape')
  await settle()
  assert.deepEqual(await changes(), [])
  assert.equal(await input.count(), 0)
})

test('select and drag moves a drawing (reported once, no pan); a handle moves one point', async () => {
  const before = await range()
  const trend = (await drawingsNow()).find((d) => d.kind === 'trend')
  const per = await page.evaluate(() => DT.perPx())
  // The middle of the line, then 60 px right and 40 px down.
  await move(400, 225)
  await page.mouse.down()
  for (let i = 1; i <= 6; i++) await move(400 + i * 10, 225 + i * 40 / 6)
  await page.mouse.up()
  await settle()
  let c = await changes()
  assert.equal(c.length, 1, 'one change per drag')
  assert.equal(c[0].drawing.id, trend.id)
  for (let i = 0; i < 2; i++) {
    const dt = c[0].drawing.points[i].time - trend.points[i].time
    const dp = c[0].drawing.points[i].price - trend.points[i].price
    assert.ok(Math.abs(dt - 60 * per.time) <= 1.5 * per.time, `moved in time: ${dt / per.time} px`)
    assert.ok(Math.abs(-dp - 40 * per.price) <= 1.5 * per.price, `moved in price: ${-dp / per.price} px`)
  }
  assert.deepEqual(await range(), before, 'the chart did not pan')
  assert.ok((await accentNear(460, 265)) > 2, 'drawn where it was dropped')

  // Selected: its handles are drawn; drag the second handle (now at 560, 190).
  await drag([560, 190], [600, 120])
  await settle()
  c = await changes()
  assert.equal(c.length, 1)
  await assertAt(c[0].drawing.points[1], 600, 120, 'moved handle')
  await assertAt(c[0].drawing.points[0], 360, 340, 'the other point stays')

  // A press on empty chart still pans it.
  await drag([100, 450], [200, 450])
  await settle()
  assert.notDeepEqual(await range(), before, 'empty space still pans the chart')
  assert.deepEqual(await changes(), [])
})

test('Delete removes the selected drawing; undo and redo, by key and button, are reported', async () => {
  // Scroll back to where the drawings are: select the rectangle by its edge.
  await page.evaluate(() => {
    const h = document.getElementById('chart').__inchartChart
    h.setCandles(T.candles(300, Date.UTC(2024, 0, 1), 42000))
  })
  await settle()
  const rect = (await drawingsNow()).find((d) => d.kind === 'rectangle')
  const [x, y] = await page.evaluate((p) => DT.toScreen(p), rect.points[0])
  await click(x + 20, y)
  await page.keyboard.press('Delete')
  await settle()
  let c = await changes()
  assert.deepEqual(c, [{ op: 'delete', symbol: SYMBOL, id: rect.id }])
  assert.ok(!(await drawingsNow()).some((d) => d.id === rect.id))

  await page.keyboard.press('Control+Z')
  await settle()
  c = await changes()
  assert.deepEqual(c, [{ op: 'put', drawing: rect }], 'undo brings it back')
  await page.keyboard.press('Control+Shift+Z')
  await settle()
  assert.deepEqual(await changes(), [{ op: 'delete', symbol: SYMBOL, id: rect.id }], 'redo removes it again')
  await page.keyboard.press('Control+Z')
  await page.keyboard.press('Control+Y')
  assert.deepEqual((await changes()).map((x) => x.op), ['put', 'delete'], 'Ctrl+Y redoes too')

  // Undo of a move puts the old points back; the toolbar buttons work too.
  await clickTool('Undo') // undo the delete
  const moved = (await drawingsNow()).find((d) => d.kind === 'trend')
  await clickTool('Undo') // undo the last handle move of the trend line
  c = await changes()
  assert.deepEqual(c.map((x) => x.op), ['put', 'put'])
  assert.equal(c[1].drawing.id, moved.id)
  assert.notDeepEqual(c[1].drawing.points, moved.points)
  await clickTool('Redo')
  c = await changes()
  assert.deepEqual(c, [{ op: 'put', drawing: moved }])
})

test('keyboard shortcuts pick tools, only with the pointer over the chart and not while typing elsewhere', async () => {
  await move(400, 300)
  const pick = async (key) => {
    await page.keyboard.press(key)
    return (await page.evaluate(() => DT.pressed()))[0]
  }
  assert.equal(await pick('Alt+T'), 'trend')
  assert.equal(await pick('Alt+H'), 'horizontal')
  assert.equal(await pick('Alt+R'), 'ray')
  assert.equal(await pick('Alt+G'), 'rectangle')
  assert.equal(await pick('Alt+F'), 'fibonacci')
  assert.equal(await pick('Alt+N'), 'note')
  assert.equal(await pick('Alt+S'), 'select')
  assert.equal(await pick('Alt+T'), 'trend')
  assert.equal(await pick('Escape'), 'select')

  // Escape also cancels a line in progress.
  await pick('Alt+T')
  await click(300, 300)
  await move(400, 250)
  await page.keyboard.press('Escape')
  await click(420, 260)
  await settle()
  assert.deepEqual(await changes(), [], 'cancelled line never reported')

  // Typing in an input elsewhere: keys are left alone.
  await page.focus('#elsewhere')
  await page.keyboard.press('Alt+T')
  await page.keyboard.type('abc')
  await page.keyboard.press('Backspace')
  await page.keyboard.press('Control+Z')
  assert.deepEqual(await page.evaluate(() => DT.pressed()), ['select'])
  assert.deepEqual(await changes(), [])
  await page.evaluate(() => document.getElementById('elsewhere').blur())

  // Pointer away from the chart and the chart not focused: not ours either.
  await page.mouse.move(980, 580)
  await page.evaluate(() => document.activeElement.blur())
  await page.keyboard.press('Alt+T')
  assert.deepEqual(await page.evaluate(() => DT.pressed()), ['select'])
})

test('setDrawings draws a list without callbacks and clears undo; applyDrawingChange adds, moves and deletes', async () => {
  const r = await page.evaluate(async (symbol) => {
    const h = document.getElementById('chart').__inchartChart
    const data = T.candles(300, Date.UTC(2024, 0, 1), 42000)
    h.setCandles(data)
    await T.settle()
    const a = data[200]
    const b = data[260]
    const list = [
      { id: '00000000-0000-4000-8000-000000000001', symbol, kind: 'trend', points: [{ time: a[0], price: a[4] }, { time: b[0], price: b[4] }] },
      { id: '00000000-0000-4000-8000-000000000002', symbol, kind: 'horizontal', points: [{ time: a[0], price: a[2] }], color: '#FF9500' },
      { id: '00000000-0000-4000-8000-000000000003', symbol: 'ETHUSDT', kind: 'trend', points: [{ time: a[0], price: 1 }, { time: b[0], price: 2 }] },
      { id: 'bad', symbol, kind: 'circle', points: [] },
    ]
    h.setDrawings(symbol, list)
    await T.settle()
    const mid = DT.toScreen({ time: (a[0] + b[0]) / 2, price: (a[4] + b[4]) / 2 })
    const hy = DT.toScreen({ time: a[0], price: a[2] })[1]
    const res = {
      ids: h.drawings().map((d) => d.id),
      lineAtMid: DT.near(mid[0], mid[1], '#0A84FF'),
      orange: DT.near(400, hy, '#FF9500', 2),
      undoDisabled: document.querySelector('.inchart-draw-bar [data-tool="undo"]').disabled,
      changes: DT.changes.length,
    }
    // Another tab adds a rectangle, moves the line and deletes the horizontal.
    h.applyDrawingChange({ op: 'put', drawing: { id: 'r1', symbol, kind: 'rectangle', points: [{ time: data[205][0], price: a[4] * 1.01 }, { time: data[215][0], price: a[4] * 1.02 }] } })
    h.applyDrawingChange({ op: 'put', drawing: { ...list[0], points: [{ time: a[0], price: a[4] * 0.99 }, { time: b[0], price: b[4] * 0.99 }] } })
    h.applyDrawingChange({ op: 'delete', symbol, id: list[1].id })
    // For another symbol: ignored.
    h.applyDrawingChange({ op: 'delete', symbol: 'ETHUSDT', id: list[0].id })
    h.applyDrawingChange({ op: 'put', drawing: { ...list[2], id: 'e2' } })
    await T.settle()
    const mid2 = DT.toScreen({ time: (a[0] + b[0]) / 2, price: (a[4] + b[4]) / 2 * 0.99 })
    res.after = {
      ids: h.drawings().map((d) => d.id).sort(),
      movedLine: DT.near(mid2[0], mid2[1], '#0A84FF'),
      oldLine: DT.near(mid[0], mid[1], '#0A84FF'),
      orange: DT.near(400, hy, '#FF9500', 2),
      changes: DT.changes.length,
    }
    return res
  }, SYMBOL)
  assert.deepEqual(r.ids, ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'], 'other symbols and broken rows are dropped')
  assert.ok(r.lineAtMid > 2, `line drawn: ${r.lineAtMid}`)
  assert.ok(r.orange > 4, `own colour: ${r.orange}`)
  assert.ok(r.undoDisabled, 'undo history cleared')
  assert.equal(r.changes, 0, 'no callbacks')
  assert.deepEqual(r.after.ids, ['00000000-0000-4000-8000-000000000001', 'r1'])
  assert.ok(r.after.movedLine > 2 && r.after.oldLine === 0, JSON.stringify(r.after))
  assert.equal(r.after.orange, 0)
  assert.equal(r.after.changes, 0, 'no callbacks')
})

test('drawings stay anchored in time and price on another interval, pan and zoom', async () => {
  // Where the line's points are, in pixels, according to the chart's own layout.
  const where = () => page.evaluate(() => {
    const d = document.getElementById('chart').__inchartChart.drawings().find((x) => x.kind === 'trend')
    const [p, q] = d.points.map(DT.toScreen)
    const m = [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2]
    return { p, q, m, pixels: DT.near(m[0], m[1], '#0A84FF'), range: document.getElementById('chart').__inchartChart.visibleRange() }
  })
  const a = await where()
  // 15-minute candles of the same symbol over the same period.
  await page.evaluate(async () => {
    const h = document.getElementById('chart').__inchartChart
    // (each hour split in four, so the prices are those of the 1h chart)
    const hourly = T.candles(300, Date.UTC(2024, 0, 1), 42000)
    h.setCandles(hourly.flatMap((c) => [0, 1, 2, 3].map((k) => [c[0] + k * 15 * 60e3, c[1], c[2], c[3], c[4], c[5] / 4])))
    await T.settle()
    // The default view (the last 150 candles) is after the line: go there.
    const line = h.drawings().find((x) => x.kind === 'trend')
    document.querySelector('#chart .trading-vue-chart').__vue__.setRange(line.points[0].time - 20 * 3600e3, line.points[1].time + 20 * 3600e3)
    await T.settle()
  })
  const b = await where()
  assert.ok(b.pixels > 2, `drawn on 15m at its time/price: ${JSON.stringify(b)}`)
  assert.equal((await drawingsNow()).length, 2)

  // Pan: drag empty space (far from the line).
  await page.evaluate(async () => {
    const h = document.getElementById('chart').__inchartChart
    const line = h.drawings().find((x) => x.kind === 'trend')
    document.querySelector('#chart .trading-vue-chart').__vue__.setRange(line.points[0].time - 40 * 3600e3, line.points[1].time + 20 * 3600e3)
    await T.settle()
  })
  const c0 = await where()
  await drag([120, 40], [260, 40])
  await settle()
  const c = await where()
  assert.notDeepEqual(c.range, c0.range, 'panned')
  assert.ok(Math.abs(c.m[0] - c0.m[0] - 140) <= 2, `moved with the candles: ${c0.m[0]} -> ${c.m[0]}`)
  assert.ok(c.pixels > 2, 'still drawn after the pan')

  // Zoom with the wheel.
  await move(300, 250)
  await page.mouse.wheel(0, -300)
  await page.waitForTimeout(100)
  await settle()
  const d = await where()
  assert.notDeepEqual(d.range, c.range, 'zoomed')
  assert.ok(d.pixels > 2, `still drawn after the zoom: ${JSON.stringify(d)}`)
  assert.deepEqual(await changes(), [], 'view changes are not edits')
})

// Draws one of each kind from data (so the screenshots are repeatable).
async function drawSample(p) {
  await p.evaluate(async (symbol) => {
    const h = document.getElementById('chart').__inchartChart
    const data = T.candles(300, Date.UTC(2024, 0, 1), 42000)
    h.setCandles(data)
    await T.settle()
    const pt = (i, k = 4, f = 1) => ({ time: data[i][0], price: data[i][k] * f })
    const id = (n) => `00000000-0000-4000-8000-00000000001${n}`
    h.setDrawings(symbol, [
      { id: id(1), symbol, kind: 'trend', points: [pt(170, 3), pt(230, 3)] },
      { id: id(2), symbol, kind: 'horizontal', points: [pt(250, 2, 1.004)] },
      { id: id(3), symbol, kind: 'ray', points: [pt(160, 2, 1.01), pt(200, 2, 1.01)] },
      { id: id(4), symbol, kind: 'rectangle', points: [pt(240, 2, 1.002), pt(270, 3, 0.998)] },
      { id: id(5), symbol, kind: 'fibonacci', points: [pt(155, 3, 0.99), pt(215, 2, 1.01)] },
      { id: id(6), symbol, kind: 'note', points: [pt(285, 3, 0.998)], text: 'Breakout retest' },
    ])
    await T.settle()
  }, SYMBOL)
}

test('screenshots: dark, light and a 390x700 phone', async () => {
  await drawSample(page)
  await clickTool('Fibonacci retracement')
  await move(500, 300)
  await page.screenshot({ path: `${OUT}drawings-dark.png` })
  await page.keyboard.press('Escape')
  await page.evaluate(async () => {
    document.getElementById('chart').__inchartChart.setTheme('light')
    await T.settle()
  })
  // Select the trend line so that its handles show.
  const trend = (await drawingsNow()).find((d) => d.kind === 'trend')
  const [p, q] = await page.evaluate((d) => d.points.map(DT.toScreen), trend)
  const on = [p[0] + 0.8 * (q[0] - p[0]), p[1] + 0.8 * (q[1] - p[1])] // clear of the Fibonacci
  await click(...on)
  await settle()
  assert.deepEqual(await page.evaluate(() => document.querySelector('.inchart-draw-bar [data-tool="delete"]').disabled), false, 'selected')
  await page.screenshot({ path: `${OUT}drawings-light.png` })
  const light = await page.evaluate(() => {
    const bar = document.querySelector('.inchart-draw-bar')
    return { theme: bar.dataset.theme, color: getComputedStyle(bar.querySelector('[data-tool="trend"]')).color }
  })
  assert.equal(light.theme, 'light')
  assert.equal(light.color, 'rgb(29, 29, 31)', 'dark icons on the light toolbar')
  assert.ok((await accentNear(...on, 3, 'light')) > 2, 'light-theme line colour')

  const phone = await openPage({ width: 390, height: 700 }, [390, 700])
  await drawSample(phone)
  const r = await phone.evaluate(() => {
    const bar = document.querySelector('.inchart-draw-bar').getBoundingClientRect()
    const chart = document.getElementById('chart').getBoundingClientRect()
    return { bar: bar.toJSON(), chart: chart.toJSON() }
  })
  assert.ok(r.bar.bottom <= r.chart.bottom && r.bar.width <= 44, JSON.stringify(r))
  await phone.screenshot({ path: `${OUT}drawings-phone.png` })
  // The phone's toolbar folds away.
  await phone.getByRole('button', { name: 'Drawing tools' }).click()
  const folded = await phone.evaluate(() => document.querySelector('.inchart-draw-bar').getBoundingClientRect().height)
  assert.ok(folded < 50, `folded height ${folded}`)
  await phone.close()
})

test('on a touch phone: tap a tool, tap two points; tap a drawing and the delete button', async () => {
  const phone = await openPage({ width: 390, height: 700 }, [390, 700], { hasTouch: true, isMobile: true })
  const b = await gridBox(phone)
  const tap = (x, y) => phone.touchscreen.tap(b.x + x, b.y + y)
  await phone.getByRole('button', { name: 'Trend line', exact: true }).tap()
  await tap(80, 400)
  await tap(260, 250)
  await settle(phone)
  const c = await changes(phone)
  assert.deepEqual(c.map((x) => [x.op, x.drawing.kind]), [['put', 'trend']])
  const per = await phone.evaluate(() => DT.perPx())
  const at = await phone.evaluate(() => [DT.at(80, 400), DT.at(260, 250)])
  for (let i = 0; i < 2; i++) {
    assert.ok(Math.abs(c[0].drawing.points[i].time - at[i].time) <= 2 * per.time, `point ${i} time`)
    assert.ok(Math.abs(c[0].drawing.points[i].price - at[i].price) <= 2 * per.price, `point ${i} price`)
  }
  assert.ok((await accentNear(170, 325, 3, 'dark', phone)) > 2, 'drawn')

  // Drag it with a finger: it moves (one change) and the chart does not pan.
  const before = await range(phone)
  const cdp = await phone.context().newCDPSession(phone)
  const touch = (type, x, y) => cdp.send('Input.dispatchTouchEvent', {
    type, touchPoints: type === 'touchEnd' ? [] : [{ x: b.x + x, y: b.y + y }],
  })
  await touch('touchStart', 170, 325)
  for (let i = 1; i <= 8; i++) await touch('touchMove', 170 + i * 5, 325 + i * 5)
  await touch('touchEnd')
  await cdp.detach()
  await settle(phone)
  const moved = await changes(phone)
  assert.equal(moved.length, 1, JSON.stringify(moved))
  const dt = moved[0].drawing.points[0].time - c[0].drawing.points[0].time
  assert.ok(Math.abs(dt - 40 * per.time) <= 2 * per.time, `moved by ${dt / per.time} px`)
  assert.deepEqual(await range(phone), before, 'no pan while dragging a drawing')
  assert.equal(await phone.evaluate(() => getComputedStyle(document.querySelector('#chart canvas[id$="-grid-0-canvas"]')).touchAction), 'none')
  // Deselect, then select it again with a tap a little off the line.
  await phone.keyboard.press('Escape')
  await tap(212, 373)
  await phone.getByRole('button', { name: 'Delete drawing' }).tap()
  await settle(phone)
  assert.deepEqual((await changes(phone)).map((x) => x.op), ['delete'])
  await phone.close()
})

test('price alerts are dashed lines: amber, grey when paused, dragged to a new level, never drawings', async () => {
  const prices = await page.evaluate(() => {
    const h = document.getElementById('chart').__inchartChart
    h.setTheme('dark')
    h.setDrawings('BTCUSDT', [])
    DT.changes.splice(0)
    DT.alertMoves = []
    h.onAlertMove((m) => DT.alertMoves.push(m))
    const [a, b] = [DT.at(500, 200).price, DT.at(500, 400).price]
    h.setAlertLines([
      { id: 'a1', index: 0, price: a, paused: false, label: 'crosses' },
      { id: 'a2', index: 1, price: b, paused: true, label: 'enters (high)' },
      { id: 'bad', price: 'x' },
    ])
    return [a, b]
  })
  await settle()
  const lines = await page.evaluate(() => document.getElementById('chart').__inchartChart.alertLines())
  assert.deepEqual(lines.map((l) => [l.id, l.index, l.paused]), [['a1', 0, false], ['a2', 1, true]])
  assert.equal(lines[0].price, prices[0])
  const colourNear = (x, y, c) => page.evaluate(([x, y, c]) => DT.near(x, y, c, 6), [x, y, c])
  assert.ok((await colourNear(700, 200, '#FF9F0A')) > 0, 'an active alert is amber')
  assert.ok((await colourNear(700, 400, '#8E8E93')) > 0, 'a paused alert is grey')
  await page.locator('#chart').screenshot({ path: `${OUT}alerts-dark.png` })
  const before = await range()
  await drag([600, 200], [600, 260])
  await settle()
  const moves = await page.evaluate(() => DT.alertMoves.splice(0))
  assert.equal(moves.length, 1, JSON.stringify(moves))
  assert.equal(moves[0].id, 'a1')
  assert.equal(moves[0].index, 0)
  const r = await page.evaluate(() => ({ at: DT.at(600, 260), per: DT.perPx() }))
  assert.ok(Math.abs(moves[0].price - r.at.price) <= 1.5 * r.per.price, `dropped at ${moves[0].price} vs ${r.at.price}`)
  assert.deepEqual(await changes(), [], 'an alert line is not a drawing')
  assert.deepEqual(await range(), before, 'no pan while dragging an alert line')
  const after = await page.evaluate(() => document.getElementById('chart').__inchartChart.alertLines())
  assert.equal(after[0].price, moves[0].price, 'drawn where it was dropped')
  // A click on a line without moving it reports nothing.
  await click(600, 400)
  await settle()
  assert.deepEqual(await page.evaluate(() => DT.alertMoves.splice(0)), [])
  await page.evaluate(() => document.getElementById('chart').__inchartChart.setAlertLines([]))
  assert.deepEqual(await page.evaluate(() => document.getElementById('chart').__inchartChart.alertLines()), [])
})

test('destroy removes the toolbar and the keyboard listener; the drawing calls become no-ops', async () => {
  const r = await page.evaluate(() => {
    const el = document.getElementById('chart')
    const h = el.__inchartChart
    h.destroy()
    h.enableDrawings(() => {})
    h.setDrawings('BTCUSDT', [])
    return { bar: document.querySelectorAll('.inchart-draw-bar').length, tabindex: el.getAttribute('tabindex'), list: h.drawings() }
  })
  assert.deepEqual(r, { bar: 0, tabindex: null, list: null })
  await page.keyboard.press('Alt+T') // no error from a dead chart
})

test('no page errors', () => {
  assert.deepEqual(pageErrors, [])
})
