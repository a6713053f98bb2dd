// A backtest's trades on the price chart: each trade's entry (a triangle, up
// for a long, down for a short, its tip at the fill price) and exit (a cross,
// or a ring when the range ended with the trade open) joined by a thin dashed
// line, green for a win and red for a loss. See README.md ("Backtest trades").
//
// Like the drawings, one custom overlay ("InChartBacktestTrades", the
// library's Overlay mixin) paints every trade in each of trading-vue-js'
// redraws with the grid's own layout (t2screen / $2screen), so the trades
// follow pan, zoom and new candles exactly. The trades live in this module,
// not in the overlay's `data`: trading-vue-js would keep only the rows whose
// time is in view, and a trade entered before the left edge still has its
// exit and part of its line in view.

import { Overlay } from 'trading-vue-js'

export const TRADES_TYPE = 'InChartBacktestTrades'

// Drawn over the candles and script markers (zIndex 10), under the drawings (50).
const TRADES_Z = 20
// Half the width of an entry triangle, its height, and the exit cross's half size (px).
const TRIANGLE = 6
const TRIANGLE_H = 9
const CROSS = 4.5

// A clean frozen copy of one trade, or null when a number is missing.
// `index` is the trade's place in the host's list (highlightTrade uses it).
export function toTrade(t, index) {
  if (!t || typeof t !== 'object') return null
  const out = {
    index,
    side: t.side === 'short' ? 'short' : 'long',
    entryTime: +t.entryTime,
    entryPrice: +t.entryPrice,
    exitTime: +t.exitTime,
    exitPrice: +t.exitPrice,
    pnl: +t.pnl,
    closedAtEnd: !!t.closedAtEnd,
  }
  for (const k of ['entryTime', 'entryPrice', 'exitTime', 'exitPrice', 'pnl']) {
    if (!Number.isFinite(out[k])) return null
  }
  if (out.exitTime < out.entryTime) return null
  return Object.freeze(out)
}

// The trades layer of one chart.
export function createTrades() {
  let list = []
  let highlighted = null // a trade's index
  let layer = null // the overlay component, while mounted

  const overlay = {
    name: TRADES_TYPE,
    mixins: [Overlay],
    methods: {
      meta_info() {
        return { author: 'InChart', version: '1' }
      },
      use_for() {
        return [TRADES_TYPE]
      },
      init() {
        layer = this
      },
      destroy() {
        if (layer === this) layer = null
      },
      draw(ctx) {
        paint(ctx, this.$props.layout, this.$props.colors)
      },
      legend() {
        return null
      },
    },
  }

  // The onchart entry that makes trading-vue-js mount the overlay.
  const entry = { name: 'Backtest trades', type: TRADES_TYPE, data: [], settings: { legend: false, zIndex: TRADES_Z } }

  function redraw() {
    if (layer) layer._$emit('redraw-grid')
  }

  function colorOf(t, colors) {
    if (t.pnl > 0) return colors.candleUp || '#34C759'
    if (t.pnl < 0) return colors.candleDw || '#FF3B30'
    return colors.text || '#8E8E93'
  }

  function paint(ctx, l, colors) {
    if (!list.length) return
    const left = l.screen2t(-TRIANGLE * 2)
    const right = l.screen2t(l.width + TRIANGLE * 2)
    const back = colors.back || '#000000'
    ctx.save()
    let top = null
    for (const t of list) {
      if (t.exitTime < left || t.entryTime > right) continue
      if (t.index === highlighted) {
        top = t // painted last, over its neighbours
        continue
      }
      paintOne(ctx, l, t, colorOf(t, colors), back, false)
    }
    if (top) paintOne(ctx, l, top, colorOf(top, colors), back, true)
    ctx.restore()
  }

  function paintOne(ctx, l, t, color, back, strong) {
    const x0 = l.t2screen(t.entryTime)
    const y0 = l.$2screen(t.entryPrice)
    const x1 = l.t2screen(t.exitTime)
    const y1 = l.$2screen(t.exitPrice)
    if (strong) {
      // The trade's time span, faintly, over the whole height.
      ctx.globalAlpha = 0.1
      ctx.fillStyle = color
      ctx.fillRect(Math.min(x0, x1), 0, Math.max(1, Math.abs(x1 - x0)), l.height)
      ctx.globalAlpha = 1
    }
    ctx.strokeStyle = color
    ctx.lineWidth = strong ? 2 : 1
    ctx.setLineDash(strong ? [] : [4, 3])
    ctx.beginPath()
    ctx.moveTo(x0, y0)
    ctx.lineTo(x1, y1)
    ctx.stroke()
    ctx.setLineDash([])

    // Entry: the tip at the price, the body below a long's and above a short's.
    const k = strong ? 1.3 : 1
    const dir = t.side === 'short' ? -1 : 1
    const w = TRIANGLE * k
    const h = TRIANGLE_H * k
    ctx.beginPath()
    ctx.moveTo(x0, y0)
    ctx.lineTo(x0 - w, y0 + dir * h)
    ctx.lineTo(x0 + w, y0 + dir * h)
    ctx.closePath()
    ctx.lineWidth = 2
    ctx.strokeStyle = back // a halo, so that the marker reads over a candle of its colour
    ctx.stroke()
    ctx.fillStyle = color
    ctx.fill()

    // Exit: a cross after a signal, a ring when the range ended the trade.
    const c = CROSS * k
    ctx.lineCap = 'round'
    if (t.closedAtEnd) {
      ctx.beginPath()
      ctx.arc(x1, y1, c, 0, Math.PI * 2)
      ctx.lineWidth = 4
      ctx.strokeStyle = back
      ctx.stroke()
      ctx.lineWidth = 2
      ctx.strokeStyle = color
      ctx.stroke()
    } else {
      ctx.beginPath()
      ctx.moveTo(x1 - c, y1 - c)
      ctx.lineTo(x1 + c, y1 + c)
      ctx.moveTo(x1 - c, y1 + c)
      ctx.lineTo(x1 + c, y1 - c)
      ctx.lineWidth = 4
      ctx.strokeStyle = back
      ctx.stroke()
      ctx.lineWidth = 2
      ctx.strokeStyle = color
      ctx.stroke()
    }
    ctx.lineCap = 'butt'
  }

  return {
    overlay,
    entry,
    // Replaces the trades; returns whether any is left to draw.
    set(trades) {
      list = []
      ;(Array.isArray(trades) ? trades : []).forEach((t, i) => {
        const trade = toTrade(t, i)
        if (trade) list.push(trade)
      })
      if (highlighted != null && !list.some((t) => t.index === highlighted)) highlighted = null
      redraw()
      return list.length > 0
    },
    highlight(index) {
      const next = index == null || !Number.isInteger(+index) ? null : +index
      if (next === highlighted) return
      highlighted = next
      redraw()
    },
    highlighted: () => highlighted,
    // Copies, without the internal index.
    list: () => list.map(({ index, ...t }) => t),
  }
}
