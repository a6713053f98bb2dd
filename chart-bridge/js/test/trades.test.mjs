// A backtest's trades on the price chart (src/trades.js) and goTo of
// window.InChartChart, checked in real headless Chromium.
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
// The chart's up/down colours (src/index.js THEMES), which trades use too.
const DARK = { up: '#30D158', down: '#FF453A' }
const LIGHT = { up: '#34C759', down: '#FF3B30' }

let server, browser, page
const pageErrors = []

// In-page helpers (window.TT): the price grid's layout and its pixels.
function installHelpers() {
  const chartVm = () => document.querySelector('#chart .trading-vue-chart').__vue__
  const grid = () => chartVm()._layout.grids[0]
  const canvas = () => document.querySelector('#chart canvas[id$="-grid-0-canvas"]')
  window.TT = {
    chartVm,
    handle: () => document.getElementById('chart').__inchartChart,
    at: (time, price) => [grid().t2screen(time), grid().$2screen(price)],
    // Pixels of `color` (within `tol` of each channel summed) in the box of
    // half size `r` around canvas point (x, y).
    near(x, y, color, r = 3, tol = 40) {
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
        if (px[i + 3] > 200 && Math.abs(px[i] - tr) + Math.abs(px[i + 1] - tg) + Math.abs(px[i + 2] - tb) <= tol) n++
      }
      return n
    },
    // `color` pixels along the segment a-b (its middle three fifths).
    along(a, b, color) {
      let n = 0
      for (let f = 0.2; f <= 0.8001; f += 0.05) {
        n += TT.near(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, color, 1.5)
      }
      return n
    },
    // The pixels in the box of half size `r` around (x, y), to compare.
    box(x, y, r = 5) {
      const k = devicePixelRatio
      const x0 = Math.max(0, Math.round((x - r) * k))
      const y0 = Math.max(0, Math.round((y - r) * k))
      return Array.from(canvas().getContext('2d').getImageData(x0, y0, Math.round(2 * r * k), Math.round(2 * r * k)).data)
    },
    changed: (a, b) => a.reduce((n, v, i) => n + (i % 4 === 0 && (v !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) ? 1 : 0), 0),
    hash: () => T.chartStats(document.getElementById('chart'), {}, 'canvas[id$="-grid-0-canvas"]').hash,
    onchartTypes: () => chartVm().onchart.map((o) => o.type),
    // Three trades on a chart's candles: a long won, a short lost, and a
    // long the range closed; each fills at a candle's open.
    trades(candles) {
      const fill = (i) => [candles[i][0], candles[i][1]]
      const trade = (side, a, b, pnl, closedAtEnd = false) => ({
        side,
        entryTime: fill(a)[0],
        entryPrice: fill(a)[1],
        exitTime: fill(b)[0],
        exitPrice: fill(b)[1],
        pnl,
        closedAtEnd,
      })
      return [trade('long', 200, 212, 150.5), trade('short', 226, 240, -80.25), trade('long', 270, 299, 12, true)]
    },
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
  page = await browser.newPage({ viewport: { width: 1000, height: 600 } })
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()))
  await page.goto(`http://127.0.0.1:${server.address().port}/`)
  await page.evaluate(installHelpers)
})

after(async () => {
  await browser?.close()
  server?.close()
})

// A fresh chart of 300 hourly candles; the default view shows the last 150.
async function mount(theme = 'dark') {
  await page.evaluate(async (theme) => {
    const el = document.getElementById('chart')
    window.candles = T.candles(300, Date.UTC(2024, 0, 1), 59000)
    InChartChart.mount(el, { title: 'BTCUSDT · 1h', theme, candles })
    await T.settle()
  }, theme)
}

