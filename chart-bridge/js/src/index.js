// window.InChartChart: a small imperative facade over trading-vue-js (Vue 2)
// for the InChart Rust/wasm front-end. See README.md for the API contract.
//
// Data is handed to <trading-vue> as a plain "Data Structure v1.1" object
// ({ chart, onchart, offchart }) instead of a DataCube: DataCube starts a Web
// Worker from a blob: URL and an aggregation setTimeout loop that is never
// stopped, neither of which we need or want to leak per mount.

import Vue from 'vue'
import { TradingVue } from 'trading-vue-js'
import { PaneOverlay, LevelsOverlay, LEVELS_TYPE, toPane, toLevels, volumePane, paneUi } from './panes.js'
import { createDrawings } from './drawings.js'
import { createTrades } from './trades.js'

const FONT = '12px -apple-system, BlinkMacSystemFont, "Segoe UI", Inter, sans-serif'

// How many candles setCandles() / mount() show; trading-vue-js adds a few empty
// intervals of padding on the right (ChartConfig.MINIMUM_LEN).
const DEFAULT_VISIBLE = 150

// Keys are trading-vue-js colour names (the `color*` props without the prefix).
const THEMES = {
  dark: {
    back: '#1C1C1E',
    grid: '#2C2C2E',
    text: '#AEAEB2',
    textHL: '#FFFFFF',
    title: '#F2F2F7',
    scale: '#3A3A3C',
    cross: '#8E8E93',
    panel: '#48484A',
    candleUp: '#30D158',
    candleDw: '#FF453A',
    wickUp: '#30D158',
    wickDw: '#FF453A',
    volUp: '#30D15838',
    volDw: '#FF453A38',
  },
  light: {
    back: '#FFFFFF',
    grid: '#F0F0F3',
    text: '#6E6E73',
    textHL: '#FFFFFF',
    title: '#1D1D1F',
    scale: '#D2D2D7',
    cross: '#8E8E93',
    panel: '#3A3A3C',
    candleUp: '#34C759',
    candleDw: '#FF3B30',
    wickUp: '#34C759',
    wickDw: '#FF3B30',
    volUp: '#34C75938',
    volDw: '#FF3B3038',
  },
}

// Legend typography on the app's type scale (12/16 px, weights 400/600), and
// the legend values in the theme's text colour: trading-vue-js hard-codes #999,
// which fails contrast on the light background.
//
// Each overlay's and pane's legend line sits on a chip of the background, so
// it stays readable over a line or bars at the top of its grid.
//
// The pane controls (a close button per pane, a drag handle on each pane's
// top edge) sit in a layer over the chart; see paneUi() in panes.js.
const CSS = `
.inchart-chart .trading-vue-legend { font-size: 12px; font-weight: 400; }
.inchart-chart .t-vue-title { font-size: 16px; font-weight: 600; }
.inchart-chart .t-vue-lspan { font-size: 12px; color: inherit; }
.inchart-chart .t-vue-ind { display: table; padding: 0 4px; margin-left: -4px; border-radius: 4px; background: var(--inchart-legend); }
.inchart-wrap { position: relative; }
.inchart-pane-ui { position: absolute; left: 0; top: 0; width: 0; height: 0; }
.inchart-pane-close { position: absolute; width: 24px; height: 24px; padding: 0; margin: 0;
  border: 0; border-radius: 6px; background: var(--inchart-legend); color: var(--inchart-text);
  font: 16px/24px -apple-system, BlinkMacSystemFont, "Segoe UI", Inter, sans-serif;
  cursor: pointer; z-index: 110; opacity: 0.75; }
.inchart-pane-close:hover, .inchart-pane-close:focus-visible { opacity: 1; background: var(--inchart-hover); }
.inchart-pane-close:focus-visible, .inchart-pane-drag:focus-visible { outline: 2px solid #0A84FF; outline-offset: -2px; }
.inchart-pane-drag { position: absolute; left: 0; height: 9px; margin-top: -4px; cursor: row-resize;
  z-index: 105; touch-action: none; }
.inchart-pane-drag:hover, .inchart-pane-drag.dragging { background: linear-gradient(transparent 3px, #0A84FF 3px, #0A84FF 5px, transparent 5px); }
`

function injectCss() {
  if (document.getElementById('inchart-chart-css')) return
  const style = document.createElement('style')
  style.id = 'inchart-chart-css'
  style.textContent = CSS
  document.head.appendChild(style)
}

