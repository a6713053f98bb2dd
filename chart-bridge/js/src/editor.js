// window.InChartEditor: a CodeMirror 6 Python editor for signal scripts, as a
// small imperative facade for the InChart Rust/wasm front-end. See README.md
// for the API contract.
//
// The extensions are picked one by one rather than taken from `basicSetup`:
// no autocompletion popup, bracket auto-closing, fold gutter or multiple
// cursors, which a short script does not need and the bundle would carry.
//
// The packages carry no licence comment of their own; this one (moved to the
// end of the bundle like the chart's) keeps the MIT notice with the code.

/*! CodeMirror 6 (@codemirror/*), Lezer (@lezer/*), style-mod, w3c-keyname,
 * crelt, @marijn/find-cluster-break: Copyright (C) 2016-2024 by Marijn
 * Haverbeke <marijn@haverbeke.berlin> and others. Released under the MIT
 * License. */

import { EditorView, lineNumbers, highlightActiveLine, highlightActiveLineGutter, highlightSpecialChars, drawSelection, keymap } from '@codemirror/view'
import { EditorState, Compartment, Annotation, Prec } from '@codemirror/state'
import { defaultKeymap, history, historyKeymap, indentWithTab, isolateHistory } from '@codemirror/commands'
import { HighlightStyle, syntaxHighlighting, bracketMatching, indentOnInput, indentUnit } from '@codemirror/language'
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search'
import { lintGutter, lintKeymap, setDiagnostics } from '@codemirror/lint'
import { python } from '@codemirror/lang-python'
import { tags as t } from '@lezer/highlight'

const FONT = 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace'

// App colours (style/main.css). Every token colour has at least 4.5:1
// contrast (WCAG AA) against `back` and against `activeLine` over it; npm
// test checks.
const PALETTES = {
  dark: {
    back: '#1C1C1E',
    text: '#F2F2F7',
    gutter: '#8E8E93',
    gutterActive: '#F2F2F7',
    // Translucent: the active line is drawn over the selection layer.
    activeLine: 'rgba(255, 255, 255, 0.04)',
    activeGutter: '#252527',
    selection: '#2D4A6E',
    selectionBlur: '#3A3A3C',
    cursor: '#F2F2F7',
    accent: '#0A84FF',
    hairline: '#3A3A3C',
    surface: '#2C2C2E',
    match: '#3F5F87',
    error: '#FF453A',
    warning: '#FF9F0A',
    // Syntax (after Xcode's dark theme).
    keyword: '#FF7AB2',
    string: '#FF8170',
    number: '#D9C97C',
    comment: '#8E9BA7',
    defName: '#6BDFFF',
    className: '#5DD8FF',
    call: '#67B7A4',
    meta: '#FD8F3F',
  },
  light: {
    back: '#FFFFFF',
    text: '#1D1D1F',
    gutter: '#6E6E73',
    gutterActive: '#1D1D1F',
    activeLine: 'rgba(0, 0, 0, 0.035)',
    activeGutter: '#F6F6F6',
    selection: '#B4D5FE',
    selectionBlur: '#E0E0E5',
    cursor: '#1D1D1F',
    accent: '#0066CC',
    hairline: '#D2D2D7',
    surface: '#F5F5F7',
    match: '#C9DEF8',
    error: '#FF3B30',
    warning: '#FF9500',
    // Syntax (after Xcode's light theme).
    keyword: '#9B2393',
    string: '#C41A16',
    number: '#1C00CF',
    comment: '#5D6C79',
    defName: '#0F68A0',
    className: '#0B4F79',
    call: '#326D74',
    meta: '#643820',
  },
}

