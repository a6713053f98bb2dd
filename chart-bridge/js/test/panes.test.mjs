// Indicator panes, price levels, volume modes and crosshair/time sync of
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
const DARK = { up: '#30D158', down: '#FF453A' }
const RSI_COLOR = '#BF5AF2'
const LEVEL_COLOR = '#FF9F0A'
const MACD_COLOR = '#0A84FF'
const SIGNAL_COLOR = '#FFD60A'

let server, browser, page
const pageErrors = []

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
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
  })
  page = await browser.newPage({ viewport: { width: 1000, height: 600 } })
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()))
  await page.goto(`http://127.0.0.1:${server.address().port}/`)
  // In-page helpers for this file.
  await page.evaluate(
    ({ RSI_COLOR, LEVEL_COLOR, MACD_COLOR, SIGNAL_COLOR }) => {
      const chartVm = () => document.querySelector('#chart .trading-vue-chart').__vue__
      // An RSI-like line (0..100) and a MACD-like pair with its histogram.
      window.rsiPane = (candles) => ({
        name: 'RSI 14',
        series: [
          {
            name: 'RSI',
            style: 'line',
            color: RSI_COLOR,
            data: candles.map((c, i) => [c[0], 50 + 35 * Math.sin(i / 9)]),
          },
        ],
        levels: [
          { name: '', value: 30, color: LEVEL_COLOR },
          { name: '', value: 70, color: LEVEL_COLOR },
        ],
      })
      window.macdPane = (candles) => {
        const macd = candles.map((c, i) => [c[0], 120 * Math.sin(i / 14)])
        const signal = candles.map((c, i) => [c[0], 120 * Math.sin((i - 4) / 14)])
        return {
          name: 'MACD',
          series: [
            { name: 'MACD', style: 'line', color: MACD_COLOR, data: macd },
            { name: 'Signal', style: 'line', color: SIGNAL_COLOR, data: signal },
            { name: 'Hist', style: 'histogram', color: '', data: macd.map((p, i) => [p[0], p[1] - signal[i][1]]) },
          ],
          levels: [],
        }
      }
      // The grids trading-vue-js laid out: [price chart, pane 1, ...].
      window.grids = () => chartVm()._layout.grids.map((g) => ({ offset: g.offset, height: g.height, width: g.width }))
      window.offchartNames = () => chartVm().offchart.map((o) => o.name)
      window.chartVm = chartVm
      // Pixels of one grid's canvas: per colour counts, and how many pixels of
      // row y are painted (the canvas background is CSS, so unpainted = clear).
      window.gridPixels = (i, colors = {}) =>
        T.chartStats(document.getElementById('chart'), colors, `canvas[id$="-grid-${i}-canvas"]`)
      window.painted = (i) => {
        const canvas = document.querySelector(`#chart canvas[id$="-grid-${i}-canvas"]`)
        const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
        let n = 0
        for (let k = 3; k < px.length; k += 4) if (px[k] > 0) n++
        return n / (canvas.width * canvas.height)
      }
      window.rowCoverage = (i, y) => {
        const canvas = document.querySelector(`#chart canvas[id$="-grid-${i}-canvas"]`)
        const px = canvas.getContext('2d').getImageData(0, Math.round(y), canvas.width, 1).data
        let n = 0
        for (let k = 3; k < px.length; k += 4) if (px[k] > 0) n++
        return n / canvas.width
      }
    },
    { RSI_COLOR, LEVEL_COLOR, MACD_COLOR, SIGNAL_COLOR },
  )
})

after(async () => {
  await browser?.close()
  server?.close()
})

async function mountWithPanes(theme = 'dark') {
  return page.evaluate(async (theme) => {
    const el = document.getElementById('chart')
    const candles = T.candles(300, Date.UTC(2024, 0, 1), 59000)
    const h = InChartChart.mount(el, { title: 'BTCUSDT · 1h', theme, candles })
    window.events = []
    h.onPaneEvent((e) => events.push(e))
    h.setPanes([rsiPane(candles), macdPane(candles)])
    await T.settle()
    return candles.length
  }, theme)
}

