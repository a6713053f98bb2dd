// End-to-end checks of window.InChartChart in real headless Chromium.
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
const DARK = { up: '#30D158', down: '#FF453A' }
const LIGHT = { up: '#34C759', down: '#FF3B30' }

// Served at /csp with a Content-Security-Policy that forbids eval. The chart is
// mounted from a page script: code run through page.evaluate is exempt from CSP.
const CSP = "script-src 'self'"
const CSP_MOUNT = `
document.addEventListener('DOMContentLoaded', async () => {
  const el = document.getElementById('chart')
  InChartChart.mount(el, { candles: T.candles(300, Date.UTC(2024, 0, 1), 100) })
  await T.settle()
  window.cspResult = T.chartStats(el, { up: '${DARK.up}', down: '${DARK.down}' })
})`

let server, browser, page
const pageErrors = []

before(async () => {
  assert.ok(fs.existsSync(BUNDLE), `bundle missing: run "npm run build" first (${BUNDLE})`)
  fs.mkdirSync(OUT, { recursive: true })
  server = http.createServer((req, res) => {
    if (req.url === '/csp') {
      const html = fs.readFileSync(FILES['/'][0], 'utf8')
        .replace('</head>', '<script src="/csp-mount.js"></script></head>')
      return res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': CSP }).end(html)
    }
    if (req.url === '/csp-mount.js') {
      return res.writeHead(200, { 'content-type': 'text/javascript' }).end(CSP_MOUNT)
    }
    const file = FILES[req.url]
    if (!file) return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': file[1] }).end(fs.readFileSync(file[0]))
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
  page = await browser.newPage({ viewport: { width: 1000, height: 600 } })
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()))
  await page.goto(`http://127.0.0.1:${server.address().port}/`)
})

after(async () => {
  await browser?.close()
  server?.close()
})

// Page box of the candle canvas, for screenshot clips and mouse input.
async function gridBox() {
  return page.locator('#chart canvas[id$="-grid-0-canvas"]').boundingBox()
}

test('API surface', async () => {
  const api = await page.evaluate(() => ({
    version: InChartChart.version,
    keys: Object.keys(InChartChart).sort(),
    live: InChartChart.liveInstances(),
  }))
  assert.deepEqual(api, { version: '1', keys: ['liveInstances', 'mount', 'version'], live: 0 })
})

test('1. mount with 1000 candles draws a candlestick chart', async () => {
  const r = await page.evaluate(async (colors) => {
    const el = document.getElementById('chart')
    const data = T.candles(1000, Date.UTC(2024, 0, 1), 42000)
    const h = InChartChart.mount(el, { title: 'BTCUSDT · 1h', candles: data })
    await T.settle()
    return {
      same: el.__inchartChart === h,
      live: InChartChart.liveInstances(),
      count: h.candleCount(),
      last: h.lastCandle(),
      expectedLast: data[999],
      range: h.visibleRange(),
      visible: data.filter((c) => c[0] >= h.visibleRange()[0] && c[0] <= h.visibleRange()[1]).length,
      stats: T.chartStats(el, colors),
      size: [el.firstElementChild.offsetWidth, el.firstElementChild.offsetHeight],
      title: el.querySelector('.t-vue-title').textContent.trim(),
      methods: Object.keys(h).sort(),
    }
  }, DARK)
  assert.ok(r.same, 'el.__inchartChart is the handle')
  assert.equal(r.live, 1)
  assert.equal(r.count, 1000)
  assert.deepEqual(r.last, r.expectedLast)
  assert.deepEqual(r.methods, [
    'alertLines', 'applyDrawingChange', 'candleCount', 'cursor', 'destroy', 'drawings', 'enableDrawings', 'goTo',
    'highlightTrade', 'highlightedTrade', 'lastCandle', 'onAlertMove', 'onCursor', 'onPaneEvent', 'onRangeChange',
    'overlays', 'paneLayout', 'panes', 'prependCandles', 'resize', 'setAlertLines', 'setCandles', 'setCursor',
    'setDrawings', 'setOverlays',
    'setPaneHeights', 'setPanes', 'setPriceLevels', 'setRange', 'setTheme', 'setTitle', 'setTrades', 'setVolume',
    'trades', 'upsertCandle', 'visibleRange',
  ])
  assert.deepEqual(r.size, [900, 500], 'defaults to the container size')
  assert.equal(r.title, 'BTCUSDT · 1h')
  // Default view: the last ~150 candles, newest at the right edge.
  assert.ok(Math.abs(r.visible - 150) <= 1, `visible candles: ${r.visible}`)
  assert.ok(r.range[1] > r.last[0], `range ${r.range}`)
  assert.ok(r.stats.distinct > 10, `distinct colours: ${r.stats.distinct}`)
  assert.ok(r.stats.counts.up > 100, `up-colour pixels: ${r.stats.counts.up}`)
  assert.ok(r.stats.counts.down > 100, `down-colour pixels: ${r.stats.counts.down}`)
  await page.screenshot({ path: `${OUT}dark-1000.png` })
})