function editorTheme(p, dark) {
  return EditorView.theme(
    {
      '&': { color: p.text, backgroundColor: p.back, fontSize: '13px', height: '100%' },
      // Focus is a thin accent ring like the app's text fields, just outside
      // the box (inside, the gutter would cover its left part).
      '&.cm-focused': { outline: `1px solid ${p.accent}`, outlineOffset: '0' },
      '.cm-scroller': { fontFamily: FONT, lineHeight: '1.5', overflow: 'auto' },
      '.cm-content': { caretColor: p.cursor, padding: '8px 0' },
      '.cm-cursor, .cm-dropCursor': { borderLeft: `2px solid ${p.cursor}` },
      '.cm-selectionBackground': { backgroundColor: p.selectionBlur },
      '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground': { backgroundColor: p.selection },
      '.cm-content ::selection': { backgroundColor: p.selection },
      '.cm-activeLine': { backgroundColor: p.activeLine },
      '.cm-selectionMatch': { backgroundColor: p.match },
      '&.cm-focused .cm-matchingBracket': { backgroundColor: p.match, outline: `1px solid ${p.gutter}` },
      '&.cm-focused .cm-nonmatchingBracket': { backgroundColor: 'transparent', outline: `1px solid ${p.error}` },
      '.cm-gutters': { backgroundColor: p.back, color: p.gutter, border: 'none' },
      '.cm-lineNumbers .cm-gutterElement': { padding: '0 8px 0 12px', minWidth: '3ch' },
      '.cm-activeLineGutter': { backgroundColor: p.activeGutter, color: p.gutterActive },
      '.cm-gutter-lint': { width: '16px' },
      '.cm-gutter-lint .cm-gutterElement': { padding: '0 0 0 4px' },
      // Lint marks in the app's red and amber (the defaults are other reds).
      '.cm-lint-marker-error': { content: marker(p.error) },
      '.cm-lint-marker-warning': { content: marker(p.warning) },
      '.cm-lintRange-error': { backgroundImage: underline(p.error) },
      '.cm-lintRange-warning': { backgroundImage: underline(p.warning) },
      '.cm-diagnostic-error': { borderLeftColor: p.error },
      '.cm-diagnostic-warning': { borderLeftColor: p.warning },
      '.cm-tooltip': {
        backgroundColor: p.surface,
        color: p.text,
        border: `1px solid ${p.hairline}`,
        borderRadius: '6px',
        overflow: 'hidden',
      },
      '.cm-diagnostic': { fontFamily: FONT, fontSize: '12px', padding: '4px 8px' },
      '.cm-panels': { backgroundColor: p.surface, color: p.text, fontSize: '12px' },
      '.cm-panels.cm-panels-top': { borderBottom: `1px solid ${p.hairline}` },
      '.cm-panels.cm-panels-bottom': { borderTop: `1px solid ${p.hairline}` },
      '.cm-textfield, .cm-button': {
        backgroundColor: p.back,
        backgroundImage: 'none',
        color: p.text,
        border: `1px solid ${p.hairline}`,
        borderRadius: '4px',
      },
      '.cm-searchMatch': { backgroundColor: p.match, outline: 'none' },
      '.cm-searchMatch.cm-searchMatch-selected': { backgroundColor: p.selection },
    },
    { dark },
  )
}

// A 6 px dot for the lint gutter, and the wavy underline of @codemirror/lint
// in another colour. Data URLs: the app's CSP allows `img-src data:`.
function marker(color) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="12" height="12"><circle cx="6" cy="6" r="4.5" fill="${color}"/></svg>`
  return `url('data:image/svg+xml,${encodeURIComponent(svg)}')`
}

function underline(color) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="6" height="3"><path d="m0 2.5 l2 -1.5 l1 0 l2 1.5 l1 0" stroke="${color}" fill="none" stroke-width=".7"/></svg>`
  return `url('data:image/svg+xml,${encodeURIComponent(svg)}')`
}

function highlightStyle(p) {
  return HighlightStyle.define([
    { tag: [t.keyword, t.bool, t.null, t.self], color: p.keyword },
    { tag: [t.string, t.special(t.string), t.regexp], color: p.string },
    { tag: t.escape, color: p.meta },
    { tag: t.number, color: p.number },
    { tag: t.comment, color: p.comment, fontStyle: 'italic' },
    { tag: t.function(t.definition(t.variableName)), color: p.defName },
    { tag: [t.definition(t.className), t.className, t.typeName], color: p.className },
    { tag: [t.function(t.variableName), t.function(t.propertyName)], color: p.call },
    { tag: [t.meta, t.annotation], color: p.meta },
    { tag: t.invalid, color: p.error },
  ])
}

function themeExtension(theme) {
  const p = PALETTES[theme]
  return [editorTheme(p, theme === 'dark'), syntaxHighlighting(highlightStyle(p))]
}

function themeName(theme) {
  return theme === 'light' ? 'light' : 'dark'
}

// Marks setDoc() transactions so that onChange reports only the user's edits
// (a host that mirrors the text would otherwise be called back with its own).
const fromHost = Annotation.define()

