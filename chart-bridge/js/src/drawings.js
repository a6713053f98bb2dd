// Drawing tools for the InChart chart: trend line, horizontal line, ray,
// rectangle, Fibonacci retracement and text note, with a toolbar, selection,
// dragging, keyboard shortcuts and undo/redo. See README.md ("Drawings").
//
// Built on trading-vue-js without its own tools: those (Segment, LineTool,
// RangeTool and the toolbar) keep their state in overlay settings that only
// DataCube updates, and the wrapper does not use DataCube. Instead:
// - one custom overlay ("InChartDrawings", the library's Overlay mixin) draws
//   every drawing on the candle canvas in each of the library's redraws, with
//   the grid's own layout (t2screen / $2screen), so drawings follow pan, zoom
//   and interval changes exactly like the candles;
// - pointer events are taken in the capture phase on the chart element before
//   trading-vue's hammer.js sees them, but only when a tool is active or the
//   press lands on a drawing; everything else still pans and zooms the chart.
//
// Points are stored in time (ms) and price, never pixels.
//
// The same overlay draws the trader's price alerts (setAlertLines): dashed
// lines across the chart with a bell and the level, greyed when paused,
// dragged like a horizontal line in select mode. They are not drawings: no
// selection, no undo, no onChange; a finished drag goes to onAlertMove.

import { Overlay } from 'trading-vue-js'

export const KINDS = ['trend', 'horizontal', 'ray', 'rectangle', 'fibonacci', 'note']
const ONE_POINT = new Set(['horizontal', 'note'])
const FIB_LEVELS = [0, 0.236, 0.382, 0.5, 0.618, 0.786, 1]
const NOTE_MAX = 280
const HIT_MOUSE = 6
const HIT_TOUCH = 14
const DRAG_START = 4 // px before a press becomes a drag

// Drawing colours and the toolbar's, from style/main.css.
const PALETTE = {
  dark: {
    line: '#0A84FF', fill: 'rgba(10,132,255,0.12)', text: '#F5F5F7', muted: '#A1A1A6',
    noteBack: 'rgba(44,44,46,0.94)', handleBack: '#1C1C1E', labelBack: 'rgba(28,28,30,0.8)',
    alert: '#FF9F0A', alertPaused: '#8E8E93',
  },
  light: {
    line: '#0066CC', fill: 'rgba(0,102,204,0.10)', text: '#1D1D1F', muted: '#5C5C63',
    noteBack: 'rgba(255,255,255,0.94)', handleBack: '#FFFFFF', labelBack: 'rgba(255,255,255,0.8)',
    alert: '#C93400', alertPaused: '#8E8E93',
  },
}

const TOOLS = [
  { id: 'select', label: 'Select', key: 'Alt+S', icon: '<path d="M5 3l11 8-5 1 3 6-2 1-3-6-4 3z"/>' },
  { id: 'trend', label: 'Trend line', key: 'Alt+T', icon: '<path d="M4 17L16 5"/><circle cx="4" cy="17" r="1.6"/><circle cx="16" cy="5" r="1.6"/>' },
  { id: 'horizontal', label: 'Horizontal line', key: 'Alt+H', icon: '<path d="M2 10h16"/><circle cx="10" cy="10" r="1.6"/>' },
  { id: 'ray', label: 'Ray', key: 'Alt+R', icon: '<path d="M4 15L18 6"/><circle cx="4" cy="15" r="1.6"/>' },
  { id: 'rectangle', label: 'Rectangle', key: 'Alt+G', icon: '<rect x="3" y="5" width="14" height="10" rx="1"/>' },
  { id: 'fibonacci', label: 'Fibonacci retracement', key: 'Alt+F', icon: '<path d="M2 4h16M2 8h16M2 12h16M2 16h16" stroke-dasharray="0"/><path d="M4 16L16 4" stroke-width="1"/>' },
  { id: 'note', label: 'Text note', key: 'Alt+N', icon: '<path d="M4 4h12v9H9l-4 3v-3H4z"/>' },
]
const ACTIONS = [
  { id: 'undo', label: 'Undo', key: 'Ctrl+Z', icon: '<path d="M7 5L3 9l4 4"/><path d="M3 9h9a5 5 0 010 10H9"/>' },
  { id: 'redo', label: 'Redo', key: 'Ctrl+Shift+Z', icon: '<path d="M13 5l4 4-4 4"/><path d="M17 9H8a5 5 0 000 10h3"/>' },
  { id: 'delete', label: 'Delete drawing', key: 'Delete', icon: '<path d="M4 6h12M8 6V4h4v2M6 6l1 11h6l1-11"/>' },
]
const KEY_TOOLS = { t: 'trend', h: 'horizontal', r: 'ray', g: 'rectangle', f: 'fibonacci', n: 'note', s: 'select' }

