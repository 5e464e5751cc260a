// The status bar item: what state keystroke is in, and the last suggestion's lane and latency.
//
// Three things decide it: the extension's own lifecycle (starting, running, not installed, off, stopped), the
// server's health of its remote lane (the `keystroke/health` notification: ready, or why the gateway or model
// does not answer, in which case the local lane answers alone), and whether the file in the active editor is
// excluded from upload. Nothing here pops up: the status bar and its tooltip say it all.
import * as vscode from "vscode";

export type Lifecycle = "starting" | "running" | "not-installed" | "off" | "failed";
export type Health = "ready" | "unreachable" | "refused" | "overloaded" | "failed";
export type Mode = "embedded" | "gateway";

const LIFECYCLE: Record<Exclude<Lifecycle, "running">, string> = {
  starting: "$(loading~spin) keystroke: starting",
  "not-installed": "$(error) keystroke: not installed",
  off: "$(circle-outline) keystroke: off",
  failed: "$(error) keystroke: stopped",
};

const LOCAL_ONLY = "local lane only";

function healthLabel(health: Exclude<Health, "ready">, mode: Mode): string {
  const remote = mode === "gateway" ? "gateway" : "model";
  switch (health) {
    case "unreachable":
      return `$(debug-disconnect) keystroke: ${remote} unreachable · ${LOCAL_ONLY}`;
    case "refused":
      return `$(key) keystroke: API key refused · ${LOCAL_ONLY}`;
    case "overloaded":
      return `$(watch) keystroke: ${remote} busy · ${LOCAL_ONLY}`;
    case "failed":
      return `$(warning) keystroke: ${remote} error · ${LOCAL_ONLY}`;
  }
}

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("keystroke.status", vscode.StatusBarAlignment.Right, 100);
  lifecycle: Lifecycle = "starting";
  mode: Mode = "embedded";
  private health: Health = "ready";
  private healthDetail = "";
  private excluded = false;
  private detail = "";
  private last = "";

  constructor() {
    this.item.name = "keystroke";
    this.item.command = "keystroke.showStats";
    this.render();
    this.item.show();
  }

  set(lifecycle: Lifecycle, detail = ""): void {
    if (lifecycle === "starting") this.last = ""; // a new server: the last suggestion was the old one's
    this.lifecycle = lifecycle;
    this.detail = detail;
    this.render();
  }

  /** The server's word on its remote lane (`keystroke/health`, `keystroke/status`). */
  setHealth(health: string, detail: string): void {
    this.health = (["ready", "unreachable", "refused", "overloaded", "failed"].includes(health) ? health : "failed") as Health;
    this.healthDetail = detail;
    this.render();
  }

  /** Whether the active editor's file is excluded from upload (answered by the local lane only). */
  setExcluded(excluded: boolean): void {
    this.excluded = excluded;
    this.render();
  }

  /** The last suggestion shown: its lane and the time from the request to the answer, as VS Code saw it. */
  suggestion(lane: string, ms: number): void {
    this.last = `${lane} ${Math.round(ms)} ms`;
    this.render();
  }

  private label(): string {
    if (this.lifecycle !== "running") return LIFECYCLE[this.lifecycle];
    if (this.excluded) return `$(eye-closed) keystroke: file excluded · ${LOCAL_ONLY}`;
    if (this.health !== "ready") return healthLabel(this.health, this.mode);
    return this.last ? `$(sparkle) keystroke · ${this.last}` : "$(sparkle) keystroke";
  }

  private render(): void {
    this.item.text = this.label();
    const running = this.lifecycle === "running";
    this.item.tooltip = [
      running ? `keystroke (${this.mode}): ${this.excluded ? "this file is excluded from upload" : this.health}` : `keystroke: ${this.lifecycle}`,
      this.detail,
      running && this.health !== "ready" ? this.healthDetail : "",
      this.last && `last suggestion: ${this.last}`,
      "click for the server's stats",
    ]
      .filter(Boolean)
      .join("\n");
  }

  dispose(): void {
    this.item.dispose();
  }
}