// {line, column, message, severity} (1-based line; 1-based column, or
// null/0 for the whole line) to a @codemirror/lint diagnostic.
function toDiagnostic(state, d) {
  const doc = state.doc
  const n = Math.min(Math.max(1, Math.floor(+d.line) || 1), doc.lines)
  const line = doc.line(n)
  let from = line.from
  let to = line.to
  const column = Math.floor(+d.column) || 0
  if (column > 0) {
    // Past the end of the line: mark its last character.
    from = Math.max(line.from, Math.min(line.from + column - 1, line.to - 1))
    // Underline the word at the column (Python reports a token's start),
    // otherwise one character.
    const word = state.wordAt(from)
    to = word ? word.to : Math.min(from + 1, line.to)
  }
  return {
    from,
    to,
    severity: d.severity === 'warning' ? 'warning' : 'error',
    message: String(d.message ?? ''),
  }
}

const live = new Set()

function mount(el, options = {}) {
  if (!(el instanceof HTMLElement)) throw new TypeError('InChartEditor.mount: el must be an HTMLElement')
  if (el.__inchartEditor) el.__inchartEditor.destroy()

  let alive = true
  let changeCallback = null
  let runCallback = null
  const themeSlot = new Compartment()

  const run = () => {
    if (runCallback) {
      try {
        runCallback()
      } catch (e) {
        console.error('InChartEditor: onRun callback failed', e)
      }
    }
    // Handled even without a callback: Mod-Enter never inserts a line.
    return true
  }

  const view = new EditorView({
    parent: el,
    state: EditorState.create({
      doc: String(options.doc ?? ''),
      extensions: [
        // Above the default keymap, where Mod-Enter inserts a blank line.
        // Ctrl-Enter too, so that it also runs on a Mac.
        Prec.highest(keymap.of([
          { key: 'Mod-Enter', run, preventDefault: true },
          { key: 'Ctrl-Enter', run, preventDefault: true },
        ])),
        lineNumbers(),
        highlightActiveLineGutter(),
        lintGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        python(),
        indentUnit.of('    '),
        EditorState.tabSize.of(4),
        EditorState.readOnly.of(!!options.readOnly),
        EditorView.contentAttributes.of({ 'aria-label': options.label || 'Python script' }),
        // Tab indents. Escape, then Tab, still moves the focus on (CodeMirror's
        // tab-focus escape hatch), so the keyboard is not trapped.
        keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap, ...lintKeymap, indentWithTab]),
        themeSlot.of(themeExtension(themeName(options.theme))),
        EditorView.updateListener.of((update) => {
          if (!changeCallback || !update.docChanged) return
          if (update.transactions.every((tr) => tr.annotation(fromHost))) return
          try {
            changeCallback(update.state.doc.toString())
          } catch (e) {
            console.error('InChartEditor: onChange callback failed', e)
          }
        }),
      ],
    }),
  })
  view.dom.classList.add('inchart-editor')

  const handle = {
    // Still answers after destroy(): the last text, so a host can save it.
    getDoc() {
      return view.state.doc.toString()
    },

    // Replaces the text as one undoable step (Mod-z brings the old text back),
    // kept apart from the user's typing. Only the part that differs is
    // replaced, so the cursor stays put when little changed.
    setDoc(text) {
      if (!alive) return
      const next = String(text ?? '')
      const old = view.state.doc.toString()
      if (next === old) return
      const max = Math.min(old.length, next.length)
      let start = 0
      while (start < max && old.charCodeAt(start) === next.charCodeAt(start)) start++
      let end = 0
      while (end < max - start && old.charCodeAt(old.length - 1 - end) === next.charCodeAt(next.length - 1 - end)) end++
      view.dispatch({
        changes: { from: start, to: old.length - end, insert: next.slice(start, next.length - end) },
        annotations: [fromHost.of(true), isolateHistory.of('full')],
      })
    },

    setDiagnostics(list) {
      if (!alive) return
      const diagnostics = (list || []).map((d) => toDiagnostic(view.state, d))
      view.dispatch(setDiagnostics(view.state, diagnostics))
    },

    onChange(callback) {
      changeCallback = typeof callback === 'function' ? callback : null
    },

    onRun(callback) {
      runCallback = typeof callback === 'function' ? callback : null
    },

    setTheme(theme) {
      if (!alive) return
      view.dispatch({ effects: themeSlot.reconfigure(themeExtension(themeName(theme))) })
    },

    focus() {
      if (alive) view.focus()
    },

    destroy() {
      if (!alive) return
      alive = false
      changeCallback = null
      runCallback = null
      view.destroy()
      if (el.__inchartEditor === handle) delete el.__inchartEditor
      live.delete(handle)
    },
  }

  live.add(handle)
  el.__inchartEditor = handle
  return handle
}

window.InChartEditor = {
  mount,
  liveInstances: () => live.size,
  version: '1',
}