test('2. upsertCandle replaces, appends, fixes older candles and keeps the view', async () => {
  const r = await page.evaluate(async () => {
    const h = document.getElementById('chart').__inchartChart
    const H = T.HOUR
    const res = {}
    const last = h.lastCandle()

    // Same t: the forming candle is replaced.
    h.upsertCandle([last[0], last[1], last[2] + 50, last[3], last[4] + 25, last[5] + 1])
    await T.settle()
    res.replaced = { count: h.candleCount(), last: h.lastCandle(), prevClose: last[4] }

    // Next interval while at the right edge: appended, and the view follows.
    const r0 = h.visibleRange()
    const next = [last[0] + H, last[4], last[4] + 80, last[4] - 10, last[4] + 60, 12]
    h.upsertCandle(next)
    await T.settle()
    res.appended = { count: h.candleCount(), last: h.lastCandle(), next, r0, r1: h.visibleRange() }

    // An older candle: replaced in place, order kept, nothing added.
    const t = last[0] - 100 * H
    const before = h.visibleRange()
    h.upsertCandle([t, 1, 2, 0.5, 1.5, 3])
    await T.settle()
    const data = document.querySelector('#chart .trading-vue-chart').__vue__.ohlcv
    res.older = {
      count: h.candleCount(),
      candle: data.find((c) => c[0] === t),
      ascending: data.every((c, i) => i === 0 || c[0] > data[i - 1][0]),
      before,
      after: h.visibleRange(),
    }
    // A candle without a usable time is ignored.
    h.upsertCandle([NaN, 1, 1, 1, 1, 1])
    res.older.countAfterNaN = h.candleCount()
    // Undo the odd price so later screenshots look normal.
    h.upsertCandle([t, 43000, 43100, 42900, 43050, 3])
    return res
  })
  assert.equal(r.replaced.count, 1000)
  assert.equal(r.replaced.last[4], r.replaced.prevClose + 25)

  assert.equal(r.appended.count, 1001)
  assert.deepEqual(r.appended.last, r.appended.next)
  const H = 3600e3
  assert.deepEqual(r.appended.r1, [r.appended.r0[0] + H, r.appended.r0[1] + H], 'view follows the live edge by one candle')

  assert.equal(r.older.count, 1001)
  assert.deepEqual(r.older.candle.slice(1), [1, 2, 0.5, 1.5, 3])
  assert.ok(r.older.ascending)
  assert.equal(r.older.countAfterNaN, 1001)
  assert.deepEqual(r.older.after, r.older.before, 'visible range unchanged')
})