test('setTrades draws entries, exits and dashed joins in the win and loss colours; [] clears them', async () => {
  await mount()
  const r = await page.evaluate(async (C) => {
    const h = TT.handle()
    const list = TT.trades(candles)
    const points = list.map((t) => ({ entry: TT.at(t.entryTime, t.entryPrice), exit: TT.at(t.exitTime, t.exitPrice) }))
    // A long's triangle sits under its tip, a short's over it.
    const look = () => ({
      winEntry: TT.near(points[0].entry[0], points[0].entry[1] + 5, C.up),
      winExit: TT.near(points[0].exit[0], points[0].exit[1], C.up),
      winLine: TT.along(points[0].entry, points[0].exit, C.up),
      lossEntry: TT.near(points[1].entry[0], points[1].entry[1] - 5, C.down),
      lossExit: TT.near(points[1].exit[0], points[1].exit[1], C.down),
      lossLine: TT.along(points[1].entry, points[1].exit, C.down),
      ring: TT.near(points[2].exit[0], points[2].exit[1], C.up, 5),
    })
    const boxes = () => points.flatMap((p) => [TT.box(...p.entry), TT.box(...p.exit)])
    const before = look()
    const boxesBefore = boxes()
    const hashBefore = TT.hash()
    h.setTrades(list)
    await T.settle()
    const drawn = look()
    const changed = boxes().map((b, i) => TT.changed(boxesBefore[i], b))
    const types = TT.onchartTypes()
    const got = h.trades()
    h.setTrades([])
    await T.settle()
    return { before, drawn, changed, types, got, list, cleared: h.trades(), typesAfter: TT.onchartTypes(), same: TT.hash() === hashBefore }
  }, DARK)
  assert.deepEqual(r.got, r.list, 'the getter gives the trades back as given')
  assert.ok(r.types.includes('InChartBacktestTrades'), `onchart: ${r.types}`)
  // Every marker changes its spot; a marker over a candle of its own colour
  // may add few pixels of that colour, but its halo still shows it.
  for (const [i, n] of r.changed.entries()) assert.ok(n >= 20, `marker ${i}: ${n} pixels changed`)
  for (const k of ['winEntry', 'winExit', 'lossEntry', 'lossExit', 'ring']) {
    assert.ok(r.drawn[k] >= 8, `${k}: ${r.before[k]} -> ${r.drawn[k]}`)
  }
  assert.ok(r.drawn.winEntry >= r.before.winEntry + 8 && r.drawn.lossEntry >= r.before.lossEntry + 8, JSON.stringify(r))
  for (const k of ['winLine', 'lossLine']) {
    assert.ok(r.drawn[k] >= r.before[k] + 5, `${k}: ${r.before[k]} -> ${r.drawn[k]}`)
  }
  assert.deepEqual(r.cleared, [])
  assert.ok(!r.typesAfter.includes('InChartBacktestTrades'), `onchart after []: ${r.typesAfter}`)
  assert.ok(r.same, 'the price chart is painted exactly as before the trades')
})

test('trades follow a scroll and the theme; malformed ones are left out', async () => {
  await mount()
  const r = await page.evaluate(async (colors) => {
    const h = TT.handle()
    const list = TT.trades(candles)
    h.setTrades([list[0], null, { ...list[1], entryTime: 'soon' }, { ...list[1], exitTime: list[1].entryTime - 1 }, list[1]])
    await T.settle()
    const res = { kept: h.trades().length }
    // Scrolled so that the won trade sits elsewhere on screen.
    const r0 = h.visibleRange()
    h.setRange(r0[0] - 40 * T.HOUR, r0[1] - 40 * T.HOUR)
    await T.settle()
    let p = TT.at(list[0].entryTime, list[0].entryPrice)
    res.scrolled = TT.near(p[0], p[1] + 5, colors.dark.up, 3, 6)
    h.setTheme('light')
    await T.settle()
    p = TT.at(list[0].entryTime, list[0].entryPrice)
    res.lightUp = TT.near(p[0], p[1] + 5, colors.light.up, 3, 6)
    res.lightLeftDark = TT.near(p[0], p[1] + 5, colors.dark.up, 3, 6)
    return res
  }, { dark: DARK, light: LIGHT })
  assert.equal(r.kept, 2)
  assert.ok(r.scrolled >= 8, `marker at its new place: ${r.scrolled}`)
  assert.ok(r.lightUp >= 8, `light theme's green: ${r.lightUp}`)
  assert.ok(r.lightLeftDark < r.lightUp, `dark green left: ${r.lightLeftDark}`)
})

test('highlightTrade draws one trade stronger, with its span shaded; null and a new list clear it', async () => {
  await mount()
  const r = await page.evaluate(async (C) => {
    const h = TT.handle()
    const list = TT.trades(candles)
    h.setTrades(list)
    await T.settle()
    const a = TT.at(list[0].entryTime, list[0].entryPrice)
    const b = TT.at(list[0].exitTime, list[0].exitPrice)
    const plain = { line: TT.along(a, b, C.up), hash: TT.hash() }
    h.highlightTrade(0)
    await T.settle()
    const strong = { line: TT.along(a, b, C.up), index: h.highlightedTrade() }
    h.highlightTrade(null)
    await T.settle()
    const back = { hash: TT.hash(), index: h.highlightedTrade() }
    h.highlightTrade(2)
    h.setTrades(list.slice(0, 2))
    return { plain, strong, back, afterNewList: h.highlightedTrade() }
  }, DARK)
  assert.equal(r.strong.index, 0)
  assert.ok(r.strong.line > r.plain.line, `solid and thicker: ${r.plain.line} -> ${r.strong.line}`)
  assert.equal(r.back.index, null)
  assert.equal(r.back.hash, r.plain.hash, 'null paints the trades as before')
  assert.equal(r.afterNewList, null, 'a list without the trade drops the highlight')
})

