// window.InChartChart: a small imperative facade over trading-vue-js (Vue 2)
// for the InChart Rust/wasm front-end. See README.md for the API contract.
//
// Data is handed to <trading-vue> as a plain "Data Structure v1.1" object
// ({ chart, onchart, offchart }) instead of a DataCube: DataCube starts a Web
// Worker from a blob: URL and an aggregation setTimeout loop that is never
// stopped, neither of which we need or want to leak per mount.

import Vue from 'vue'
import { TradingVue } from 'trading-vue-js'
import { createDrawings } from './drawings.js'

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
const CSS = `
.inchart-chart .trading-vue-legend { font-size: 12px; font-weight: 400; }
.inchart-chart .t-vue-title { font-size: 16px; font-weight: 600; }
.inchart-chart .t-vue-lspan { font-size: 12px; color: inherit; }
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

  // Drawing tools (drawings.js): an overlay drawn after the host's overlays.
  const drawings = createDrawings({
    el,
    theme: () => vm.theme,
    gridCanvas: () => el.querySelector('canvas[id$="-grid-0-canvas"]'),
    onTheme: (cb) => vm.$watch('theme', cb),
  })
  const internalOnchart = [drawings.layer]

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
        chart: { type: 'Candles', data: normalize(options.candles), settings: {} },
        onchart: internalOnchart.slice(),
        offchart: [],
      },
    },
    render(h) {
      return h(TradingVue, {
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
          overlays: [drawings.overlay],
          chartConfig: { DEFAULT_LEN: DEFAULT_VISIBLE },
          // Time labels in the viewer's local time (trading-vue defaults to UTC).
          timezone: -new Date().getTimezoneOffset() / 60,
        },
        on: { 'range-changed': onRange },
      })
    },
  })

  function onRange() {
    if (quiet || !rangeCallback) return
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

  const handle = {
    setCandles(list) {
      if (!alive) return
      vm.chartData.chart.data = normalize(list)
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
      keepRange(r)
    },

    setOverlays(overlays) {
      if (!alive) return
      vm.chartData.onchart = (overlays || []).map(toOverlay).concat(internalOnchart)
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

    ...drawings.api, // enableDrawings, setDrawings, applyDrawingChange, drawings

    destroy() {
      if (!alive) return
      alive = false
      drawings.destroy()
      rangeCallback = null
      cancelAnimationFrame(rangeFrame)
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