test('2b. a user scroll is reported and kept on new candles; prependCandles keeps the view', async () => {
  await page.evaluate(() => {
    window.rangeEvents = []
    document.getElementById('chart').__inchartChart.onRangeChange((r) => rangeEvents.push(r))
  })
  const before = await page.evaluate(() => document.getElementById('chart').__inchartChart.visibleRange())
  // Drag the chart to the right: scrolls back in time.
  const box = await gridBox()
  const y = box.y + box.height / 2
  await page.mouse.move(box.x + 200, y)
  await page.mouse.down()
  for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + 200 + i * 40, y)
  await page.mouse.up()
  await page.mouse.move(5, 5)

  const r = await page.evaluate(async () => {
    const h = document.getElementById('chart').__inchartChart
    await T.settle()
    const res = { events: rangeEvents.length, lastEvent: rangeEvents[rangeEvents.length - 1] }
    res.scrolled = h.visibleRange()

    // A new candle while scrolled back: the view stays.
    const last = h.lastCandle()
    h.upsertCandle([last[0] + T.HOUR, last[4], last[4] + 5, last[4] - 5, last[4] + 1, 1])
    await T.settle()
    res.afterUpsert = h.visibleRange()
    res.eventsAfterUpsert = rangeEvents.length

    // Scrolled past the oldest candle (nothing on screen; trading-vue would
    // re-initialise the range on the next update): the view still stays.
    const chartVm = document.querySelector('#chart .trading-vue-chart').__vue__
    const first0 = chartVm.ohlcv[0][0]
    chartVm.setRange(first0 - 300 * T.HOUR, first0 - 100 * T.HOUR)
    const empty = h.visibleRange()
    const last2 = h.lastCandle()
    h.upsertCandle([last2[0] + T.HOUR, last2[4], last2[4] + 5, last2[4] - 5, last2[4] + 1, 1])
    await T.settle()
    res.emptyView = { before: empty, after: h.visibleRange() }
    chartVm.setRange(...res.scrolled)

    // Older history: merged (with one overlapping candle), ascending, view kept.
    const first = document.querySelector('#chart .trading-vue-chart').__vue__.ohlcv[0]
    const older = T.candles(300, first[0] - 299 * T.HOUR, 40000, T.HOUR, 7)
    const countBefore = h.candleCount()
    h.prependCandles(older)
    await T.settle()
    const data = document.querySelector('#chart .trading-vue-chart').__vue__.ohlcv
    res.prepended = {
      added: h.candleCount() - countBefore,
      firstT: data[0][0],
      expectedFirstT: older[0][0],
      keptExisting: data[299][1] === first[1],
      ascending: data.every((c, i) => i === 0 || c[0] > data[i - 1][0]),
      range: h.visibleRange(),
    }
    h.onRangeChange(null)
    return res
  })
  assert.ok(r.events > 0, 'onRangeChange fired on drag')
  assert.deepEqual(r.lastEvent, r.scrolled)
  assert.ok(r.scrolled[1] < before[1], `scrolled back in time: ${before} -> ${r.scrolled}`)
  assert.deepEqual(r.afterUpsert, r.scrolled, 'a new candle does not move a scrolled view')
  assert.equal(r.eventsAfterUpsert, r.events, 'programmatic updates are not reported as user range changes')
  assert.deepEqual(r.emptyView.after, r.emptyView.before, 'a view with no candles in it is not reset')
  assert.equal(r.prepended.added, 299)
  assert.equal(r.prepended.firstT, r.prepended.expectedFirstT)
  assert.ok(r.prepended.keptExisting, 'existing candle wins over an overlapping older copy')
  assert.ok(r.prepended.ascending)
  assert.deepEqual(r.prepended.range, r.scrolled, 'prepend keeps the visible range')
})

test('2c. a live feed does not shift the time axis sideways', async () => {
  const r = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    const h = el.__inchartChart
    // A 4-decimal, sub-dollar instrument: the price precision (and with it the
    // price-axis width) used to flip as candles scrolled through the view.
    const data = T.candles(800, Date.UTC(2024, 4, 1), 0.5123, 60e3, 11, 4)
    h.setCandles(data.slice(0, 400))
    await T.settle()
    const chartVm = document.querySelector('#chart .trading-vue-chart').__vue__
    const xs = new Set()
    const axis = new Set()
    const precision = new Set()
    for (const c of data.slice(400)) {
      // A forming update, then the closed candle.
      h.upsertCandle([c[0], c[1], c[1], c[1], c[1], 1])
      h.upsertCandle(c)
      await new Promise((resolve) => setTimeout(resolve))
      const grid = chartVm._layout.grids[0]
      xs.add(Math.round(grid.t2screen(c[0])))
      axis.add(grid.sb)
      precision.add(grid.prec)
    }
    return { xs: [...xs], axis: [...axis], precision: [...precision], count: h.candleCount() }
  })
  assert.equal(r.count, 800)
  assert.deepEqual(r.precision, [4])
  assert.equal(r.axis.length, 1, `price-axis widths: ${r.axis}`)
  assert.equal(r.xs.length, 1, `x of the newest candle: ${r.xs}`)
})

test('overlays: Spline and Trades are drawn and listed; [] clears them', async () => {
  const r = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    const h = el.__inchartChart
    h.setCandles(T.candles(400, Date.UTC(2024, 2, 1), 42000))
    const data = document.querySelector('#chart .trading-vue-chart').__vue__.ohlcv
    const sma = data.slice(19).map((c, i) => [c[0], data.slice(i, i + 20).reduce((s, x) => s + x[4], 0) / 20])
    const trades = [[data[330][0], 1, data[330][3], 'Buy'], [data[360][0], 0, data[360][2], 'Sell']]
    h.setOverlays([
      { name: 'SMA 20', type: 'Spline', data: sma, settings: { color: '#0A84FF', lineWidth: 2 } },
      { name: 'Trades', type: 'Trades', data: trades, settings: { buyColor: '#0A84FF', sellColor: '#BF5AF2' } },
    ])
    await T.settle()
    const names = [...el.querySelectorAll('.t-vue-iname')].map((n) => n.textContent.trim())
    const values = [...el.querySelectorAll('.t-vue-ivalues')].map((n) => n.textContent.replace(/\s+/g, ' ').trim())
    const stats = T.chartStats(el, { blue: '#0A84FF', purple: '#BF5AF2' })
    return { names, values, lastSma: sma[sma.length - 1][1].toFixed(4), stats }
  })
  assert.deepEqual(r.names, ['SMA 20', 'Trades'])
  // Before any mouse-over the legend shows the last values, not "n/a".
  assert.equal(r.values[0], r.lastSma)
  assert.match(r.values[1], /^Sell \d+\.\d+ Sell$/)
  assert.ok(r.stats.counts.blue > 200, `spline pixels: ${r.stats.counts.blue}`)
  assert.ok(r.stats.counts.purple > 10, `sell marker pixels: ${r.stats.counts.purple}`)
  await page.screenshot({ path: `${OUT}dark-overlays.png` })

  const cleared = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    el.__inchartChart.setOverlays([])
    await T.settle()
    return { names: el.querySelectorAll('.t-vue-iname').length, stats: T.chartStats(el, { blue: '#0A84FF' }) }
  })
  assert.equal(cleared.names, 0)
  assert.equal(cleared.stats.counts.blue, 0)
})