test('goTo centres a time keeping the zoom, and reports the range like a scroll', async () => {
  await mount()
  const r = await page.evaluate(async () => {
    const h = TT.handle()
    const events = []
    h.onRangeChange((range) => events.push(range))
    const t0 = candles[0][0]
    h.setRange(t0 + 100 * T.HOUR, t0 + 160 * T.HOUR)
    await T.settle()
    const width = h.visibleRange()[1] - h.visibleRange()[0]
    const target = candles[40][0]
    h.goTo(target)
    await T.settle()
    const res = { width, target, range: h.visibleRange(), events: events.slice() }
    h.goTo('later')
    h.goTo(NaN)
    await T.settle()
    res.ignored = events.length === 1
    // Before the oldest candle: the view goes there (the host then loads
    // older candles from the reported range).
    const early = t0 - 500 * T.HOUR
    h.goTo(early)
    await T.settle()
    res.early = { target: early, range: h.visibleRange(), reported: events.length === 2 }
    h.onRangeChange(null)
    return res
  })
  const [a, b] = r.range
  assert.ok(Math.abs(b - a - r.width) < 1, `zoom kept: ${b - a} vs ${r.width}`)
  assert.ok(Math.abs((a + b) / 2 - r.target) < 1, `centred on the time: ${(a + b) / 2} vs ${r.target}`)
  assert.deepEqual(r.events, [r.range], 'reported once, with the new range')
  assert.ok(r.ignored, 'a time that is not a number is ignored')
  assert.ok(r.early.reported)
  assert.ok(Math.abs((r.early.range[0] + r.early.range[1]) / 2 - r.early.target) < 1, `${r.early.range}`)
})

test('screenshots: trades in both themes, one highlighted, with equity and drawdown panes, and on a phone', async () => {
  for (const theme of ['dark', 'light']) {
    await mount(theme)
    await page.evaluate(async () => {
      const h = TT.handle()
      h.setTrades(TT.trades(candles))
      h.highlightTrade(1)
      // What the workbench puts under the candles: the equity with the
      // starting capital as a level, and the drawdown as bars below zero.
      let peak = 10000
      const equity = candles.map((c, i) => [c[0], 10000 * (c[4] / candles[0][4])])
      const drawdown = equity.map(([t, v]) => {
        peak = Math.max(peak, v)
        return [t, (100 * (v - peak)) / peak]
      })
      h.setPanes([
        { name: 'Equity', series: [{ name: 'Equity', style: 'line', color: '#0A84FF', data: equity }], levels: [{ name: 'Start', value: 10000 }] },
        { name: 'Drawdown %', series: [{ name: 'Drawdown', style: 'histogram', color: '#FF453A', data: drawdown }], levels: [] },
      ])
      await T.settle()
    })
    await page.locator('#chart').screenshot({ path: `${OUT}trades-${theme}.png` })
  }
  await page.setViewportSize({ width: 390, height: 700 })
  const shown = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    el.style.width = '390px'
    el.style.height = '500px'
    window.candles = T.candles(300, Date.UTC(2024, 0, 1), 59000)
    const h = InChartChart.mount(el, { title: 'BTCUSDT · 1h', theme: 'dark', candles })
    h.setTrades(TT.trades(candles))
    h.goTo(candles[230][0])
    await T.settle()
    const r = h.visibleRange()
    return r[0] <= candles[230][0] && candles[230][0] <= r[1]
  })
  await page.locator('#chart').screenshot({ path: `${OUT}trades-phone.png` })
  assert.ok(shown)
  await page.evaluate(() => {
    const el = document.getElementById('chart')
    el.__inchartChart.destroy()
    el.style.width = ''
    el.style.height = ''
  })
  await page.setViewportSize({ width: 1000, height: 600 })
})

test('no page errors', () => {
  assert.deepEqual(pageErrors, [])
})