const CSS = `
.inchart-draw-on .trading-vue-legend { margin-left: 48px; }
.inchart-draw-bar { position: absolute; left: 6px; top: 6px; z-index: 110; display: flex; flex-direction: column;
  gap: 2px; padding: 4px; border-radius: 10px; border: 1px solid var(--ic-hair); background: var(--ic-surface);
  box-shadow: 0 2px 8px rgba(0,0,0,0.12); max-height: calc(100% - 52px); overflow-y: auto; scrollbar-width: none;
  box-sizing: border-box; }
.inchart-draw-bar[data-theme="dark"] { --ic-surface: rgba(44,44,46,0.94); --ic-text: #F5F5F7; --ic-hair: rgba(255,255,255,0.14);
  --ic-hover: rgba(255,255,255,0.10); --ic-accent: #0071E3; --ic-focus: #0A84FF; }
.inchart-draw-bar[data-theme="light"] { --ic-surface: rgba(245,245,247,0.94); --ic-text: #1D1D1F; --ic-hair: rgba(0,0,0,0.12);
  --ic-hover: rgba(0,0,0,0.07); --ic-accent: #0066CC; --ic-focus: #0066CC; }
.inchart-draw-bar button { all: unset; box-sizing: border-box; width: 30px; height: 30px; display: flex; align-items: center;
  justify-content: center; border-radius: 6px; color: var(--ic-text); cursor: pointer; flex: none;
  transition: background-color 150ms ease-out; }
.inchart-draw-bar button:hover { background: var(--ic-hover); }
.inchart-draw-bar button:focus-visible { outline: 2px solid var(--ic-focus); outline-offset: -2px; }
.inchart-draw-bar button[aria-pressed="true"] { background: var(--ic-accent); color: #FFFFFF; }
.inchart-draw-bar button:disabled { opacity: 0.35; cursor: default; background: none; }
.inchart-draw-bar svg { width: 18px; height: 18px; fill: none; stroke: currentColor; stroke-width: 1.6;
  stroke-linecap: round; stroke-linejoin: round; }
.inchart-draw-bar hr { border: 0; border-top: 1px solid var(--ic-hair); margin: 2px 4px; flex: none; }
.inchart-draw-bar[data-collapsed="true"] .inchart-draw-item { display: none; }
.inchart-draw-note { position: absolute; z-index: 120; width: 220px; box-sizing: border-box; padding: 6px 8px;
  font: 400 14px -apple-system, BlinkMacSystemFont, "Segoe UI", Inter, sans-serif; border-radius: 8px;
  border: 1px solid var(--ic-focus); background: var(--ic-surface); color: var(--ic-text); outline: none;
  box-shadow: 0 2px 8px rgba(0,0,0,0.16); }
.inchart-draw-note[data-theme="dark"] { --ic-surface: #2C2C2E; --ic-text: #F5F5F7; --ic-focus: #0A84FF; }
.inchart-draw-note[data-theme="light"] { --ic-surface: #FFFFFF; --ic-text: #1D1D1F; --ic-focus: #0066CC; }
@media (prefers-reduced-motion: reduce) { .inchart-draw-bar button { transition: none; } }
`

function injectCss() {
  if (document.getElementById('inchart-draw-css')) return
  const style = document.createElement('style')
  style.id = 'inchart-draw-css'
  style.textContent = CSS
  document.head.appendChild(style)
}

function svg(body) {
  return `<svg viewBox="0 0 20 20" aria-hidden="true" focusable="false">${body}</svg>`
}

// A clean, frozen copy in the server's shape; null when it is not a drawing.
export function toDrawing(d, symbol) {
  if (!d || typeof d !== 'object' || typeof d.id !== 'string' || !KINDS.includes(d.kind)) return null
  const n = ONE_POINT.has(d.kind) ? 1 : 2
  const points = (Array.isArray(d.points) ? d.points : []).slice(0, n).map((p) => ({
    time: Math.round(+p.time),
    price: +p.price,
  }))
  if (points.length !== n || points.some((p) => !Number.isFinite(p.time) || !Number.isFinite(p.price))) return null
  const out = { id: d.id, symbol: typeof d.symbol === 'string' ? d.symbol : symbol, kind: d.kind, points }
  if (typeof d.text === 'string') out.text = d.text.slice(0, NOTE_MAX)
  if (typeof d.color === 'string' && /^#[0-9a-fA-F]{6}$/.test(d.color)) out.color = d.color
  return out
}

// crypto.randomUUID exists only in secure contexts (https, localhost); a
// chart opened over plain http on a LAN address still gets v4 UUIDs.
function newId() {
  if (crypto.randomUUID) return crypto.randomUUID()
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

function copy(d) {
  return d && JSON.parse(JSON.stringify(d))
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b)
}

// Distance from (px, py) to the segment a-b.
function distSeg(px, py, ax, ay, bx, by) {
  const dx = bx - ax
  const dy = by - ay
  const len = dx * dx + dy * dy
  const t = len ? Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len)) : 0
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy))
}

// The point where the ray from a through b leaves a w x h box (or b).
function rayEnd(ax, ay, bx, by, w, h) {
  const dx = bx - ax
  const dy = by - ay
  if (!dx && !dy) return [bx, by]
  let t = Infinity
  if (dx > 0) t = Math.min(t, (w - ax) / dx)
  if (dx < 0) t = Math.min(t, -ax / dx)
  if (dy > 0) t = Math.min(t, (h - ay) / dy)
  if (dy < 0) t = Math.min(t, -ay / dy)
  if (!Number.isFinite(t) || t < 1) t = 1
  return [ax + t * dx, ay + t * dy]
}

// A clean copy of a price alert's line; null when it is not one.
export function toAlertLine(a) {
  if (!a || typeof a !== 'object' || typeof a.id !== 'string') return null
  const price = +a.price
  if (!Number.isFinite(price)) return null
  const index = Number.isInteger(a.index) && a.index >= 0 ? a.index : 0
  return { id: a.id, index, price, paused: !!a.paused, label: typeof a.label === 'string' ? a.label.slice(0, 40) : '' }
}

function fibPrice(d, level) {
  const [a, b] = d.points
  return b.price + (a.price - b.price) * level
}