test('3. setCandles replaces the series, redraws and resets the view', async () => {
  const r = await page.evaluate(async (colors) => {
    const el = document.getElementById('chart')
    const h = el.__inchartChart
    const before = T.chartStats(el)
    // Another symbol and interval, disjoint in time and price from the current series.
    const data = T.candles(500, Date.UTC(2023, 5, 1), 1800, 15 * 60e3, 99)
    h.setCandles(data)
    h.setTitle('ETHUSDT · 15m')
    const countNow = h.candleCount()
    await T.settle()
    return {
      countNow,
      count: h.candleCount(),
      last: h.lastCandle(),
      expectedLast: data[499],
      range: h.visibleRange(),
      visible: data.filter((c) => c[0] >= h.visibleRange()[0] && c[0] <= h.visibleRange()[1]).length,
      before,
      after: T.chartStats(el, colors),
      title: el.querySelector('.t-vue-title').textContent.trim(),
      ohlcLegend: el.querySelector('.trading-vue-ohlcv').textContent.replace(/\s+/g, ''),
      lastClose: data[499][4].toFixed(2),
    }
  }, DARK)
  assert.equal(r.title, 'ETHUSDT · 15m')
  assert.ok(r.ohlcLegend.includes('C' + r.lastClose), r.ohlcLegend)
  assert.equal(r.countNow, 500, 'count is updated synchronously')
  assert.equal(r.count, 500)
  assert.deepEqual(r.last, r.expectedLast)
  assert.notEqual(r.after.hash, r.before.hash, 'canvas redrawn')
  assert.ok(r.after.distinct > 10, `distinct colours: ${r.after.distinct}`)
  assert.ok(r.after.counts.up > 100 && r.after.counts.down > 100, JSON.stringify(r.after.counts))
  // Last 150 candles, newest at the right edge.
  assert.ok(Math.abs(r.visible - 150) <= 1, `visible candles: ${r.visible}`)
  assert.ok(r.range[1] > r.last[0], `range ${r.range}`)
  await page.screenshot({ path: `${OUT}dark-setcandles.png` })
})

test('5. setTheme("light") changes the background and candle colours', async () => {
  const box = await gridBox()
  const clip = { x: box.x, y: box.y + 60, width: box.width, height: box.height - 60 }
  const b64 = async () => (await page.screenshot({ clip })).toString('base64')
  const dark = await page.evaluate((s) => T.dominantColor(s), await b64())

  const stats = await page.evaluate(async (colors) => {
    const el = document.getElementById('chart')
    el.__inchartChart.setTheme('light')
    await T.settle()
    return T.chartStats(el, colors)
  }, LIGHT)
  const light = await page.evaluate((s) => T.dominantColor(s), await b64())
  await page.screenshot({ path: `${OUT}light.png` })

  assert.ok(dark.every((v, i) => Math.abs(v - [0x1c, 0x1c, 0x1e][i]) <= 2), `dark background ${dark}`)
  assert.deepEqual(light, [255, 255, 255])
  assert.ok(stats.counts.up > 100 && stats.counts.down > 100, JSON.stringify(stats.counts))

  await page.evaluate(() => document.getElementById('chart').__inchartChart.setTheme('dark'))
})

test('resize changes the chart size', async () => {
  const r = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    el.__inchartChart.resize(640, 360)
    await T.settle()
    const root = el.firstElementChild
    const size = [root.offsetWidth, root.offsetHeight]
    const botbar = el.querySelector('canvas[id$="-botbar-canvas"]').getBoundingClientRect().width
    el.__inchartChart.resize(900, 500)
    await T.settle()
    return { size, botbar }
  })
  assert.deepEqual(r.size, [640, 360])
  assert.equal(r.botbar, 640)
})

