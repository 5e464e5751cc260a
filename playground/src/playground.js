// The keystroke playground: a CodeMirror 6 editor whose suggestions come from the gateway's editor session
// over a WebSocket. This file only draws: when to ask, what to cancel, what is stale, what is cached, all
// happen on the server, in the same editor service the language server runs.
//
// Keys, as in an editor: Tab accepts the suggestion on screen (ghost text). The completion list (the
// language's words) never takes a key by itself: it opens with nothing selected, so Enter inserts a newline
// unless the user chose an item with the arrow keys; it offers only words that continue what was typed,
// case-sensitively, and never the word already typed, so a word typed exactly is never replaced.
import { EditorView, basicSetup } from "codemirror";
import { autocompletion, completeFromList } from "@codemirror/autocomplete";
import { go } from "@codemirror/lang-go";
import { javascript } from "@codemirror/lang-javascript";
import { python } from "@codemirror/lang-python";
import { indentUnit } from "@codemirror/language";
import { rust } from "@codemirror/lang-rust";
import { Compartment, EditorState, StateEffect, StateField, Prec, Annotation } from "@codemirror/state";
import { Decoration, WidgetType, keymap } from "@codemirror/view";

const LANGUAGES = {
  python: () => [python(), indentUnit.of("    ")], // PEP 8's four spaces
  javascript: () => javascript(),
  typescript: () => javascript({ typescript: true }),
  go: () => go(),
  rust: () => rust(),
};

// The language's own completion sources, with what they offer narrowed to words that continue the typed
// word exactly (case included) and are longer than it.
async function continuations(context) {
  const typed = context.matchBefore(/[\w$]+/);
  if (!typed && !context.explicit) return null;
  const word = typed ? typed.text : "";
  for (const source of context.state.languageDataAt("autocomplete", context.pos)) {
    const result = await (typeof source === "function" ? source : completeFromList(source))(context);
    if (!result) continue;
    const prefix = context.state.sliceDoc(result.from, context.pos);
    const options = result.options.filter((o) => o.label.startsWith(prefix) && o.label !== prefix && prefix === word);
    if (options.length) return { ...result, options, filter: false };
  }
  return null;
}

const setGhost = StateEffect.define();
const ours = Annotation.define(); // a change the playground made itself (an accept)

class GhostWidget extends WidgetType {
  constructor(text, id) {
    super();
    this.text = text;
    this.id = id;
  }
  eq(other) {
    return other.text === this.text && other.id === this.id;
  }
  toDOM() {
    const span = document.createElement("span");
    span.className = "ks-ghost";
    span.dataset.id = this.id;
    span.textContent = this.text;
    return span;
  }
  ignoreEvent() {
    return true;
  }
}

// The suggestion on screen: {id, text, pos, replace} or null. Typing its next characters shortens it;
// any other edit, or a cursor move, removes it.
const ghostField = StateField.define({
  create: () => null,
  update(ghost, tr) {
    for (const effect of tr.effects) if (effect.is(setGhost)) return effect.value;
    if (!ghost) return null;
    if (tr.docChanged) {
      if (tr.annotation(ours)) return null;
      let typed = null;
      let changes = 0;
      tr.changes.iterChanges((fromA, toA, fromB, toB, inserted) => {
        changes += 1;
        if (fromA === toA && fromA === ghost.pos) typed = inserted.toString();
      });
      if (changes !== 1 || !typed || ghost.replace || !ghost.text.startsWith(typed)) return null;
      if (typed.length >= ghost.text.length) return null;
      return { ...ghost, text: ghost.text.slice(typed.length), pos: ghost.pos + typed.length };
    }
    if (tr.selection && tr.state.selection.main.head !== ghost.pos) return null;
    return ghost;
  },
  provide: (field) =>
    EditorView.decorations.from(field, (ghost) => {
      if (!ghost) return Decoration.none;
      const parts = [];
      if (ghost.replace) parts.push(Decoration.mark({ class: "ks-replaced" }).range(ghost.pos - ghost.replace, ghost.pos));
      parts.push(Decoration.widget({ widget: new GhostWidget(ghost.text, ghost.id), side: 1 }).range(ghost.pos));
      return Decoration.set(parts);
    }),
});

const codePoints = (text) => [...text].length;