// `host` gives access to the mounted chart: { el, theme(), gridCanvas(),
// onTheme(cb) -> unwatch }.
export function createDrawings(host) {
  let symbol = ''
  let list = [] // drawings in paint order
  let selected = null // id
  let tool = 'select'
  let draft = null // a drawing being placed
  let gesture = null // { kind: 'place'|'move'|'handle', ... } while the pointer is down
  let onChange = null
  let alertLines = [] // price alerts' lines, see setAlertLines
  let onAlertMove = null
  let enabled = false
  let hover = false
  let undoStack = []
  let redoStack = []
  let layer = null // the overlay component, while mounted
  let layout = null // the grid layout of the last paint
  let bar = null
  let buttons = {}
  let input = null
  let unwatchTheme = null
  const listeners = []
  const restore = []

  const overlayComponent = {
    name: 'InChartDrawings',
    mixins: [Overlay],
    methods: {
      meta_info() {
        return { author: 'InChart', version: '1.0.0' }
      },
      use_for() {
        return ['InChartDrawings']
      },
      init() {
        layer = this
      },
      destroy() {
        if (layer === this) layer = null
      },
      draw(ctx) {
        layout = this.$props.layout
        paint(ctx, this.$props.layout, this.$props.font)
      },
      legend() {
        return null
      },
    },
  }

  // The onchart entry that makes trading-vue mount the overlay above the
  // candles and trade markers; `legend: false` keeps it out of the legend.
  const layerEntry = { name: 'Drawings', type: 'InChartDrawings', data: [], settings: { legend: false, zIndex: 50 } }

  function redraw() {
    if (layer) layer._$emit('redraw-grid')
  }

  function palette() {
    return PALETTE[host.theme()] || PALETTE.dark
  }

  function byId(id) {
    return list.find((d) => d.id === id) || null
  }

  // ---------------------------------------------------------------- painting

  function screenPoints(d, l) {
    return d.points.map((p) => [l.t2screen(p.time), l.$2screen(p.price)])
  }

  function paint(ctx, l, font) {
    const pal = palette()
    // trading-vue-js sizes its canvases by devicePixelRatio, but never below 1.
    const dpr = Math.max(1, window.devicePixelRatio || 1)
    const w = ctx.canvas.width / dpr
    const h = ctx.canvas.height / dpr
    for (const a of alertLines) {
      const dragging = gesture && gesture.kind === 'alert' && gesture.id === a.id && gesture.index === a.index
      paintAlert(ctx, l, dragging ? Object.assign({}, a, { price: gesture.price }) : a, pal, w)
    }
    const shown = draft ? list.concat([draft]) : list
    for (const d of shown) {
      const editing = gesture && gesture.id === d.id ? gesture.current : d
      paintOne(ctx, l, editing, pal, w, h)
    }
    const sel = selected && (gesture && gesture.id === selected ? gesture.current : byId(selected))
    if (sel) paintHandles(ctx, l, sel, pal)
    if (draft) paintHandles(ctx, l, draft, pal)
  }

  function paintOne(ctx, l, d, pal, w, h) {
    const color = d.color || pal.line
    const pts = screenPoints(d, l)
    ctx.save()
    ctx.lineWidth = 1.5
    ctx.strokeStyle = color
    ctx.fillStyle = color
    ctx.font = `12px -apple-system, BlinkMacSystemFont, "Segoe UI", Inter, sans-serif`
    ctx.beginPath()
    switch (d.kind) {
      case 'trend':
        ctx.moveTo(pts[0][0], pts[0][1])
        ctx.lineTo(pts[1][0], pts[1][1])
        ctx.stroke()
        break
      case 'ray': {
        const [ex, ey] = rayEnd(pts[0][0], pts[0][1], pts[1][0], pts[1][1], w, h)
        ctx.moveTo(pts[0][0], pts[0][1])
        ctx.lineTo(ex, ey)
        ctx.stroke()
        break
      }
      case 'horizontal': {
        const y = pts[0][1]
        ctx.moveTo(0, y)
        ctx.lineTo(w, y)
        ctx.stroke()
        ctx.textAlign = 'right'
        ctx.textBaseline = 'bottom'
        label(ctx, d.points[0].price.toFixed(l.prec ?? 2), w - 6, y - 3, pal)
        break
      }
      case 'rectangle': {
        const x = Math.min(pts[0][0], pts[1][0])
        const y = Math.min(pts[0][1], pts[1][1])
        const rw = Math.abs(pts[1][0] - pts[0][0])
        const rh = Math.abs(pts[1][1] - pts[0][1])
        ctx.fillStyle = d.color ? hexAlpha(d.color, 0.12) : pal.fill
        ctx.fillRect(x, y, rw, rh)
        ctx.strokeRect(x, y, rw, rh)
        break
      }
      case 'fibonacci': {
        const x0 = Math.min(pts[0][0], pts[1][0])
        const x1 = Math.max(pts[0][0], pts[1][0])
        ctx.save()
        ctx.setLineDash([4, 4])
        ctx.lineWidth = 1
        ctx.moveTo(pts[0][0], pts[0][1])
        ctx.lineTo(pts[1][0], pts[1][1])
        ctx.stroke()
        ctx.restore()
        ctx.textAlign = 'left'
        ctx.textBaseline = 'bottom'
        // Labels closer than a line of text to the last one drawn are left
        // out rather than printed over each other (a flat retracement).
        let lastLabel = -Infinity
        // Labels start right of the toolbar when the levels begin under it.
        const lx = Math.max(x0 + 2, Math.min(toolbarRight(), x1 - 40))
        for (const level of FIB_LEVELS) {
          const price = fibPrice(d, level)
          const y = l.$2screen(price)
          ctx.beginPath()
          ctx.moveTo(x0, y)
          ctx.lineTo(x1, y)
          ctx.stroke()
          if (Math.abs(y - lastLabel) >= 14) {
            label(ctx, `${level} (${price.toFixed(l.prec ?? 2)})`, lx, y - 2, pal)
            lastLabel = y
          }
        }
        break
      }
      case 'note': {
        const [x, y] = pts[0]
        ctx.arc(x, y, 3.5, 0, Math.PI * 2)
        ctx.fill()
        const text = d.text || ''
        if (text) {
          const box = noteBox(ctx, x, y, text, w)
          ctx.beginPath()
          roundRect(ctx, box.x, box.y, box.w, box.h, 6)
          ctx.fillStyle = pal.noteBack
          ctx.fill()
          ctx.stroke()
          ctx.fillStyle = pal.text
          ctx.textAlign = 'left'
          ctx.textBaseline = 'middle'
          ctx.fillText(box.text, box.x + 8, box.y + box.h / 2)
        }
        break
      }
    }
    ctx.restore()
  }

  // A price alert: a dashed line across the chart, a bell and its level on
  // the left (clear of the toolbar), the trader's label after them.
  function paintAlert(ctx, l, a, pal, w) {
    const y = Math.round(l.$2screen(a.price)) + 0.5
    const color = a.paused ? pal.alertPaused : pal.alert
    ctx.save()
    ctx.lineWidth = 1
    ctx.strokeStyle = color
    ctx.fillStyle = color
    ctx.setLineDash([6, 4])
    ctx.beginPath()
    ctx.moveTo(0, y)
    ctx.lineTo(w, y)
    ctx.stroke()
    ctx.setLineDash([])
    ctx.font = `12px -apple-system, BlinkMacSystemFont, "Segoe UI", Inter, sans-serif`
    const x = toolbarRight() + 6
    const text = `${a.price.toFixed(l.prec ?? 2)}${a.label ? ` · ${a.label}` : ''}${a.paused ? ' · paused' : ''}`
    const width = ctx.measureText(text).width
    ctx.fillStyle = pal.labelBack
    ctx.fillRect(x - 2, y - 17, width + 22, 15)
    ctx.fillStyle = color
    bell(ctx, x + 6, y - 10)
    ctx.textAlign = 'left'
    ctx.textBaseline = 'bottom'
    ctx.fillText(text, x + 16, y - 3)
    ctx.restore()
  }

  // A small bell centred on (x, y), about 10 px tall.
  function bell(ctx, x, y) {
    ctx.beginPath()
    ctx.moveTo(x - 4.5, y + 3)
    ctx.quadraticCurveTo(x - 3.5, y + 1.5, x - 3.5, y - 1)
    ctx.arc(x, y - 1, 3.5, Math.PI, 0)
    ctx.quadraticCurveTo(x + 3.5, y + 1.5, x + 4.5, y + 3)
    ctx.closePath()
    ctx.fill()
    ctx.beginPath()
    ctx.arc(x, y + 4.2, 1.3, 0, Math.PI * 2)
    ctx.fill()
  }

  // The x (on the candle canvas) just right of the open toolbar, or 0.
  function toolbarRight() {
    if (!bar || bar.dataset.collapsed === 'true') return 0
    const c = host.gridCanvas()
    return c ? bar.getBoundingClientRect().right - c.getBoundingClientRect().left + 4 : 0
  }

  // Text on a patch of the chart's background, so that it reads over candles.
  function label(ctx, text, x, y, pal) {
    const width = ctx.measureText(text).width
    const left = ctx.textAlign === 'right' ? x - width : x
    const color = ctx.fillStyle
    ctx.fillStyle = pal.labelBack
    ctx.fillRect(left - 2, y - 14, width + 4, 14)
    ctx.fillStyle = color
    ctx.fillText(text, x, y)
  }

  function hexAlpha(hex, a) {
    const n = parseInt(hex.slice(1), 16)
    return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`
  }

  function roundRect(ctx, x, y, w, h, r) {
    ctx.moveTo(x + r, y)
    ctx.arcTo(x + w, y, x + w, y + h, r)
    ctx.arcTo(x + w, y + h, x, y + h, r)
    ctx.arcTo(x, y + h, x, y, r)
    ctx.arcTo(x, y, x + w, y, r)
    ctx.closePath()
  }

  // The label box of a note: to the right of and above its point (left of it
  // near the right edge, below it near the top); long text is shortened with
  // an ellipsis on the chart (the whole text is kept).
  let measureCtx = null
  function noteBox(ctx, x, y, text, canvasWidth) {
    if (!ctx) {
      measureCtx = measureCtx || document.createElement('canvas').getContext('2d')
      ctx = measureCtx
      ctx.font = `12px -apple-system, BlinkMacSystemFont, "Segoe UI", Inter, sans-serif`
    }
    let shown = text
    const max = 240
    if (ctx.measureText(shown).width > max) {
      while (shown.length > 1 && ctx.measureText(shown + '…').width > max) shown = shown.slice(0, -1)
      shown += '…'
    }
    const w = Math.ceil(ctx.measureText(shown).width) + 16
    const bx = x + 6 + w > canvasWidth - 4 && x - 6 - w >= 0 ? x - 6 - w : x + 6
    return { x: bx, y: y - 28 < 2 ? y + 6 : y - 28, w, h: 22, text: shown }
  }

  function paintHandles(ctx, l, d, pal) {
    ctx.save()
    ctx.lineWidth = 1.5
    ctx.strokeStyle = d.color || pal.line
    ctx.fillStyle = pal.handleBack
    for (const [x, y] of screenPoints(d, l)) {
      ctx.beginPath()
      ctx.arc(x, y, 4.5, 0, Math.PI * 2)
      ctx.fill()
      ctx.stroke()
    }
    ctx.restore()
  }

  // ------------------------------------------------------------- hit testing

  function canvasSize() {
    const c = host.gridCanvas()
    return c ? [c.clientWidth, c.clientHeight] : [0, 0]
  }

  function distance(d, x, y) {
    const pts = screenPoints(d, layout)
    const [w, h] = canvasSize()
    switch (d.kind) {
      case 'trend':
        return distSeg(x, y, pts[0][0], pts[0][1], pts[1][0], pts[1][1])
      case 'ray': {
        const [ex, ey] = rayEnd(pts[0][0], pts[0][1], pts[1][0], pts[1][1], w, h)
        return distSeg(x, y, pts[0][0], pts[0][1], ex, ey)
      }
      case 'horizontal':
        return Math.abs(y - pts[0][1])
      case 'rectangle': {
        const x0 = Math.min(pts[0][0], pts[1][0])
        const x1 = Math.max(pts[0][0], pts[1][0])
        const y0 = Math.min(pts[0][1], pts[1][1])
        const y1 = Math.max(pts[0][1], pts[1][1])
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1) return 0
        return Math.hypot(Math.max(x0 - x, 0, x - x1), Math.max(y0 - y, 0, y - y1))
      }
      case 'fibonacci': {
        const x0 = Math.min(pts[0][0], pts[1][0])
        const x1 = Math.max(pts[0][0], pts[1][0])
        let best = distSeg(x, y, pts[0][0], pts[0][1], pts[1][0], pts[1][1])
        for (const level of FIB_LEVELS) {
          const ly = layout.$2screen(fibPrice(d, level))
          best = Math.min(best, distSeg(x, y, x0, ly, x1, ly))
        }
        return best
      }
      case 'note': {
        const [px, py] = pts[0]
        let best = Math.hypot(x - px, y - py)
        if (d.text) {
          const b = noteBox(null, px, py, d.text, w)
          if (x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h) best = 0
        }
        return best
      }
    }
    return Infinity
  }

  // The alert line within `tol` px of y, or null.
  function hitAlert(y, tol) {
    if (!layout) return null
    let best = null
    let bestDist = Infinity
    for (const a of alertLines) {
      const dist = Math.abs(y - layout.$2screen(a.price))
      if (dist <= tol && dist < bestDist) {
        best = a
        bestDist = dist
      }
    }
    return best
  }

  // The topmost drawing under (x, y), or null.
  function hitDrawing(x, y, tol) {
    if (!layout) return null
    for (let i = list.length - 1; i >= 0; i--) {
      if (distance(list[i], x, y) <= tol) return list[i]
    }
    return null
  }

  function hitHandle(d, x, y, tol) {
    if (!layout || !d) return -1
    const pts = screenPoints(d, layout)
    for (let i = 0; i < pts.length; i++) {
      if (Math.hypot(x - pts[i][0], y - pts[i][1]) <= tol + 2) return i
    }
    return -1
  }

  // ----------------------------------------------------------------- editing

  // Applies `after` (a drawing, or null to delete `id`) and reports it.
  function commit(before, after, id) {
    if (same(before, after)) return
    write(after, id)
    undoStack.push({ before: copy(before), after: copy(after), id })
    if (undoStack.length > 200) undoStack.shift()
    redoStack = []
    report(after, id)
    refresh()
  }

  function write(drawing, id) {
    const i = list.findIndex((d) => d.id === id)
    if (drawing) {
      if (i >= 0) list[i] = copy(drawing)
      else list.push(copy(drawing))
    } else if (i >= 0) {
      list.splice(i, 1)
      if (selected === id) selected = null
    }
  }

  function report(drawing, id) {
    if (!onChange) return
    const change = drawing
      ? { op: 'put', drawing: copy(drawing) }
      : { op: 'delete', symbol, id }
    try {
      onChange(change)
    } catch (e) {
      console.error('InChartChart: drawing onChange callback failed', e)
    }
  }

  function callAlertMove(move) {
    try {
      onAlertMove(move)
    } catch (e) {
      console.error('InChartChart: onAlertMove callback failed', e)
    }
  }

  function undo() {
    closeInput(false)
    cancelGesture()
    const step = undoStack.pop()
    if (!step) return
    write(step.before, step.id)
    redoStack.push(step)
    report(step.before, step.id)
    refresh()
  }

  function redo() {
    closeInput(false)
    cancelGesture()
    const step = redoStack.pop()
    if (!step) return
    write(step.after, step.id)
    undoStack.push(step)
    report(step.after, step.id)
    refresh()
  }

  function deleteSelected() {
    closeInput(false)
    const d = selected && byId(selected)
    if (d) commit(d, null, d.id)
  }

  function refresh() {
    updateBar()
    redraw()
  }

  function setTool(id) {
    closeInput(false)
    cancelGesture()
    tool = id
    if (id !== 'select') selected = null
    refresh()
  }

  function cancelGesture() {
    draft = null
    if (gesture) {
      gesture = null
      window.removeEventListener('pointermove', onWindowMove, true)
      window.removeEventListener('pointerup', onWindowUp, true)
      window.removeEventListener('pointercancel', onWindowCancel, true)
    }
  }

  // ----------------------------------------------------------------- pointer

  function local(e) {
    const rect = host.gridCanvas().getBoundingClientRect()
    return [e.clientX - rect.left, e.clientY - rect.top]
  }

  function pointAt(x, y) {
    return { time: Math.round(layout.screen2t(x)), price: layout.screen2$(y) }
  }

  function onGrid(e) {
    const c = host.gridCanvas()
    return c && e.target === c
  }

  function claim(e) {
    e.preventDefault()
    e.stopPropagation()
  }

  function onPointerDown(e) {
    if (!enabled || !layout || !onGrid(e) || e.button !== 0) return
    if (gesture) {
      // A second finger while one is drawing or dragging: not a pinch.
      claim(e)
      return
    }
    closeInput(true)
    const [x, y] = local(e)
    const tol = e.pointerType === 'touch' ? HIT_TOUCH : HIT_MOUSE
    if (tool !== 'select') {
      claim(e)
      if (draft && draft.placed) {
        // Click-click: the second press places the second point, unless it
        // is on the first one (a double click): no zero-length drawings.
        const [fx, fy] = screenPoints(draft, layout)[0]
        if (Math.hypot(x - fx, y - fy) < DRAG_START) return
        draft.points[1] = pointAt(x, y)
        finishDraft()
        return
      }
      const p = pointAt(x, y)
      draft = {
        id: newId(),
        symbol,
        kind: tool,
        points: ONE_POINT.has(tool) ? [p] : [p, { ...p }],
      }
      startGesture(e, { kind: 'place', x, y })
      redraw()
      return
    }
    const sel = selected && byId(selected)
    const handle = hitHandle(sel, x, y, tol)
    const hit = handle >= 0 ? sel : hitDrawing(x, y, tol)
    const alert = !hit && hitAlert(y, tol)
    if (alert) {
      claim(e)
      startGesture(e, { kind: 'alert', id: alert.id, index: alert.index, x, y, price: alert.price })
      return
    }
    if (!hit) {
      if (selected) {
        selected = null
        refresh()
      }
      return // let the chart pan
    }
    claim(e)
    selected = hit.id
    startGesture(e, {
      kind: handle >= 0 ? 'handle' : 'move',
      index: handle,
      id: hit.id,
      x,
      y,
      start: pointAt(x, y),
      original: copy(hit),
      current: copy(hit),
    })
    refresh()
  }

  function startGesture(e, g) {
    gesture = Object.assign(g, { pointerId: e.pointerId, moved: false })
    window.addEventListener('pointermove', onWindowMove, true)
    window.addEventListener('pointerup', onWindowUp, true)
    window.addEventListener('pointercancel', onWindowCancel, true)
  }

  function onWindowMove(e) {
    if (!gesture || e.pointerId !== gesture.pointerId || !layout) return
    e.preventDefault()
    const [x, y] = local(e)
    if (Math.hypot(x - gesture.x, y - gesture.y) >= DRAG_START) gesture.moved = true
    const p = pointAt(x, y)
    if (gesture.kind === 'alert') {
      gesture.price = p.price
    } else if (gesture.kind === 'place') {
      if (ONE_POINT.has(draft.kind)) draft.points[0] = p
      else draft.points[1] = p
    } else if (gesture.kind === 'handle') {
      gesture.current.points[gesture.index] = p
    } else {
      const dt = p.time - gesture.start.time
      const dp = p.price - gesture.start.price
      gesture.current.points = gesture.original.points.map((q) => ({
        time: Math.round(q.time + dt),
        price: q.price + dp,
      }))
    }
    redraw()
  }

  function onWindowUp(e) {
    if (!gesture || e.pointerId !== gesture.pointerId) return
    const g = gesture
    cancelGestureListeners()
    gesture = null
    if (g.kind === 'alert') {
      const line = alertLines.find((a) => a.id === g.id && a.index === g.index)
      if (g.moved && line && Number.isFinite(g.price)) {
        // Drawn where it was dropped until the host answers (setAlertLines).
        line.price = g.price
        if (onAlertMove) callAlertMove({ id: g.id, index: g.index, price: g.price })
      }
      redraw()
      return
    }
    if (g.kind === 'place') {
      if (ONE_POINT.has(draft.kind) || g.moved) finishDraft()
      else draft.placed = true // click-click: wait for the second press
      redraw()
      return
    }
    if (g.moved) commit(g.original, g.current, g.id)
    else refresh()
  }

  function onWindowCancel(e) {
    if (!gesture || e.pointerId !== gesture.pointerId) return
    cancelGesture()
    redraw()
  }

  function cancelGestureListeners() {
    window.removeEventListener('pointermove', onWindowMove, true)
    window.removeEventListener('pointerup', onWindowUp, true)
    window.removeEventListener('pointercancel', onWindowCancel, true)
  }

  // Click-click placing: the second point follows the pointer. In select
  // mode the pointer says an alert line under it can be dragged.
  function onHoverMove(e) {
    if (tool === 'select' && !gesture && layout && onGrid(e) && alertLines.length) {
      const over = hitAlert(local(e)[1], e.pointerType === 'touch' ? HIT_TOUCH : HIT_MOUSE)
      host.el.style.cursor = over ? 'ns-resize' : ''
    }
    if (!draft || !draft.placed || gesture || !layout || !onGrid(e)) return
    const [x, y] = local(e)
    draft.points[1] = pointAt(x, y)
    redraw()
  }

  function finishDraft() {
    const d = draft
    draft = null
    tool = 'select'
    if (!d) return
    delete d.placed
    if (d.kind === 'note') {
      // Shown (its dot) while its text is typed; added once it has some.
      draft = d
      updateBar()
      openInput(d, true)
      return
    }
    selected = d.id
    commit(null, d, d.id)
  }

  function onDblClick(e) {
    if (!enabled || !layout || !onGrid(e)) return
    const [x, y] = local(e)
    const hit = hitDrawing(x, y, HIT_MOUSE)
    if (hit && hit.kind === 'note') {
      claim(e)
      selected = hit.id
      refresh()
      openInput(hit, false)
    }
  }

  // -------------------------------------------------------------- note input

  function openInput(d, isNew) {
    if (input) closeInput(false)
    const canvas = host.gridCanvas()
    if (!canvas || !layout) return
    const elRect = host.el.getBoundingClientRect()
    const cRect = canvas.getBoundingClientRect()
    const x = cRect.left - elRect.left + layout.t2screen(d.points[0].time)
    const y = cRect.top - elRect.top + layout.$2screen(d.points[0].price)
    input = document.createElement('input')
    input.type = 'text'
    input.className = 'inchart-draw-note'
    input.maxLength = NOTE_MAX
    input.placeholder = 'Note text'
    input.setAttribute('aria-label', 'Note text (Enter to save, Escape to cancel)')
    input.dataset.theme = host.theme()
    input.value = d.text || ''
    const width = Math.min(220, Math.max(120, host.el.clientWidth - 16))
    input.style.width = `${width}px`
    input.style.left = `${Math.max(4, Math.min(x + 6, host.el.clientWidth - width - 4))}px`
    input.style.top = `${Math.max(4, Math.min(y - 36, host.el.clientHeight - 40))}px`
    input.__drawing = { draft: copy(d), isNew }
    input.addEventListener('keydown', (ev) => {
      ev.stopPropagation()
      if (ev.key === 'Enter') {
        ev.preventDefault()
        closeInput(true)
      } else if (ev.key === 'Escape') {
        ev.preventDefault()
        closeInput(false)
      }
    })
    input.addEventListener('blur', () => closeInput(true))
    host.el.appendChild(input)
    input.focus()
    if (isNew) redraw()
    else input.select()
  }

  // Saves (when `save`) and removes the note input.
  function closeInput(save) {
    if (!input) return
    const box = input
    input = null
    const { draft: d, isNew } = box.__drawing
    const text = box.value.trim().slice(0, NOTE_MAX)
    box.remove()
    if (draft && draft.id === d.id) draft = null
    if (save && text) {
      const before = isNew ? null : byId(d.id)
      const after = Object.assign(copy(before || d), { text })
      selected = d.id
      commit(before, after, d.id)
    }
    refresh()
  }

  // ---------------------------------------------------------------- keyboard

  function typingElsewhere(target) {
    if (!target || target === document.body || target === host.el) return false
    const tag = target.tagName
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable
  }

  function onKeyDown(e) {
    if (!enabled || e.defaultPrevented) return
    const focused = host.el.contains(document.activeElement)
    if (!hover && !focused) return
    if (typingElsewhere(e.target)) return
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key
    const mod = e.ctrlKey || e.metaKey
    // The letter typed; with Option on a Mac `key` is another character (†),
    // so fall back to the physical key.
    const code = /^[a-z]$/.test(key) ? key : e.code && e.code.startsWith('Key') ? e.code.slice(3).toLowerCase() : key
    let handled = true
    if (e.altKey && !mod && KEY_TOOLS[code]) setTool(KEY_TOOLS[code])
    else if (mod && !e.altKey && code === 'z' && e.shiftKey) redo()
    else if (mod && !e.altKey && code === 'z') undo()
    else if (e.ctrlKey && !e.altKey && code === 'y') redo()
    else if ((key === 'Delete' || key === 'Backspace') && !mod && !e.altKey && selected) deleteSelected()
    else if (key === 'Escape') {
      if (draft || gesture || tool !== 'select') setTool('select')
      else if (selected) {
        selected = null
        refresh()
      } else handled = false
    } else handled = false
    if (handled) e.preventDefault()
  }

  // ----------------------------------------------------------------- toolbar

  function buildBar() {
    bar = document.createElement('div')
    bar.className = 'inchart-draw-bar'
    bar.setAttribute('role', 'toolbar')
    bar.setAttribute('aria-label', 'Drawing tools')
    bar.setAttribute('aria-orientation', 'vertical')
    const add = (spec, onClick, cls) => {
      const b = document.createElement('button')
      b.type = 'button'
      b.className = cls
      b.dataset.tool = spec.id
      b.setAttribute('aria-label', spec.label)
      b.title = spec.key ? `${spec.label} (${spec.key})` : spec.label
      b.innerHTML = svg(spec.icon)
      // Keep the focus on the chart so shortcuts keep working after a click.
      b.addEventListener('pointerdown', (ev) => ev.preventDefault())
      b.addEventListener('click', onClick)
      bar.appendChild(b)
      buttons[spec.id] = b
      return b
    }
    const toggle = add(
      { id: 'toggle', label: 'Drawing tools', icon: '<path d="M4 16l1-4 8-8 3 3-8 8z"/><path d="M11 6l3 3"/>' },
      () => {
        const collapsed = bar.dataset.collapsed !== 'true'
        bar.dataset.collapsed = String(collapsed)
        toggle.setAttribute('aria-expanded', String(!collapsed))
        if (collapsed) setTool('select')
      },
      'inchart-draw-toggle',
    )
    toggle.title = 'Show or hide the drawing tools'
    const collapsed = host.el.clientHeight < 380
    bar.dataset.collapsed = String(collapsed)
    toggle.setAttribute('aria-expanded', String(!collapsed))
    bar.appendChild(Object.assign(document.createElement('hr'), { className: 'inchart-draw-item' }))
    for (const t of TOOLS) add(t, () => setTool(t.id), 'inchart-draw-item')
    bar.appendChild(Object.assign(document.createElement('hr'), { className: 'inchart-draw-item' }))
    add(ACTIONS[0], undo, 'inchart-draw-item')
    add(ACTIONS[1], redo, 'inchart-draw-item')
    add(ACTIONS[2], deleteSelected, 'inchart-draw-item')
    host.el.appendChild(bar)
    updateBar()
  }

  function updateBar() {
    if (!bar) return
    bar.dataset.theme = host.theme()
    for (const t of TOOLS) buttons[t.id].setAttribute('aria-pressed', String(tool === t.id))
    buttons.undo.disabled = !undoStack.length
    buttons.redo.disabled = !redoStack.length
    buttons.delete.disabled = !selected
    host.el.style.cursor = tool === 'select' ? '' : 'crosshair'
  }

  function listen(target, type, fn, capture) {
    target.addEventListener(type, fn, capture)
    listeners.push([target, type, fn, capture])
  }

  // -------------------------------------------------------------------- API

  let destroyed = false

  const api = {
    enableDrawings(callback) {
      if (destroyed) return
      onChange = typeof callback === 'function' ? callback : null
      if (enabled) return
      enabled = true
      injectCss()
      const el = host.el
      // The toolbar and the note input are positioned inside `el`, and `el`
      // takes the keyboard focus for the shortcuts; destroy() undoes both.
      if (getComputedStyle(el).position === 'static') {
        el.style.position = 'relative'
        restore.push(() => (el.style.position = ''))
      }
      if (!el.hasAttribute('tabindex')) {
        el.tabIndex = 0
        restore.push(() => el.removeAttribute('tabindex'))
      }
      el.classList.add('inchart-draw-on')
      buildBar()
      listen(el, 'pointerdown', onPointerDown, true)
      listen(el, 'pointermove', onHoverMove, false)
      listen(el, 'dblclick', onDblClick, true)
      listen(el, 'pointerenter', () => (hover = true), false)
      listen(el, 'pointerleave', () => (hover = false), false)
      listen(window, 'keydown', onKeyDown, false)
      unwatchTheme = host.onTheme(() => {
        updateBar()
        if (input) input.dataset.theme = host.theme()
      })
      redraw()
    },

    setDrawings(sym, drawings) {
      if (destroyed) return
      closeInput(false)
      cancelGesture()
      symbol = typeof sym === 'string' ? sym : ''
      list = (drawings || []).map((d) => toDrawing(d, symbol)).filter((d) => d && d.symbol === symbol)
      selected = null
      undoStack = []
      redoStack = []
      refresh()
    },

    applyDrawingChange(change) {
      if (destroyed || !change || typeof change !== 'object') return
      if (change.op === 'put') {
        const d = toDrawing(change.drawing, symbol)
        if (!d || d.symbol !== symbol) return
        if (gesture && gesture.id === d.id) cancelGesture()
        write(d, d.id)
      } else if (change.op === 'delete') {
        if (change.symbol !== symbol || typeof change.id !== 'string') return
        if (gesture && gesture.id === change.id) cancelGesture()
        write(null, change.id)
      } else return
      refresh()
    },

    drawings() {
      return destroyed ? null : list.map(copy)
    },

    // The trader's price alerts as lines: [{id, index, price, paused,
    // label}], `index` telling a range's two lines apart (0 low, 1 high).
    // Replaces the lines drawn; a line being dragged is let go.
    setAlertLines(lines) {
      if (destroyed) return
      if (gesture && gesture.kind === 'alert') cancelGesture()
      alertLines = (Array.isArray(lines) ? lines : []).map(toAlertLine).filter(Boolean)
      redraw()
    },

    // `callback({id, index, price})` once per finished drag of an alert
    // line (only while the drawing tools are enabled: they take the pointer).
    onAlertMove(callback) {
      onAlertMove = typeof callback === 'function' ? callback : null
    },

    // The alert lines drawn (copies), for tests: what a canvas cannot say.
    alertLines() {
      return destroyed ? [] : alertLines.map((a) => Object.assign({}, a))
    },
  }

  function destroy() {
    destroyed = true
    closeInput(false)
    cancelGesture()
    for (const [target, type, fn, capture] of listeners) target.removeEventListener(type, fn, capture)
    listeners.length = 0
    if (unwatchTheme) unwatchTheme()
    if (bar) bar.remove()
    bar = null
    enabled = false
    onChange = null
    onAlertMove = null
    alertLines = []
    host.el.classList.remove('inchart-draw-on')
    host.el.style.cursor = ''
    restore.splice(0).forEach((f) => f())
  }

  return { overlay: overlayComponent, layer: layerEntry, api, destroy }
}