// Event listener types registered on window and document (via the DevTools protocol).
async function globalListeners(cdp) {
  const types = []
  for (const expression of ['window', 'document']) {
    const { result } = await cdp.send('Runtime.evaluate', { expression })
    const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: result.objectId })
    types.push(...listeners.map((l) => `${expression}:${l.type}`))
  }
  return types.sort()
}

test('4. destroy releases the instance; 20 mount/destroy cycles leave none', async () => {
  const cdp = await page.context().newCDPSession(page)
  const listenersMounted = await globalListeners(cdp)
  const r = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    const h = el.__inchartChart
    h.destroy()
    const res = {
      live: InChartChart.liveInstances(),
      children: el.childNodes.length,
      prop: el.__inchartChart,
      afterDestroy: [h.candleCount(), h.lastCandle(), h.visibleRange()],
    }
    h.destroy() // harmless
    h.upsertCandle([0, 1, 1, 1, 1, 1]) // no-op
    res.liveAfterSecond = InChartChart.liveInstances()
    return res
  })
  // Playwright has listeners of its own on window, so compare with this baseline.
  const listenersBaseline = await globalListeners(cdp)

  Object.assign(r, await page.evaluate(async () => {
    const el = document.getElementById('chart')
    const res = {}
    const data = T.candles(300, Date.UTC(2024, 0, 1), 100)
    let maxLive = 0
    for (let i = 0; i < 20; i++) {
      const x = InChartChart.mount(el, { candles: data, theme: i % 2 ? 'light' : 'dark' })
      await T.settle()
      maxLive = Math.max(maxLive, InChartChart.liveInstances())
      x.destroy()
    }
    // Mounting onto a container that already holds a chart replaces it.
    InChartChart.mount(el, { candles: data })
    InChartChart.mount(el, { candles: data })
    res.remount = InChartChart.liveInstances()
    el.__inchartChart.destroy()

    res.loopLive = InChartChart.liveInstances()
    res.maxLive = maxLive
    res.leftovers = document.querySelectorAll('.trading-vue').length
    res.children2 = el.childNodes.length
    return res
  }))
  const listenersAfter = await globalListeners(cdp)
  await cdp.detach()
  assert.ok(listenersMounted.length > listenersBaseline.length, 'a mounted chart listens on window')
  assert.ok(!listenersBaseline.includes('window:keydown'), 'destroy removed the window listeners')
  assert.deepEqual(listenersAfter, listenersBaseline, 'no window/document listeners left behind')
  assert.equal(r.live, 0)
  assert.equal(r.children, 0, 'container emptied')
  assert.equal(r.prop, undefined)
  assert.deepEqual(r.afterDestroy, [0, null, null])
  assert.equal(r.liveAfterSecond, 0)
  assert.equal(r.maxLive, 1)
  assert.equal(r.remount, 1)
  assert.equal(r.loopLive, 0)
  assert.equal(r.leftovers, 0)
  assert.equal(r.children2, 0)
})

test('a chart mounted empty fills up through upsertCandle', async () => {
  const r = await page.evaluate(async (colors) => {
    const el = document.getElementById('chart')
    const h = InChartChart.mount(el, { theme: 'light', title: 'ETHUSDT · 1m', width: 0, height: 0 })
    await T.settle()
    const root = el.firstElementChild
    const res = { empty: [h.candleCount(), h.lastCandle()], size: [root.offsetWidth, root.offsetHeight] }
    for (const c of T.candles(60, Date.UTC(2024, 0, 1), 2300, 60e3, 5)) {
      h.upsertCandle(c)
      await T.settle()
    }
    res.count = h.candleCount()
    res.stats = T.chartStats(el, colors)
    return res
  }, LIGHT)
  await page.screenshot({ path: `${OUT}light-live.png` })
  await page.evaluate(() => document.getElementById('chart').__inchartChart.destroy())
  assert.deepEqual(r.empty, [0, null])
  assert.deepEqual(r.size, [900, 500], 'width/height 0 fall back to the container size')
  assert.equal(r.count, 60)
  assert.ok(r.stats.counts.up > 20 && r.stats.counts.down > 20, JSON.stringify(r.stats.counts))
})

// Script output as the app draws it: buy/sell markers (Trades) and indicator
// lines (Spline), each in a colour nothing else on the chart uses.
const SIGNAL = { buy: '#00FFFF', sell: '#FF00FF', fast: '#FFFF00', slow: '#3355FF' }