test('RSI pane: own scale, line and 30/70 levels in the pane; candles still drawn', async () => {
  await mountWithPanes()
  const r = await page.evaluate(
    async (c) => {
      const h = document.getElementById('chart').__inchartChart
      h.setPanes([rsiPane(T.candles(300, Date.UTC(2024, 0, 1), 59000))])
      await T.settle()
      const g = chartVm()._layout.grids[1]
      const y30 = g.$2screen(30)
      const y70 = g.$2screen(70)
      // The 1 px line at y = k - 0.5 covers pixel row k - 1.
      const level = (y) => Math.max(rowCoverage(1, Math.floor(y)), rowCoverage(1, Math.ceil(y)))
      return {
        names: offchartNames(),
        grids: grids(),
        range: [g.$_lo, g.$_hi],
        y30,
        y70,
        cover30: level(y30),
        cover70: level(y70),
        // Rows just off the levels only have the RSI line crossing them.
        coverOff: [rowCoverage(1, y30 + 4), rowCoverage(1, y70 - 4)],
        pane: gridPixels(1, { rsi: c.RSI_COLOR, up: c.up, down: c.down }).counts,
        price: gridPixels(0, { rsi: c.RSI_COLOR, up: c.up, down: c.down }).counts,
        legend: [...document.querySelectorAll('#chart .t-vue-ind')].map((n) =>
          n.textContent.replace(/\s+/g, ' ').trim(),
        ),
      }
    },
    { RSI_COLOR, ...DARK },
  )
  assert.deepEqual(r.names, ['RSI 14'])
  assert.equal(r.grids.length, 2, 'one grid for the price chart, one for the pane')
  assert.equal(r.grids[1].offset, r.grids[0].height, 'the pane is under the candles')
  assert.equal(r.grids[0].height + r.grids[1].height, 500 - 28)
  // Own scale: around 0..100 (with padding), nowhere near 59,000.
  assert.ok(r.range[0] < 15 && r.range[0] > -20 && r.range[1] > 85 && r.range[1] < 120, `pane range ${r.range}`)
  assert.ok(r.y70 < r.y30, '70 above 30')
  assert.ok(r.cover30 > 0.35 && r.cover70 > 0.35, `dashed level rows covered: ${r.cover30}, ${r.cover70}`)
  assert.ok(
    r.coverOff.every((x) => x < 0.1),
    `rows off the levels: ${r.coverOff}`,
  )
  assert.ok(r.pane.rsi > 300, `RSI line pixels in the pane: ${r.pane.rsi}`)
  assert.equal(r.price.rsi, 0, 'the RSI is not drawn on the price chart')
  assert.ok(r.price.up > 100 && r.price.down > 100, `candles: ${JSON.stringify(r.price)}`)
  assert.match(r.legend[0], /^RSI 14 \d+\.\d+$/)
})

test('MACD pane: two lines and a histogram with bars of both signs; [] removes the panes', async () => {
  const r = await page.evaluate(
    async (c) => {
      const h = document.getElementById('chart').__inchartChart
      const candles = T.candles(300, Date.UTC(2024, 0, 1), 59000)
      h.setPanes([rsiPane(candles), macdPane(candles)])
      await T.settle()
      const g = chartVm()._layout.grids[2]
      return {
        names: offchartNames(),
        grids: grids().length,
        range: [g.$_lo, g.$_hi],
        pixels: gridPixels(2, { macd: c.MACD_COLOR, signal: c.SIGNAL_COLOR, up: c.up, down: c.down }).counts,
        legend: [...document.querySelectorAll('#chart .t-vue-ind')].map((n) =>
          n.textContent.replace(/\s+/g, ' ').trim(),
        ),
      }
    },
    { MACD_COLOR, SIGNAL_COLOR, ...DARK },
  )
  assert.deepEqual(r.names, ['RSI 14', 'MACD'])
  assert.equal(r.grids, 3)
  assert.ok(r.range[0] < -100 && r.range[1] > 100, `MACD range ${r.range}`)
  assert.ok(r.pixels.macd > 200 && r.pixels.signal > 200, `line pixels: ${JSON.stringify(r.pixels)}`)
  assert.ok(r.pixels.up > 50 && r.pixels.down > 50, `histogram bars of both signs: ${JSON.stringify(r.pixels)}`)
  assert.match(r.legend[1], /^MACD -?\d+\.\d+ -?\d+\.\d+ -?\d+\.\d+$/)
  await page.screenshot({ path: `${OUT}panes-dark.png` })

  const cleared = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    el.__inchartChart.setPanes([])
    await T.settle()
    return { names: offchartNames(), grids: grids(), buttons: el.querySelectorAll('.inchart-pane-close').length }
  })
  assert.deepEqual(cleared.names, [])
  assert.equal(cleared.grids.length, 1)
  assert.equal(cleared.grids[0].height, 500 - 28, 'the price chart takes the whole height again')
  assert.equal(cleared.buttons, 0)
})

