// Indicator panes and level lines: two trading-vue-js overlay types and the
// conversion of the host's pane specs into their data. See README.md, "Panes".
//
// A pane is ONE offchart overlay of type InChartPane (trading-vue-js gives
// every offchart overlay a grid of its own, with its own y scale). Its rows
// are the union of the series' times, `[t, v1, v2, ...]`, one column per
// series (NaN where a series has no value), so trading-vue-js' cursor picks
// one row for the legend and computes the pane's value range from it; the
// overlay's `y_range` hook widens that range to the levels (and to zero for
// histograms).
//
// The Volume pane is the same overlay with `volume: true` and the candle
// array itself as its data (no copy, so live candles cost nothing extra).

import { Overlay } from 'trading-vue-js'

export const PANE_TYPE = 'InChartPane'
export const LEVELS_TYPE = 'InChartLevels'

const LABEL_FONT = '11px -apple-system, BlinkMacSystemFont, "Segoe UI", Inter, sans-serif'

function finiteOrNaN(v) {
  return v === null || v === undefined || v === '' ? NaN : +v
}

function toLevel(l) {
  return { name: String(l.name || ''), value: +l.value, color: l.color || null }
}

export function toLevels(levels) {
  return (levels || []).map(toLevel).filter((l) => Number.isFinite(l.value))
}

// {name, series:[{name, style, color, data}], levels} -> an offchart overlay.
export function toPane(p) {
  const series = (p.series || []).map((s) => ({
    name: String(s.name || ''),
    style: s.style === 'histogram' ? 'histogram' : 'line',
    color: s.color || '',
  }))
  const n = series.length
  const byTime = new Map()
  ;(p.series || []).forEach((s, k) => {
    for (const point of s.data || []) {
      const t = +point[0]
      if (!Number.isFinite(t)) continue
      let row = byTime.get(t)
      if (!row) {
        row = new Array(n + 1).fill(NaN)
        row[0] = t
        byTime.set(t, row)
      }
      row[k + 1] = finiteOrNaN(point[1])
    }
  })
  const rows = Array.from(byTime.values()).sort((a, b) => a[0] - b[0])
  // trading-vue-js gives the pane's axis as many decimals as the values have
  // (up to 4 or 8): a script's 54.123456789 would label it 50.0000. Values
  // keep 4 significant digits of the pane's largest one.
  let max = 0
  for (const row of rows) for (let k = 1; k <= n; k++) if (Math.abs(row[k]) > max) max = Math.abs(row[k])
  const dec = max > 0 ? Math.min(8, Math.max(0, 3 - Math.floor(Math.log10(max)))) : 0
  const data = rows.map((row) => Object.freeze(row.map((v, k) => (k && Number.isFinite(v) ? +v.toFixed(dec) : v))))
  return {
    name: String(p.name || ''),
    type: PANE_TYPE,
    data,
    settings: { series, levels: toLevels(p.levels) },
    grid: {},
  }
}

export function volumePane(candles) {
  return { name: 'Volume', type: PANE_TYPE, data: candles, settings: { volume: true, levels: [] }, grid: {} }
}