test('signals: Trades markers and two Splines are drawn in their colours, survive candle updates, and [] removes them', async () => {
  const r = await page.evaluate(async ({ c, dark }) => {
    const el = document.getElementById('chart')
    const data = T.candles(300, Date.UTC(2024, 3, 1), 42000)
    const h = InChartChart.mount(el, { title: 'BTCUSDT · 1h', candles: data })
    await T.settle()
    const sma = (n) => data.slice(n - 1).map((x, i) => [x[0], data.slice(i, i + n).reduce((s, y) => s + y[4], 0) / n])
    // A buy under the low, a sell over the high, labelled; all inside the
    // default view (the last 150 candles).
    const trade = (i, buy) => [data[i][0], buy ? 1 : 0, buy ? data[i][3] : data[i][2], buy ? 'Buy' : 'Sell']
    const sorted = [trade(200, true), trade(220, false), trade(260, true), trade(280, false)]
    const overlays = (trades) => [
      { name: 'Signals', type: 'Trades', data: trades, settings: { buyColor: c.buy, sellColor: c.sell } },
      { name: 'Fast', type: 'Spline', data: sma(10), settings: { color: c.fast, lineWidth: 2 } },
      { name: 'Slow', type: 'Spline', data: sma(30), settings: { color: c.slow, lineWidth: 2 } },
    ]
    // Labels: by default in the theme's axis text colour, on the candle canvas
    // (where nothing else uses it).
    const grid = 'canvas[id$="-grid-0-canvas"]'
    const labels = () => T.chartStats(el, { dark: '#AEAEB2', light: '#6E6E73' }, grid).counts
    const res = {}

    h.setOverlays(overlays(sorted))
    await T.settle()
    res.sorted = T.chartStats(el, c).counts
    res.labels = labels()
    res.names = [...el.querySelectorAll('.t-vue-iname')].map((n) => n.textContent.trim())

    // A script that lists its buys, then its sells, newest first.
    h.setOverlays(overlays([sorted[2], sorted[0], sorted[3], sorted[1]]))
    await T.settle()
    res.unsorted = T.chartStats(el, c).counts

    // A live candle, older history, then the whole series again: the
    // overlays stay.
    const last = h.lastCandle()
    h.upsertCandle([last[0] + T.HOUR, last[4], last[4] + 30, last[4] - 30, last[4] + 10, 5])
    await T.settle()
    res.afterUpsert = T.chartStats(el, c).counts
    h.upsertCandle([last[0] + T.HOUR, last[4], last[4] + 40, last[4] - 30, last[4] + 20, 6])
    await T.settle()
    res.afterForming = T.chartStats(el, c).counts
    h.prependCandles(T.candles(200, data[0][0] - 200 * T.HOUR, 40000, T.HOUR, 4))
    await T.settle()
    res.afterPrepend = T.chartStats(el, c).counts
    h.setCandles(data)
    await T.settle()
    res.afterSetCandles = T.chartStats(el, c).counts
    res.namesAfter = [...el.querySelectorAll('.t-vue-iname')].map((n) => n.textContent.trim())

    h.setTheme('light')
    await T.settle()
    res.lightLabels = labels()
    h.setTheme('dark')
    await T.settle()
    return res
  }, { c: SIGNAL })
  await page.screenshot({ path: `${OUT}dark-signals.png` })

  assert.deepEqual(r.names, ['Signals', 'Fast', 'Slow'])
  for (const k of Object.keys(SIGNAL)) assert.ok(r.sorted[k] > 40, `${k} pixels: ${JSON.stringify(r.sorted)}`)
  // Four markers of about 11 px across: two in each colour.
  assert.ok(r.sorted.buy > 100 && r.sorted.sell > 100, JSON.stringify(r.sorted))
  assert.ok(r.sorted.fast > 400 && r.sorted.slow > 400, JSON.stringify(r.sorted))
  assert.ok(r.labels.dark > 20, `label pixels: ${JSON.stringify(r.labels)}`)
  assert.deepEqual(r.unsorted, r.sorted, 'rows out of time order draw the same')
  for (const k of ['afterUpsert', 'afterForming', 'afterPrepend', 'afterSetCandles']) {
    for (const [name, n] of Object.entries(r[k])) {
      assert.ok(n > 0.8 * r.sorted[name], `${k}: ${name} ${n} of ${r.sorted[name]}`)
    }
  }
  assert.deepEqual(r.namesAfter, r.names)
  assert.ok(r.lightLabels.light > 20 && r.lightLabels.dark === 0, `light labels: ${JSON.stringify(r.lightLabels)}`)

  const cleared = await page.evaluate(async (c) => {
    const el = document.getElementById('chart')
    el.__inchartChart.setOverlays([])
    await T.settle()
    const res = { counts: T.chartStats(el, c).counts, names: el.querySelectorAll('.t-vue-iname').length }
    el.__inchartChart.destroy()
    return res
  }, SIGNAL)
  assert.deepEqual(cleared, { counts: { buy: 0, sell: 0, fast: 0, slow: 0 }, names: 0 })
})