test('panes survive setCandles, upsertCandle, prependCandles, resize and setTheme', async () => {
  const r = await page.evaluate(
    async (c) => {
      const h = document.getElementById('chart').__inchartChart
      const candles = T.candles(300, Date.UTC(2024, 0, 1), 59000)
      h.setPanes([rsiPane(candles)])
      await T.settle()
      h.setCandles(T.candles(300, Date.UTC(2024, 0, 1), 59000, T.HOUR, 5))
      await T.settle()
      const afterSet = { names: offchartNames(), rsi: gridPixels(1, { rsi: c.RSI_COLOR }).counts.rsi }
      const last = h.lastCandle()
      h.upsertCandle([last[0] + T.HOUR, last[4], last[4] + 50, last[4] - 50, last[4] + 10, 5])
      h.prependCandles(T.candles(50, Date.UTC(2024, 0, 1) - 50 * T.HOUR, 59000))
      h.resize(800, 450)
      h.setTheme('light')
      await T.settle()
      const res = {
        afterSet,
        names: offchartNames(),
        grids: grids().length,
        rsi: gridPixels(1, { rsi: c.RSI_COLOR }).counts.rsi,
      }
      h.resize(900, 500)
      h.setTheme('dark')
      await T.settle()
      return res
    },
    { RSI_COLOR },
  )
  assert.deepEqual(r.afterSet.names, ['RSI 14'])
  assert.ok(r.afterSet.rsi > 300, `RSI pixels after setCandles: ${r.afterSet.rsi}`)
  assert.deepEqual(r.names, ['RSI 14'])
  assert.equal(r.grids, 2)
  assert.ok(r.rsi > 300, `RSI pixels after updates, resize and theme: ${r.rsi}`)
})

test('price levels are drawn on the price chart, behind no legend line', async () => {
  const r = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    const h = el.__inchartChart
    h.setPanes([])
    await T.settle()
    const g = chartVm()._layout.grids[0]
    const level = (g.$_hi + g.$_lo) / 2
    const before = gridPixels(0, { level: '#0A84FF' }).counts.level
    h.setPriceLevels([{ name: 'Alert', value: level, color: '#0A84FF' }])
    await T.settle()
    const y = chartVm()._layout.grids[0].$2screen(level)
    const res = {
      before,
      after: gridPixels(0, { level: '#0A84FF' }).counts.level,
      legendLines: el.querySelectorAll('.t-vue-ind').length,
      onchart: chartVm().onchart.map((o) => o.type),
      y,
    }
    // Host overlays and the levels live side by side.
    const data = chartVm().ohlcv
    h.setOverlays([{ name: 'Close', type: 'Spline', data: data.map((c) => [c[0], c[4]]), settings: {} }])
    res.withHost = chartVm().onchart.map((o) => o.type)
    h.setOverlays([])
    res.withoutHost = chartVm().onchart.map((o) => o.type)
    h.setPriceLevels([])
    res.cleared = chartVm().onchart.length
    await T.settle()
    return res
  })
  assert.equal(r.before, 0)
  assert.ok(r.after > 150, `level pixels: ${r.after}`)
  assert.equal(r.legendLines, 0, 'levels add no legend line')
  // The drawing tools' layer is always there, before the levels (owners
  // keep the order they first registered in).
  assert.deepEqual(r.onchart, ['InChartDrawings', 'InChartLevels'])
  assert.deepEqual(r.withHost, ['Spline', 'InChartDrawings', 'InChartLevels'])
  assert.deepEqual(r.withoutHost, ['InChartDrawings', 'InChartLevels'])
  assert.equal(r.cleared, 1, 'only the drawings layer is left')
})