const live = new Set()
let nextId = 0

// Candles/points are frozen so Vue does not make every inner array reactive
// (Vue skips non-extensible objects). That keeps the deep `data` watcher in
// trading-vue-js' Chart.vue cheap with thousands of candles; reactivity still
// comes from mutating the (observed) outer arrays.
function toCandle(c) {
  return Object.freeze([+c[0], +c[1], +c[2], +c[3], +c[4], +(c[5] || 0)])
}

// Ascending by time, one candle per time (the later one in the input wins);
// candles without a usable time are dropped rather than corrupting the order.
function normalize(candles) {
  const byTime = new Map()
  for (const c of candles || []) {
    const candle = toCandle(c)
    if (Number.isFinite(candle[0])) byTime.set(candle[0], candle)
  }
  return Array.from(byTime.values()).sort((a, b) => a[0] - b[0])
}

// Index of the first candle with time >= t.
function lowerBound(arr, t) {
  let lo = 0
  let hi = arr.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (arr[mid][0] < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

// Overlay rows are sorted by time (stable, so rows with the same time keep
// their order): trading-vue-js picks the rows in view by binary search, and a
// script that lists its buys and then its sells would lose markers. Rows
// without a usable time are dropped.
//
// trading-vue-js draws onchart overlays under the candles (z-index -1, the
// candles 0), where a wick hides a marker put at the candle's high or low.
// Trades markers default to the top (TRADES_Z) unless `zIndex` is given.
const TRADES_Z = 10

function toOverlay(o) {
  const settings = Object.assign({}, o.settings)
  if (o.type === 'Trades' && settings.zIndex == null && settings['z-index'] == null) settings.zIndex = TRADES_Z
  return {
    name: o.name || o.type,
    type: o.type,
    data: (o.data || [])
      .map((p) => Object.freeze(Array.from(p)))
      .filter((p) => Number.isFinite(p[0]))
      .sort((a, b) => a[0] - b[0]),
    settings,
  }
}

// Our own trading-vue-js overlay types (one constant array: a new one per
// render would make trading-vue-js re-register them).
const CUSTOM_OVERLAYS = [PaneOverlay, LevelsOverlay]

// trading-vue-js' time axis height (ChartConfig.BOTBAR); the grids share the rest.
const BOTBAR = 28
// The price chart keeps at least this share of the grids' height.
const MIN_PRICE_SHARE = 0.4
const VOLUME_MODES = ['overlay', 'pane', 'hidden']

function callHost(callback, value, what) {
  try {
    callback(value)
  } catch (e) {
    console.error(`InChartChart: ${what} callback failed`, e)
  }
}

function themeName(theme) {
  return theme === 'light' ? 'light' : 'dark'
}

function mount(el, options = {}) {
  if (!(el instanceof HTMLElement)) throw new TypeError('InChartChart.mount: el must be an HTMLElement')
  // trading-vue-js looks its canvases up with document.getElementById.
  if (!el.isConnected) throw new Error('InChartChart.mount: el must be attached to the document')
  if (el.__inchartChart) el.__inchartChart.destroy()
  injectCss()

  let alive = true
  let rangeCallback = null
  let rangeFrame = 0
  let quiet = false // true while we move the range ourselves (not a user scroll)

  // Onchart overlays: the host's (setOverlays) and the wrapper's own, by
  // owner (price levels, drawings ...), drawn after the host's. An owner
  // changes its list with setInternalOnchart(owner, overlays).
  let hostOverlays = []
  const internalOnchart = new Map()

  // Offchart panes: the host's (setPanes) after the Volume pane, if shown.
  let hostPanes = []
  let volumeMode = 'overlay'
  const paneHeights = new Map() // pane name -> share of the grids' height
  let paneCallback = null

  let cursorCallback = null
  let cursorFrame = 0
  let lastCursor = null
  let shownCursor = null // the time setCursor shows, for cursor()

  // Drawing tools (drawings.js): an overlay of their own among the internal ones.
  const drawings = createDrawings({
    el,
    theme: () => vm.theme,
    gridCanvas: () => el.querySelector('canvas[id$="-grid-0-canvas"]'),
    onTheme: (cb) => vm.$watch('theme', cb),
  })
  internalOnchart.set('drawings', [drawings.layer])

  // A backtest's trades (trades.js): an internal overlay while there are any.
  const trades = createTrades()

  const vm = new Vue({
    data: {
      id: `inchart-chart-${++nextId}`,
      // 0 (e.g. a defaulted Rust struct field) counts as "not given".
      width: Math.round(options.width > 0 ? options.width : el.clientWidth),
      height: Math.round(options.height > 0 ? options.height : el.clientHeight),
      theme: themeName(options.theme),
      title: options.title || '',
      // The object <trading-vue> renders (its `data` prop).
      chartData: {
        // grid.height: the price chart's share of the height (layout.js).
        chart: { type: 'Candles', data: normalize(options.candles), settings: { showVolume: true }, grid: {} },
        onchart: [drawings.layer],
        offchart: [],
      },
    },
    render(h) {
      const chart = h(TradingVue, {
        ref: 'tv',
        // Both merged onto trading-vue's root element (the style after its own
        // `font` shorthand, which would otherwise reset it).
        class: 'inchart-chart',
        style: { fontVariantNumeric: 'tabular-nums' },
        props: {
          id: this.id,
          data: this.chartData,
          width: this.width,
          height: this.height,
          titleTxt: this.title,
          colors: THEMES[this.theme],
          font: FONT,
          toolbar: false,
          chartConfig: { DEFAULT_LEN: DEFAULT_VISIBLE },
          // Time labels in the viewer's local time (trading-vue defaults to UTC).
          timezone: -new Date().getTimezoneOffset() / 60,
          overlays: CUSTOM_OVERLAYS.concat(drawings.overlay, trades.overlay),
        },
        on: { 'range-changed': onRange },
      })
      const colors = THEMES[this.theme]
      const style = {
        width: `${this.width}px`,
        height: `${this.height}px`,
        '--inchart-text': colors.text,
        '--inchart-hover': colors.grid,
        '--inchart-legend': `${colors.back}CC`,
      }
      // The crosshair is read after the chart has handled the mouse (onPointer).
      const on = { mousemove: onPointer, mouseout: onPointer, mouseleave: onPointer }
      // The second child holds the pane controls, kept by paneUi() (Vue leaves
      // its children alone).
      return h('div', { class: 'inchart-wrap', style, on }, [chart, h('div', { class: 'inchart-pane-ui', ref: 'ui' })])
    },
  })

  function onRange() {
    if (quiet) return
    reportRange()
  }

  function reportRange() {
    if (!rangeCallback) return
    // Panning emits on every mouse move; hand the host one call per frame.
    if (!rangeFrame) {
      rangeFrame = requestAnimationFrame(() => {
        rangeFrame = 0
        const r = visibleRange()
        if (rangeCallback && r) {
          try {
            rangeCallback(r)
          } catch (e) {
            console.error('InChartChart: onRangeChange callback failed', e)
          }
        }
      })
    }
  }

  const target = document.createElement('div')
  el.appendChild(target)
  vm.$mount(target) // replaces `target` with trading-vue's root element

  const tv = () => vm.$refs.tv
  // Chart.vue owns the rendered candles (`ohlcv`, computed from our data
  // object) and the visible time range.
  const chart = () => vm.$refs.tv.$refs.chart
  const candles = () => chart().ohlcv

  function setRangeQuietly(t0, t1) {
    quiet = true
    try {
      tv().setRange(t0, t1)
    } finally {
      quiet = false
    }
  }

  // Chart.vue's data watcher re-initialises the range whenever no candle is
  // inside the current one (user scrolled into empty space), i.e. on a data
  // update the view can jump to the default range. Once that watcher has run
  // (same tick, before paint) put the range back where it was.
  function keepRange(r) {
    if (!r) return
    vm.$nextTick(() => {
      const now = visibleRange()
      if (now && (now[0] !== r[0] || now[1] !== r[1])) setRangeQuietly(r[0], r[1])
    })
  }

  function visibleRange() {
    if (!alive) return null
    const r = chart().range
    return r.length === 2 && Number.isFinite(r[0]) && Number.isFinite(r[1]) ? [r[0], r[1]] : null
  }

  function refreshOnchart() {
    const list = hostOverlays.slice()
    for (const overlays of internalOnchart.values()) list.push(...overlays)
    vm.chartData.onchart = list
  }

  function setInternalOnchart(owner, overlays) {
    if (overlays && overlays.length) internalOnchart.set(owner, overlays)
    else internalOnchart.delete(owner)
    refreshOnchart()
  }

  // ---- Panes -------------------------------------------------------------
  // trading-vue-js splits the height between the price chart and the
  // offchart grids by weight (layout.js reads `chart.grid.height` and each
  // offchart overlay's `grid.height`). We always set every weight, as a
  // share of the grids' height, so the shares are exact.

  const plotHeight = () => Math.max(1, vm.height - BOTBAR)
  const minPaneShare = () => Math.min(0.15, Math.max(0.04, 32 / plotHeight()))

  // The panes' shares, in offchart order: the remembered ones, or
  // trading-vue-js' own default for n panes (2·√n/7 shared out), shrunk
  // together when the price chart would get less than MIN_PRICE_SHARE.
  function paneShares() {
    const list = vm.chartData.offchart
    const n = list.length
    const fallback = n ? (2 * Math.sqrt(n)) / 7 / n : 0
    const min = minPaneShare()
    let shares = list.map((o) => Math.max(min, paneHeights.has(o.name) ? paneHeights.get(o.name) : fallback))
    const sum = shares.reduce((a, b) => a + b, 0)
    if (sum > 1 - MIN_PRICE_SHARE) shares = shares.map((f) => (f * (1 - MIN_PRICE_SHARE)) / sum)
    return shares
  }

  function applyHeights() {
    const shares = paneShares()
    vm.chartData.offchart.forEach((o, i) => {
      o.grid = { height: shares[i] }
    })
    vm.chartData.chart.grid = { height: 1 - shares.reduce((a, b) => a + b, 0) }
  }

  function refreshOffchart() {
    const list = volumeMode === 'pane' ? [volumePane(vm.chartData.chart.data)] : []
    list.push(...hostPanes)
    for (const o of list) o.settings.onLayout = ui.placer(o.name)
    vm.chartData.offchart = list
    applyHeights()
    ui.sync()
    // trading-vue-js computes the layout (and calls our y_range hook) before
    // the overlays get their new settings: compute it again once they have.
    vm.$nextTick(() => alive && chart().update_layout())
  }

  // The Volume pane draws the candle array itself: keep it the same array.
  function syncVolumeData() {
    const vol = vm.chartData.offchart.find((o) => o.settings.volume)
    if (vol) vol.data = vm.chartData.chart.data
  }

  function reportPane(event) {
    if (paneCallback) callHost(paneCallback, event, 'onPaneEvent')
  }

  function reportHeights() {
    const shares = paneShares()
    const heights = {}
    vm.chartData.offchart.forEach((o, i) => {
      heights[o.name] = +shares[i].toFixed(4)
    })
    reportPane({ type: 'heights', heights })
  }

  function closePane(name) {
    if (!alive) return
    const pane = vm.chartData.offchart.find((o) => o.name === name)
    if (!pane) return
    if (pane.settings.volume) {
      volumeMode = 'hidden'
    } else {
      hostPanes = hostPanes.filter((p) => p !== pane)
    }
    refreshOffchart()
    reportPane({ type: 'closed', name })
  }

  // Moves the top edge of offchart pane `i` by `dy` px (down = smaller),
  // starting from the shares `start` (taken when the drag began).
  function moveBoundary(i, start, dy) {
    const list = vm.chartData.offchart
    const min = minPaneShare()
    const main = 1 - start.reduce((a, b) => a + b, 0)
    const above = i === 0 ? main : start[i - 1]
    const lowest = i === 0 ? MIN_PRICE_SHARE : min
    const d = Math.min(start[i] - min, Math.max(lowest - above, dy / plotHeight()))
    list.forEach((o, k) => paneHeights.set(o.name, start[k]))
    paneHeights.set(list[i].name, start[i] - d)
    if (i > 0) paneHeights.set(list[i - 1].name, start[i - 1] + d)
    applyHeights()
  }

  const ui = paneUi(vm, {
    close: closePane,
    startDrag: () => paneShares(),
    drag: moveBoundary,
    endDrag: reportHeights,
  })

  // ---- Crosshair ---------------------------------------------------------
  // trading-vue-js keeps the crosshair in Chart.vue's `cursor`; we read it
  // once per frame after the user's mouse moved over the chart.

  function onPointer() {
    if (cursorCallback && !cursorFrame) cursorFrame = requestAnimationFrame(reportCursor)
  }

  function reportCursor() {
    cursorFrame = 0
    if (!alive || !cursorCallback) return
    const c = chart().cursor
    // After the mouse left a grid, trading-vue-js clears grid_id and t.
    const t = c.grid_id != null && Number.isFinite(c.t) ? c.t : null
    if (t === lastCursor) return
    lastCursor = t
    callHost(cursorCallback, t, 'onCursor')
  }

  const handle = {
    setCandles(list) {
      if (!alive) return
      vm.chartData.chart.data = normalize(list)
      syncVolumeData()
      // Chart.vue keeps its old time range (and candle interval, unless both the
      // first candle and the length changed) when the series is replaced, so a
      // new symbol/interval renders an empty or mis-scaled chart until the user
      // drags. resetChart() re-creates Chart.vue, which recomputes the interval
      // and the default range (last DEFAULT_LEN candles at the right edge).
      tv().resetChart()
    },

    upsertCandle(candle) {
      if (!alive) return
      const c = toCandle(candle)
      if (!Number.isFinite(c[0])) return
      const arr = vm.chartData.chart.data
      const last = arr[arr.length - 1]
      const r = visibleRange()
      if (!last || c[0] > last[0]) {
        arr.push(c)
        // Follow the live edge if the previous last candle was on screen and the
        // user is not dragging (shifting under a drag makes it snap back).
        if (last && r && last[0] <= r[1] && !chart().cursor.locked) {
          const dt = c[0] - last[0]
          // A short series that fits on screen grows to the right instead of
          // sliding its oldest candles out, up to the default candle count.
          const grow = r[0] <= arr[0][0] && r[1] - r[0] < DEFAULT_VISIBLE * chart().interval_ms
          setRangeQuietly(grow ? r[0] : r[0] + dt, r[1] + dt)
          return
        }
      } else {
        const i = lowerBound(arr, c[0])
        arr.splice(i, arr[i][0] === c[0] ? 1 : 0, c)
      }
      keepRange(r)
    },

    prependCandles(list) {
      if (!alive) return
      const r = visibleRange()
      // Existing candles win over incoming duplicates: they are the fresher copy.
      vm.chartData.chart.data = normalize(normalize(list).concat(vm.chartData.chart.data))
      syncVolumeData()
      keepRange(r)
    },

    setOverlays(overlays) {
      if (!alive) return
      hostOverlays = (overlays || []).map(toOverlay)
      refreshOnchart()
    },

    setPanes(panes) {
      if (!alive) return
      hostPanes = (panes || []).map(toPane)
      refreshOffchart()
    },

    // What is drawn, for tests and diagnostics: the host's overlays, the
    // panes under the candles (the Volume pane first when shown), and
    // where each pane sits on the page.
    overlays() {
      if (!alive) return []
      return hostOverlays.map((o) => ({ name: o.name, type: o.type, data: o.data.map((row) => row.slice()) }))
    },

    panes() {
      if (!alive) return []
      return vm.chartData.offchart.map((o) => ({
        name: o.name,
        series: (o.settings.series || []).map((s) => ({ name: s.name, style: s.style })),
        levels: (o.settings.levels || []).map((l) => ({ name: l.name, value: l.value })),
      }))
    },

    paneLayout() {
      if (!alive) return []
      const grids = chart()._layout ? chart()._layout.grids : []
      const top = el.getBoundingClientRect().top
      return vm.chartData.offchart.map((o, i) => {
        const grid = grids[i + 1]
        return grid ? { name: o.name, top: top + grid.offset, height: grid.height } : { name: o.name, top: 0, height: 0 }
      })
    },

    cursor() {
      return alive ? shownCursor : null
    },

    setPriceLevels(levels) {
      if (!alive) return
      const list = toLevels(levels)
      setInternalOnchart(
        'priceLevels',
        list.length ? [{ name: 'Levels', type: LEVELS_TYPE, data: [], settings: { levels: list, legend: false } }] : [],
      )
    },

    setPaneHeights(heights) {
      if (!alive || !heights) return
      const names = new Set(vm.chartData.offchart.map((o) => o.name))
      for (const [name, share] of Object.entries(heights)) {
        if (names.has(name) && share > 0 && share < 1) paneHeights.set(name, +share)
      }
      applyHeights()
    },

    onPaneEvent(callback) {
      paneCallback = typeof callback === 'function' ? callback : null
    },

    setVolume(mode) {
      if (!alive) return
      volumeMode = VOLUME_MODES.includes(mode) ? mode : 'overlay'
      vm.chartData.chart.settings = { showVolume: volumeMode === 'overlay' }
      refreshOffchart()
    },

    onCursor(callback) {
      cursorCallback = typeof callback === 'function' ? callback : null
      lastCursor = null
    },

    // Shows the crosshair's vertical line at time t (null hides it), e.g.
    // to follow another chart's cursor. Not reported to onCursor.
    setCursor(t) {
      if (!alive) return
      const ch = chart()
      if (ch.cursor.locked) return
      const grid = ch._layout.grids[0]
      const r = visibleRange()
      shownCursor = t == null ? null : +t
      if (t == null || !grid || !r || !(t >= r[0] && t <= r[1])) {
        // What the chart does on mouseout, and no position: trading-vue-js'
        // crosshair hides only without one.
        ch.cursor_changed({})
        ch.cursor.x = ch.cursor.y = null
        return
      }
      // As if the mouse were at t, halfway down the price chart ...
      ch.cursor_changed({ grid_id: 0, x: grid.t2screen(+t) + 0.5, y: Math.round(grid.height / 2) })
      // ... but on no grid, so no horizontal line and no price label.
      ch.cursor.grid_id = null
    },

    setRange(t0, t1) {
      if (!alive || !(Number.isFinite(t0) && Number.isFinite(t1) && t1 > t0)) return
      setRangeQuietly(+t0, +t1)
    },

    // ---- Backtest trades (trades.js) ----------------------------------

    // Replaces the trades drawn on the price chart ([] removes them): each
    // {side: 'long'|'short', entryTime, entryPrice, exitTime, exitPrice,
    // pnl, closedAtEnd}. Trades with a missing number are left out.
    setTrades(list) {
      if (!alive) return
      const any = trades.set(list)
      const shown = internalOnchart.has('trades')
      if (any !== shown) setInternalOnchart('trades', any ? [trades.entry] : [])
    },

    // The trades drawn (copies), in the order given, malformed ones left out.
    trades() {
      return alive ? trades.list() : []
    },

    // Draws the trade at `index` of the last setTrades list stronger, with
    // its time span shaded (null: none).
    highlightTrade(index) {
      if (!alive) return
      trades.highlight(index)
    },

    highlightedTrade() {
      return alive ? trades.highlighted() : null
    },

    // Moves the view so that time t is in its middle, keeping the zoom.
    // Reported to onRangeChange like a scroll by the trader: the host loads
    // older candles when t is before the oldest one it has.
    goTo(t) {
      if (!alive || !Number.isFinite(+t)) return
      const r = visibleRange()
      if (!r) return
      const half = (r[1] - r[0]) / 2
      setRangeQuietly(+t - half, +t + half)
      reportRange()
    },

    resize(width, height) {
      if (!alive) return
      vm.width = Math.round(width)
      vm.height = Math.round(height)
    },

    setTheme(theme) {
      if (!alive) return
      vm.theme = themeName(theme)
    },

    // Not in the original brief: lets the host retitle the chart when it
    // switches symbol/interval with setCandles() instead of remounting.
    setTitle(title) {
      if (!alive) return
      vm.title = title || ''
    },

    candleCount() {
      return alive ? candles().length : 0
    },

    lastCandle() {
      if (!alive) return null
      const arr = candles()
      return arr.length ? arr[arr.length - 1].slice() : null
    },

    visibleRange,

    onRangeChange(callback) {
      rangeCallback = typeof callback === 'function' ? callback : null
    },

    ...drawings.api, // enableDrawings, setDrawings, applyDrawingChange, drawings, setAlertLines, onAlertMove, alertLines

    destroy() {
      if (!alive) return
      alive = false
      drawings.destroy()
      rangeCallback = null
      paneCallback = null
      cursorCallback = null
      cancelAnimationFrame(rangeFrame)
      cancelAnimationFrame(cursorFrame)
      ui.destroy()
      vm.$destroy()
      el.textContent = ''
      if (el.__inchartChart === handle) delete el.__inchartChart
      live.delete(handle)
    },
  }

  live.add(handle)
  el.__inchartChart = handle
  return handle
}

window.InChartChart = {
  mount,
  liveInstances: () => live.size,
  version: '1',
}