test('signals: at the right edge, lines reach it and a marker half over it is drawn', async () => {
  const r = await page.evaluate(async (c) => {
    const el = document.getElementById('chart')
    const data = T.candles(300, Date.UTC(2024, 3, 1), 42000)
    const h = InChartChart.mount(el, { candles: data })
    h.setOverlays([
      { name: 'Close', type: 'Spline', data: data.map((x) => [x[0], x[4]]), settings: { color: c.fast, lineWidth: 2 } },
      { name: 'Signals', type: 'Trades', data: [[data[250][0], 1, data[250][4]]], settings: { buyColor: c.buy } },
    ])
    await T.settle()
    // Zoomed in to 30 candles, scrolled back so that the right edge falls
    // just before candle 250 (about 3 px of its ~27 px column).
    const chartVm = document.querySelector('#chart .trading-vue-chart').__vue__
    chartVm.setRange(data[220][0] + 0.9 * T.HOUR, data[249][0] + 0.9 * T.HOUR)
    await T.settle()
    const canvas = el.querySelector('canvas[id$="-grid-0-canvas"]')
    const strip = document.createElement('canvas')
    const w = Math.round(4 * devicePixelRatio)
    strip.width = w
    strip.height = canvas.height
    strip.getContext('2d').drawImage(canvas, canvas.width - w, 0, w, canvas.height, 0, 0, w, canvas.height)
    const wrap = document.createElement('div')
    wrap.appendChild(strip)
    const res = T.chartStats(wrap, c).counts
    h.destroy()
    return res
  }, SIGNAL)
  assert.ok(r.fast > 0, `line pixels in the last 4 columns: ${JSON.stringify(r)}`)
  assert.ok(r.buy > 0, `marker pixels in the last 4 columns: ${JSON.stringify(r)}`)
})

test('live: the forming candle repaints, and the legend shows its close', async () => {
  const r = await page.evaluate(async (colors) => {
    const el = document.getElementById('chart')
    const data = T.candles(600, Date.UTC(2024, 1, 1), 42000)
    const h = InChartChart.mount(el, { title: 'BTCUSDT · 1h', candles: data })
    await T.settle()
    const chartVm = document.querySelector('#chart .trading-vue-chart').__vue__
    const canvas = el.querySelector('canvas[id$="-grid-0-canvas"]')
    // Up/down pixels in the column of the forming candle.
    const column = (t) => {
      const x = Math.round(chartVm._layout.grids[0].t2screen(t) * devicePixelRatio)
      const px = canvas.getContext('2d').getImageData(x - 1, 0, 3, canvas.height).data
      const near = (i, c) => Math.abs(px[i] - c[0]) + Math.abs(px[i + 1] - c[1]) + Math.abs(px[i + 2] - c[2]) <= 6
      const hex = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16))
      let up = 0
      let down = 0
      for (let i = 0; i < px.length; i += 4) {
        if (near(i, hex(colors.up))) up++
        if (near(i, hex(colors.down))) down++
      }
      return { up, down }
    }
    const legendClose = () => el.querySelectorAll('.t-vue-lspan')[3].textContent.trim()
    const last = h.lastCandle()
    const falling = [last[0], last[1], last[1] * 1.001, last[1] * 0.99, last[1] * 0.992, last[5] + 1]
    h.upsertCandle(falling)
    await T.settle()
    const red = { column: column(last[0]), close: legendClose(), hash: T.chartStats(el).hash }
    const rising = [last[0], last[1], last[1] * 1.01, last[1] * 0.99, last[1] * 1.008, last[5] + 2]
    h.upsertCandle(rising)
    await T.settle()
    const green = { column: column(last[0]), close: legendClose(), hash: T.chartStats(el).hash }
    return { red, green, closes: [falling[4].toFixed(2), rising[4].toFixed(2)], count: h.candleCount() }
  }, DARK)
  assert.equal(r.count, 600)
  assert.notEqual(r.green.hash, r.red.hash, 'the chart was repainted')
  assert.ok(r.red.column.down > 20 && r.red.column.up === 0, `falling: ${JSON.stringify(r.red.column)}`)
  assert.ok(r.green.column.up > 20 && r.green.column.down === 0, `rising: ${JSON.stringify(r.green.column)}`)
  assert.deepEqual([r.red.close, r.green.close], r.closes, 'the legend shows the forming close')
})