test('the close button removes a pane and reports it (mouse and keyboard)', async () => {
  await mountWithPanes()
  const button = page.locator('#chart button[aria-label="Remove pane RSI 14"]')
  await button.click()
  let r = await page.evaluate(async () => {
    await T.settle()
    return { events, names: offchartNames(), grids: grids().length }
  })
  assert.deepEqual(r.events, [{ type: 'closed', name: 'RSI 14' }])
  assert.deepEqual(r.names, ['MACD'])
  assert.equal(r.grids, 2)

  await page.locator('#chart button[aria-label="Remove pane MACD"]').focus()
  await page.keyboard.press('Enter')
  r = await page.evaluate(async () => {
    await T.settle()
    return { events, names: offchartNames() }
  })
  assert.deepEqual(r.events[1], { type: 'closed', name: 'MACD' })
  assert.deepEqual(r.names, [])
})

test('dragging the boundary resizes the pane and reports the heights; setPaneHeights applies', async () => {
  await mountWithPanes()
  const before = await page.evaluate(() => grids())
  const handle = await page.locator('#chart .inchart-pane-drag[aria-label="Resize pane RSI 14"]').boundingBox()
  assert.ok(handle, 'drag handle present')
  const x = handle.x + handle.width / 2
  const y = handle.y + handle.height / 2
  assert.ok(
    Math.abs(y - (await page.locator('#chart').boundingBox()).y - before[1].offset) <= 1,
    'handle on the boundary',
  )
  await page.mouse.move(x, y)
  await page.mouse.down()
  for (let i = 1; i <= 6; i++) await page.mouse.move(x, y - i * 10)
  await page.mouse.up()
  const r = await page.evaluate(async () => {
    await T.settle()
    return { events, grids: grids() }
  })
  assert.ok(
    Math.abs(r.grids[1].height - before[1].height - 60) <= 2,
    `pane height ${before[1].height} -> ${r.grids[1].height}`,
  )
  assert.ok(Math.abs(r.grids[0].height - (before[0].height - 60)) <= 2, 'the price chart gave the space')
  assert.equal(r.grids[2].height, before[2].height, 'the other pane keeps its height')
  const heights = r.events.filter((e) => e.type === 'heights')
  assert.equal(heights.length, 1, `one heights event after the drag: ${JSON.stringify(r.events)}`)
  assert.deepEqual(Object.keys(heights[0].heights), ['RSI 14', 'MACD'])
  assert.ok(Math.abs(heights[0].heights['RSI 14'] - r.grids[1].height / 472) < 0.01, JSON.stringify(heights[0]))

  // The handle is a focusable separator: ArrowUp grows the pane by 16 px.
  const heightBeforeKey = r.grids[1].height
  await page.locator('#chart .inchart-pane-drag[aria-label="Resize pane RSI 14"]').focus()
  await page.keyboard.press('ArrowUp')
  const byKey = await page.evaluate(async () => {
    await T.settle()
    return { grids: grids(), events: events.filter((e) => e.type === 'heights').length }
  })
  assert.ok(
    Math.abs(byKey.grids[1].height - heightBeforeKey - 16) <= 2,
    `ArrowUp: ${heightBeforeKey} -> ${byKey.grids[1].height}`,
  )
  assert.equal(byKey.events, 2, 'the key reports the heights too')

  const applied = await page.evaluate(async () => {
    const h = document.getElementById('chart').__inchartChart
    h.setPaneHeights({ 'RSI 14': 0.3, MACD: 0.1, Nope: 0.5 })
    await T.settle()
    const res = { set: grids(), names: offchartNames() }
    // Too much: the price chart keeps 40%.
    h.setPaneHeights({ 'RSI 14': 0.7, MACD: 0.5 })
    await T.settle()
    res.clamped = grids()
    res.events = events.length
    return res
  })
  assert.deepEqual(applied.names, ['RSI 14', 'MACD'], 'unknown names are ignored')
  assert.ok(Math.abs(applied.set[1].height - 0.3 * 472) <= 2, `RSI ${applied.set[1].height}`)
  assert.ok(Math.abs(applied.set[2].height - 0.1 * 472) <= 2, `MACD ${applied.set[2].height}`)
  assert.ok(applied.clamped[0].height >= 0.4 * 472 - 2, `price chart ${applied.clamped[0].height}`)
  assert.equal(applied.events, r.events.length + 1, 'setPaneHeights reports nothing')
})