// The theme colour `hex` (#rrggbb) at `alpha` (0..1).
function withAlpha(hex, alpha) {
  if (!/^#[0-9a-f]{6}$/i.test(hex)) return hex
  return (
    hex +
    Math.round(alpha * 255)
      .toString(16)
      .padStart(2, '0')
  )
}

function formatValue(v, prec) {
  if (!Number.isFinite(v)) return 'n/a'
  const a = Math.abs(v)
  const p = prec != null ? prec : a >= 1000 ? 0 : a >= 1 ? 2 : 4
  return v.toFixed(Math.min(Math.max(p, 0), 8))
}

function drawLevels(ctx, layout, colors, levels) {
  if (!levels || !levels.length) return
  ctx.font = LABEL_FONT
  ctx.textAlign = 'right'
  ctx.lineWidth = 1
  for (const l of levels) {
    const y = layout.$2screen(l.value)
    if (!(y >= 0 && y <= layout.height)) continue
    const color = l.color || colors.text
    // A given colour as is; the default (the axis text colour) a little softer.
    ctx.strokeStyle = l.color ? color : withAlpha(color, 0.7)
    ctx.setLineDash([4, 4])
    ctx.beginPath()
    ctx.moveTo(0, y)
    ctx.lineTo(layout.width, y)
    ctx.stroke()
    ctx.setLineDash([])
    ctx.fillStyle = color
    const label = (l.name ? l.name + ' ' : '') + formatValue(l.value)
    // Above the line, unless that would leave the pane, and clear of the
    // pane's close button in its top right corner.
    const ty = y > 14 ? y - 4 : y + 13
    ctx.fillText(label, layout.width - (ty < 32 ? 36 : 6), ty)
  }
}

// The histogram bar width: the candle body's width, at least 1 px.
function barWidth(layout, config) {
  return Math.max(1, Math.floor(layout.px_step * ((config && config.CANDLEW) || 0.6)))
}

function drawBars(ctx, layout, rows, col, zeroY, w, colorOf) {
  for (const row of rows) {
    const v = row[col]
    if (!Number.isFinite(v) || v === 0) continue
    const x = Math.floor(layout.t2screen(row[0]) + 0.5 - w / 2)
    const y = layout.$2screen(v)
    ctx.fillStyle = colorOf(v, row)
    ctx.fillRect(x, Math.min(y, zeroY), w, Math.max(1, Math.abs(zeroY - y)))
  }
}

export const PaneOverlay = {
  name: PANE_TYPE,
  mixins: [Overlay],
  methods: {
    meta_info() {
      return { author: 'InChart', version: '1' }
    },
    use_for() {
      return [PANE_TYPE]
    },
    draw(ctx) {
      const layout = this.$props.layout
      const s = this.$props.settings
      const colors = this.$props.colors
      const rows = this.$props.data
      if (s.onLayout) s.onLayout(layout)
      if (s.volume) {
        const zeroY = layout.$2screen(0)
        const up = withAlpha(colors.candleUp || '#34C759', 0.6)
        const down = withAlpha(colors.candleDw || '#FF3B30', 0.6)
        drawBars(ctx, layout, rows, 5, zeroY, barWidth(layout, this.$props.config), (v, c) =>
          c[4] >= c[1] ? up : down,
        )
        return
      }
      drawLevels(ctx, layout, colors, s.levels)
      const series = s.series || []
      // Histograms first, lines over them.
      series.forEach((ser, k) => {
        if (ser.style !== 'histogram') return
        const zeroY = layout.$2screen(0)
        const pos = ser.color || colors.candleUp || '#34C759'
        const neg = ser.color ? withAlpha(ser.color, 0.45) : colors.candleDw || '#FF3B30'
        drawBars(ctx, layout, rows, k + 1, zeroY, barWidth(layout, this.$props.config), (v) => (v >= 0 ? pos : neg))
      })
      ctx.lineWidth = 1.5
      ctx.lineJoin = 'round'
      series.forEach((ser, k) => {
        if (ser.style !== 'line') return
        ctx.strokeStyle = ser.color || colors.text
        ctx.beginPath()
        let gap = true
        for (const row of rows) {
          const v = row[k + 1]
          if (!Number.isFinite(v)) {
            gap = true
            continue
          }
          const x = layout.t2screen(row[0])
          const y = layout.$2screen(v)
          if (gap) ctx.moveTo(x, y)
          else ctx.lineTo(x, y)
          gap = false
        }
        ctx.stroke()
      })
    },
    // trading-vue-js passes the highest and lowest value in view (over all
    // columns); [hi, lo] is the pane's scale before its 15% padding.
    y_range(hi, lo) {
      const s = this.$props.settings
      if (s.volume) {
        // The columns here are prices and volume: use the volume alone, from
        // the candles in view (updated before the layout is computed).
        let max = 0
        for (const c of this.$props.sub) if (c[5] > max) max = c[5]
        // Less padding than the default 15% (exp = false), and little below
        // zero: just enough for the axis label at 0.
        return [(max || 1) * 1.12, -(max || 1) * 0.06, false]
      }
      if (!Number.isFinite(hi) || !Number.isFinite(lo)) {
        hi = -Infinity
        lo = Infinity
      }
      for (const l of s.levels || []) {
        if (l.value > hi) hi = l.value
        if (l.value < lo) lo = l.value
      }
      if ((s.series || []).some((x) => x.style === 'histogram')) {
        if (hi < 0) hi = 0
        if (lo > 0) lo = 0
      }
      if (!Number.isFinite(hi) || !Number.isFinite(lo)) return [1, 0]
      return [hi, lo]
    },
    // The values under the cursor (or the last row), one per series.
    legend(row) {
      const s = this.$props.settings
      const colors = this.$props.colors
      const prec = this.$props.layout && this.$props.layout.prec
      if (!row) return []
      if (s.volume) {
        return [{ value: formatValue(row[5], 2), color: row[4] >= row[1] ? colors.candleUp : colors.candleDw }]
      }
      return (s.series || []).map((ser, k) => {
        const v = row[k + 1]
        let color = ser.color || colors.text
        if (ser.style === 'histogram' && !ser.color) color = v >= 0 ? colors.candleUp : colors.candleDw
        return { value: formatValue(v, prec), color }
      })
    },
  },
}

// Dashed price levels on the candle chart. No y_range hook: the first one on
// a grid replaces the candles' range, and a level far from the price would
// squash the candles.
export const LevelsOverlay = {
  name: LEVELS_TYPE,
  mixins: [Overlay],
  methods: {
    meta_info() {
      return { author: 'InChart', version: '1' }
    },
    use_for() {
      return [LEVELS_TYPE]
    },
    draw(ctx) {
      drawLevels(ctx, this.$props.layout, this.$props.colors, this.$props.settings.levels)
    },
  },
}

// The pane controls, in a layer over the chart: per pane a close button at
// its top right and a drag handle on its top edge (a separator: also moved
// with the arrow keys). Plain DOM, placed from the layout each pane's
// overlay reports when it draws (`settings.onLayout`).
// hooks: close(name), startDrag() -> shares, drag(index, shares, dy), endDrag().
export function paneUi(vm, hooks) {
  const layer = vm.$refs.ui
  const items = new Map() // name -> { close, drag, at }

  const indexOf = (name) => vm.chartData.offchart.findIndex((o) => o.name === name)

  function create(name) {
    const close = document.createElement('button')
    close.type = 'button'
    close.className = 'inchart-pane-close'
    close.textContent = '×'
    close.setAttribute('aria-label', `Remove pane ${name}`)
    close.title = `Remove ${name}`
    close.addEventListener('click', () => hooks.close(name))

    const drag = document.createElement('div')
    drag.className = 'inchart-pane-drag'
    drag.tabIndex = 0
    drag.setAttribute('role', 'separator')
    drag.setAttribute('aria-orientation', 'horizontal')
    drag.setAttribute('aria-label', `Resize pane ${name}`)
    let start = null
    let y0 = 0
    let dy = 0
    let frame = 0
    drag.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return
      e.preventDefault()
      e.stopPropagation()
      drag.setPointerCapture(e.pointerId)
      drag.classList.add('dragging')
      start = hooks.startDrag()
      y0 = e.clientY
      dy = 0
    })
    drag.addEventListener('pointermove', (e) => {
      if (!start) return
      dy = e.clientY - y0
      if (!frame) {
        frame = requestAnimationFrame(() => {
          frame = 0
          if (start) hooks.drag(indexOf(name), start, dy)
        })
      }
    })
    const end = () => {
      if (!start) return
      cancelAnimationFrame(frame)
      frame = 0
      hooks.drag(indexOf(name), start, dy)
      start = null
      drag.classList.remove('dragging')
      if (dy) hooks.endDrag()
    }
    drag.addEventListener('pointerup', end)
    drag.addEventListener('pointercancel', end)
    drag.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowUp' ? -16 : e.key === 'ArrowDown' ? 16 : 0
      if (!step) return
      e.preventDefault()
      hooks.drag(indexOf(name), hooks.startDrag(), step)
      hooks.endDrag()
    })

    close.style.display = drag.style.display = 'none' // until the pane is drawn
    layer.append(drag, close)
    return { close, drag, at: '' }
  }

  return {
    // Creates the controls of new panes and removes those of gone ones.
    sync() {
      const names = new Set(vm.chartData.offchart.map((o) => o.name))
      for (const [name, item] of items) {
        if (names.has(name)) continue
        item.close.remove()
        item.drag.remove()
        items.delete(name)
      }
      for (const name of names) if (!items.has(name)) items.set(name, create(name))
    },
    placer(name) {
      return (layout) => {
        const item = items.get(name)
        const at = `${layout.offset},${layout.width}`
        if (!item || item.at === at) return
        item.at = at
        Object.assign(item.close.style, { display: '', top: `${layout.offset + 4}px`, left: `${layout.width - 28}px` })
        Object.assign(item.drag.style, { display: '', top: `${layout.offset}px`, width: `${layout.width}px` })
      }
    },
    destroy() {
      items.clear()
    },
  }
}