test('live: at the live edge each new candle moves the view by one interval; axes stay put', async () => {
  const r = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    const h = el.__inchartChart
    const chartVm = document.querySelector('#chart .trading-vue-chart').__vue__
    const steps = []
    for (let i = 0; i < 30; i++) {
      const last = h.lastCandle()
      const r0 = h.visibleRange()
      const t = last[0] + T.HOUR
      // The new candle opens, then moves twice while it forms.
      h.upsertCandle([t, last[4], last[4], last[4], last[4], 0])
      h.upsertCandle([t, last[4], last[4] * 1.004, last[4] * 0.999, last[4] * 1.002, 3])
      h.upsertCandle([t, last[4], last[4] * 1.004, last[4] * 0.997, last[4] * 0.998, 6])
      await T.settle()
      const grid = chartVm._layout.grids[0]
      steps.push({
        shift: [h.visibleRange()[0] - r0[0], h.visibleRange()[1] - r0[1]],
        x: Math.round(grid.t2screen(t)),
        axis: grid.sb,
        // Time-axis labels: their spacing is kept when the view slides.
        botbar: chartVm._layout.botbar.xs.length,
      })
    }
    return { steps, count: h.candleCount() }
  })
  assert.equal(r.count, 630)
  for (const s of r.steps) assert.deepEqual(s.shift, [3600e3, 3600e3])
  assert.equal(new Set(r.steps.map((s) => s.x)).size, 1, `x of the newest candle: ${r.steps.map((s) => s.x)}`)
  assert.equal(new Set(r.steps.map((s) => s.axis)).size, 1, 'price-axis width')
  assert.ok(new Set(r.steps.map((s) => s.botbar)).size <= 2, `time labels: ${r.steps.map((s) => s.botbar)}`)
})

test('live: after setCandles and prependCandles, scrolling is reported and the live edge is followed', async () => {
  await page.evaluate(async () => {
    const h = document.getElementById('chart').__inchartChart
    // Another interval of the same symbol: same length, same first price.
    h.setCandles(T.candles(600, Date.UTC(2024, 1, 1), 42000, 15 * 60e3, 3))
    await T.settle()
    window.rangeEvents = []
    h.onRangeChange((r) => rangeEvents.push(r))
  })
  const box = await gridBox()
  const y = box.y + box.height / 2
  await page.mouse.move(box.x + 300, y)
  await page.mouse.down()
  for (let i = 1; i <= 5; i++) await page.mouse.move(box.x + 300 + i * 20, y)
  await page.mouse.up()
  await page.mouse.move(5, 5)
  const r = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    const h = el.__inchartChart
    await T.settle()
    const res = { events: rangeEvents.length, scrolled: h.visibleRange(), interval: 15 * 60e3 }
    // Older history arrives while scrolled back: the view stays.
    const chartVm = () => document.querySelector('#chart .trading-vue-chart').__vue__
    const first = chartVm().ohlcv[0]
    h.prependCandles(T.candles(1000, first[0] - 1000 * res.interval, 40000, res.interval, 8))
    await T.settle()
    res.afterPrepend = h.visibleRange()
    res.count = h.candleCount()
    res.detected = chartVm().interval_ms
    // Back to the live edge, then a new candle: the view follows it.
    const last = h.lastCandle()
    chartVm().setRange(last[0] - 100 * res.interval, last[0] + 3 * res.interval)
    const r0 = h.visibleRange()
    h.upsertCandle([last[0] + res.interval, last[4], last[4] + 5, last[4] - 5, last[4] + 1, 1])
    await T.settle()
    res.follow = [h.visibleRange()[0] - r0[0], h.visibleRange()[1] - r0[1]]
    h.onRangeChange(null)
    h.destroy()
    return res
  })
  assert.ok(r.events > 0, 'onRangeChange still fires after setCandles')
  assert.deepEqual(r.afterPrepend, r.scrolled, 'prepend keeps the view')
  assert.equal(r.count, 1600)
  assert.equal(r.detected, r.interval, 'the candle width is still the 15m one')
  assert.deepEqual(r.follow, [r.interval, r.interval])
})

test('draws under a Content-Security-Policy without unsafe-eval', async () => {
  const csp = await browser.newPage({ viewport: { width: 1000, height: 600 } })
  const evalBlocked = []
  csp.on('console', (m) => m.text().includes('unsafe-eval') && evalBlocked.push(m.text()))
  await csp.goto(`http://127.0.0.1:${server.address().port}/csp`)
  const r = await csp.waitForFunction(() => window.cspResult).then((h) => h.jsonValue())
  await csp.close()
  assert.deepEqual(evalBlocked, [])
  assert.ok(r.counts.up > 100 && r.counts.down > 100, JSON.stringify(r.counts))
})

test('no page errors', () => {
  assert.deepEqual(pageErrors, [])
})