class Playground {
  constructor(parent, panel) {
    this.panel = panel;
    this.language = "python";
    this.languageSlot = new Compartment();
    this.version = 0;
    this.requestId = 0;
    this.changedAt = new Map(); // version -> when the keystroke happened (for the on-screen latency)
    this.counts = { shown: 0, accepted: 0, dismissed: 0 };
    this.accepted = [];
    this.socket = null;
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: "",
        extensions: [
          Prec.highest(
            keymap.of([
              { key: "Tab", run: () => this.accept() },
              { key: "Escape", run: () => this.dismiss() },
              { key: "Mod-ArrowRight", run: () => this.acceptWord() },
              { key: "Alt-ArrowRight", run: () => this.acceptWord() },
              { key: "Ctrl-Space", run: () => this.ask(true) },
            ]),
          ),
          basicSetup,
          autocompletion({ selectOnOpen: false, override: [continuations] }),
          this.languageSlot.of(LANGUAGES.python()),
          ghostField,
          EditorView.updateListener.of((update) => this.changed(update)),
        ],
      }),
    });
  }

  // Another language: the editor's grammar and completions, and a new session on the server for it (the
  // text stays).
  setLanguage(name) {
    if (!(name in LANGUAGES) || name === this.language) return;
    this.language = name;
    this.view.dispatch({ effects: [this.languageSlot.reconfigure(LANGUAGES[name]()), setGhost.of(null)] });
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close();
    }
    this.version = 0;
    this.connect(this.key);
  }

  connect(key) {
    this.key = key;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.socket = new WebSocket(`${scheme}://${location.host}/v1/playground`);
    this.socket.onopen = () => {
      const hello = { type: "hello", language: this.language, text: this.view.state.doc.toString() };
      if (key) hello.key = key;
      this.socket.send(JSON.stringify(hello));
    };
    this.socket.onmessage = (event) => this.received(JSON.parse(event.data));
    this.socket.onclose = () => this.status("disconnected", "bad");
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  changed(update) {
    if (!update.docChanged) return;
    this.version += 1;
    this.changedAt.set(this.version, performance.now());
    if (this.changedAt.size > 100) this.changedAt.delete(this.changedAt.keys().next().value);
    this.send({ type: "change", version: this.version, text: update.state.doc.toString() });
    this.ask(false);
  }

  ask(invoked) {
    this.requestId += 1;
    const offset = this.view.state.selection.main.head;
    this.send({ type: "suggest", id: this.requestId, version: this.version, offset, invoked });
    return true;
  }

  received(message) {
    if (message.type === "ready") {
      this.status(`connected: tenant ${message.tenant}, model ${message.model}`, "good");
    } else if (message.type === "error") {
      this.status(message.error, "bad");
      if (message.fatal) this.onFatal?.(message.error);
    } else if (message.type === "suggestion") {
      this.suggestion(message);
    }
  }

  suggestion(message) {
    // a stale answer (an older request or version) is never shown; the server drops those too
    if (!message.text || message.id !== this.requestId || message.version !== this.version) return;
    const pos = this.view.state.selection.main.head;
    const ghost = { id: message.suggestion_id, text: message.text, pos, replace: message.replace || 0 };
    this.view.dispatch({ effects: setGhost.of(ghost) });
    this.counts.shown += 1;
    const since = this.changedAt.get(message.version);
    this.show({
      lane: message.lane,
      reason: message.reason,
      firstAction: message.latency_ms,
      onScreen: since === undefined ? null : performance.now() - since,
      cached: message.cached_ratio,
    });
  }

  ghost() {
    return this.view.state.field(ghostField);
  }

  accept() {
    const ghost = this.ghost();
    if (!ghost) return false; // Tab indents as usual
    const from = ghost.pos - ghost.replace;
    this.view.dispatch({
      changes: { from, to: ghost.pos, insert: ghost.text },
      selection: { anchor: from + ghost.text.length },
      annotations: ours.of("accept"),
    });
    this.send({ type: "accept", suggestion_id: ghost.id });
    this.accepted.push(ghost.text); // what suggestions put into the text, for the browser tests
    this.counts.accepted += 1;
    this.refreshCounts();
    return true;
  }

  acceptWord() {
    const ghost = this.ghost();
    if (!ghost) return false;
    if (ghost.replace) return this.accept();
    const match = ghost.text.match(/^\s*(\w+|[^\w\s]+)/);
    const piece = match ? match[0] : ghost.text;
    const rest = ghost.text.slice(piece.length);
    this.view.dispatch({
      changes: { from: ghost.pos, insert: piece },
      selection: { anchor: ghost.pos + piece.length },
      annotations: ours.of("word"),
      effects: setGhost.of(rest ? { ...ghost, text: rest, pos: ghost.pos + piece.length } : null),
    });
    this.send({ type: "accept", suggestion_id: ghost.id, offset: ghost.pos, chars: codePoints(piece) });
    this.accepted.push(piece);
    if (!rest) this.counts.accepted += 1;
    this.refreshCounts();
    return true;
  }

  dismiss() {
    const ghost = this.ghost();
    if (!ghost) return false;
    this.view.dispatch({ effects: setGhost.of(null) });
    this.send({ type: "dismiss", suggestion_id: ghost.id });
    this.counts.dismissed += 1;
    this.refreshCounts();
    return true;
  }

  status(text, kind) {
    const node = this.panel.querySelector("#ks-status");
    node.textContent = text;
    node.className = kind;
  }

  show(facts) {
    const ms = (value) => (value === null || value === undefined ? "n/a" : `${value.toFixed(0)} ms`);
    const set = (id, text) => (this.panel.querySelector(id).textContent = text);
    set("#ks-lane", facts.lane);
    set("#ks-reason", facts.reason);
    set("#ks-first-action", ms(facts.firstAction));
    set("#ks-on-screen", ms(facts.onScreen));
    set("#ks-cached", facts.cached === null || facts.cached === undefined ? "n/a" : `${(facts.cached * 100).toFixed(0)}%`);
    this.refreshCounts();
  }

  refreshCounts() {
    const { shown, accepted, dismissed } = this.counts;
    this.panel.querySelector("#ks-counts").textContent = `${shown} shown, ${accepted} accepted, ${dismissed} dismissed`;
  }
}

function start() {
  const playground = new Playground(document.getElementById("editor"), document.getElementById("facts"));
  const picker = document.getElementById("ks-language");
  if (picker) picker.addEventListener("change", () => playground.setLanguage(picker.value));
  const stored = sessionStorage.getItem("keystroke-key");
  playground.onFatal = () => {
    const key = prompt("This gateway needs an API key (keystroke keys create --tenant NAME):");
    if (key) {
      sessionStorage.setItem("keystroke-key", key);
      playground.connect(key);
    }
  };
  playground.connect(stored);
  playground.view.focus();
  window.keystroke = playground; // for the browser tests, and for the curious
}

start();