test("setVolume: 'pane' draws a removable Volume pane, 'hidden' none, 'overlay' on the candles", async () => {
  await mountWithPanes()
  const r = await page.evaluate(async () => {
    const h = document.getElementById('chart').__inchartChart
    h.setPanes([])
    h.setVolume('pane')
    await T.settle()
    const res = {
      pane: { names: offchartNames(), showVolume: chartVm().chart.settings.showVolume, painted: painted(1) },
    }
    const g = chartVm()._layout.grids[1]
    res.pane.range = [g.$_lo, g.$_hi]
    res.pane.maxVolume = Math.max(...chartVm().sub.map((x) => x[5]))
    // A new candle with a huge volume shows up in the pane.
    const last = h.lastCandle()
    h.upsertCandle([last[0] + T.HOUR, last[4], last[4] + 5, last[4] - 5, last[4] + 1, 5000])
    await T.settle()
    res.pane.rangeAfterUpsert = chartVm()._layout.grids[1].$_hi
    h.setVolume('hidden')
    await T.settle()
    res.hidden = { names: offchartNames(), showVolume: chartVm().chart.settings.showVolume }
    h.setVolume('overlay')
    await T.settle()
    res.overlay = { names: offchartNames(), showVolume: chartVm().chart.settings.showVolume }
    h.setVolume('pane')
    await T.settle()
    return res
  })
  assert.deepEqual(r.pane.names, ['Volume'])
  assert.equal(r.pane.showVolume, false)
  assert.ok(r.pane.painted > 0.1, `volume bars cover ${r.pane.painted} of the pane`)
  assert.ok(r.pane.range[0] <= 0 && r.pane.range[1] >= r.pane.maxVolume, `volume range ${r.pane.range}`)
  assert.ok(r.pane.range[1] < r.pane.maxVolume * 1.3, `volume range ${r.pane.range}`)
  assert.ok(r.pane.rangeAfterUpsert >= 5000, `range after a live candle: ${r.pane.rangeAfterUpsert}`)
  assert.deepEqual(r.hidden, { names: [], showVolume: false })
  assert.deepEqual(r.overlay, { names: [], showVolume: true })

  await page.locator('#chart button[aria-label="Remove pane Volume"]').click()
  const closed = await page.evaluate(async () => {
    await T.settle()
    return { events, names: offchartNames(), showVolume: chartVm().chart.settings.showVolume }
  })
  assert.deepEqual(closed.events, [{ type: 'closed', name: 'Volume' }])
  assert.deepEqual(closed.names, [])
  assert.equal(closed.showVolume, false, 'a closed Volume pane leaves the volume hidden')
})

