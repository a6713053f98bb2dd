// In-page helpers for chart.test.mjs (exposed as window.T).
window.T = (() => {
  const HOUR = 3600e3

  // Deterministic random walk with `dec` price decimals: [[t, o, h, l, c, v], ...]
  function candles(n, t0, price, interval = HOUR, seed = 1, dec = 2) {
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647
    const round = (x) => +x.toFixed(dec)
    const out = []
    let p = price
    for (let i = 0; i < n; i++) {
      const o = p
      const c = round(o * (1 + (rnd() - 0.5) * 0.02))
      const h = round(Math.max(o, c) * (1 + rnd() * 0.004))
      const l = round(Math.min(o, c) * (1 - rnd() * 0.004))
      out.push([t0 + i * interval, o, h, l, c, +(10 + rnd() * 90).toFixed(3)])
      p = c
    }
    return out
  }

  // Resolves after Vue's flush, trading-vue's nextTick canvas setup and a paint.
  function settle() {
    return new Promise((resolve) =>
      requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 0))))
  }

  function hex(c) {
    return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16))
  }

  // Pixel statistics over all canvases of a chart (candles, price axis, time
  // axis), or over the canvases matching `selector`.
  function chartStats(el, colors = {}, selector = 'canvas') {
    const distinct = new Set()
    const counts = {}
    const targets = Object.entries(colors).map(([k, c]) => [k, hex(c)])
    for (const [k] of targets) counts[k] = 0
    let hash = 0
    for (const canvas of el.querySelectorAll(selector)) {
      const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
      for (let i = 0; i < px.length; i += 4) {
        const [r, g, b, a] = [px[i], px[i + 1], px[i + 2], px[i + 3]]
        const rgba = ((r << 24) | (g << 16) | (b << 8) | a) >>> 0
        distinct.add(rgba)
        hash = (Math.imul(hash, 31) + rgba) | 0
        if (a !== 255) continue
        for (const [k, [tr, tg, tb]] of targets) {
          if (Math.abs(r - tr) + Math.abs(g - tg) + Math.abs(b - tb) <= 6) counts[k]++
        }
      }
    }
    return { distinct: distinct.size, counts, hash }
  }

  // Most frequent colour of a PNG (base64), i.e. the background of a chart area.
  async function dominantColor(base64) {
    const img = new Image()
    img.src = 'data:image/png;base64,' + base64
    await img.decode()
    const c = document.createElement('canvas')
    c.width = img.width
    c.height = img.height
    const ctx = c.getContext('2d')
    ctx.drawImage(img, 0, 0)
    const px = ctx.getImageData(0, 0, c.width, c.height).data
    const freq = new Map()
    for (let i = 0; i < px.length; i += 4) {
      const k = `${px[i]},${px[i + 1]},${px[i + 2]}`
      freq.set(k, (freq.get(k) || 0) + 1)
    }
    return [...freq.entries()].sort((a, b) => b[1] - a[1])[0][0].split(',').map(Number)
  }

  return { HOUR, candles, settle, chartStats, dominantColor }
})()