test('onCursor reports the time under the mouse and null on leave; setCursor and setRange report nothing', async () => {
  await mountWithPanes()
  const box = await page.locator('#chart canvas[id$="-grid-0-canvas"]').boundingBox()
  await page.evaluate(() => {
    window.cursorEvents = []
    window.rangeEvents = []
    const h = document.getElementById('chart').__inchartChart
    h.onCursor((t) => cursorEvents.push(t))
    h.onRangeChange((r) => rangeEvents.push(r))
  })
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await page.mouse.move(box.x + box.width / 2 + 3, box.y + box.height / 2)
  let r = await page.evaluate(async () => {
    await T.settle()
    const times = chartVm().ohlcv.map((c) => c[0])
    return {
      events: cursorEvents.slice(),
      known: cursorEvents.map((t) => times.includes(t)),
      range: document.getElementById('chart').__inchartChart.visibleRange(),
    }
  })
  assert.ok(r.events.length >= 1 && r.events.length <= 2, `cursor events: ${r.events}`)
  assert.ok(r.known.every(Boolean), 'reported times are candle times')
  assert.ok(r.events[0] > r.range[0] && r.events[0] < r.range[1], 'inside the view')

  await page.mouse.move(box.x + box.width / 2, box.y + box.height + 200) // below the chart
  r = await page.evaluate(async () => {
    await T.settle()
    return cursorEvents.slice()
  })
  assert.equal(r[r.length - 1], null, `null after leaving: ${r}`)

  const s = await page.evaluate(async () => {
    const h = document.getElementById('chart').__inchartChart
    const n = cursorEvents.length
    const t = chartVm().ohlcv[250][0]
    h.setCursor(t)
    await T.settle()
    const cursor = chartVm().cursor
    const x = chartVm()._layout.grids[0].t2screen(t)
    // The crosshair's vertical line: painted pixels in that column of the pane.
    const canvas = document.querySelector('#chart canvas[id$="-grid-1-canvas"]')
    const col = canvas.getContext('2d').getImageData(Math.round(x - 0.5), 0, 1, canvas.height).data
    let painted = 0
    for (let k = 3; k < col.length; k += 4) if (col[k] > 0) painted++
    const res = {
      t,
      cursorT: cursor.t,
      cursorX: cursor.x,
      x,
      painted: painted / canvas.height,
      calls: cursorEvents.length - n,
    }
    h.setCursor(null)
    await T.settle()
    res.hidden = !chartVm().cursor.y
    // setRange moves the view without onRangeChange.
    const r0 = h.visibleRange()
    const target = [r0[0] - 40 * T.HOUR, r0[1] - 40 * T.HOUR]
    h.setRange(target[0], target[1])
    await T.settle()
    res.range = { target, now: h.visibleRange(), events: rangeEvents.length }
    res.callsAfter = cursorEvents.length - n
    return res
  })
  assert.equal(s.cursorT, s.t)
  assert.ok(Math.abs(s.cursorX - s.x) <= 1, `crosshair x ${s.cursorX} vs ${s.x}`)
  assert.ok(s.painted > 0.3, `dashed vertical line across the pane: ${s.painted}`)
  assert.equal(s.calls, 0, 'setCursor does not call back')
  assert.ok(s.hidden, 'setCursor(null) hides the crosshair')
  assert.deepEqual(s.range.now, s.range.target)
  assert.equal(s.range.events, 0, 'setRange is not reported')
  assert.equal(s.callsAfter, 0)
})

test('screenshots: panes in both themes and on a phone', async () => {
  await mountWithPanes('dark')
  await page.evaluate(async () => {
    const h = document.getElementById('chart').__inchartChart
    h.setVolume('pane')
    h.setPriceLevels([{ name: 'Alert', value: h.lastCandle()[4] * 1.01, color: '#0A84FF' }])
    await T.settle()
  })
  await page.locator('#chart').screenshot({ path: `${OUT}panes-volume-dark.png` })
  await mountWithPanes('light')
  await page.locator('#chart').screenshot({ path: `${OUT}panes-light.png` })

  await page.setViewportSize({ width: 390, height: 700 })
  const r = await page.evaluate(async () => {
    const el = document.getElementById('chart')
    el.style.width = '390px'
    el.style.height = '700px'
    const candles = T.candles(300, Date.UTC(2024, 0, 1), 59000)
    const h = InChartChart.mount(el, { title: 'BTCUSDT · 1h', theme: 'dark', candles })
    h.setPanes([rsiPane(candles), macdPane(candles)])
    h.setVolume('pane')
    await T.settle()
    return grids()
  })
  await page.locator('#chart').screenshot({ path: `${OUT}panes-phone.png` })
  assert.equal(r.length, 4)
  assert.ok(r[0].height >= 0.4 * (700 - 28) - 2, `price chart on a phone: ${r[0].height}`)
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
