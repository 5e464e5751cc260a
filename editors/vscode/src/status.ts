// The status bar item: what state keystroke is in, and the last suggestion's lane and latency.
import * as vscode from "vscode";

export type State =
  | "starting"
  | "ready"
  | "gateway-unreachable"
  | "not-installed"
  | "off"
  | "failed";

const LABELS: Record<State, string> = {
  starting: "$(loading~spin) keystroke: starting",
  ready: "$(sparkle) keystroke",
  "gateway-unreachable": "$(warning) keystroke: gateway unreachable",
  "not-installed": "$(error) keystroke: not installed",
  off: "$(circle-outline) keystroke: off",
  failed: "$(error) keystroke: stopped",
};

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("keystroke.status", vscode.StatusBarAlignment.Right, 100);
  state: State = "starting";
  private last = "";
  private detail = "";

  constructor() {
    this.item.name = "keystroke";
    this.item.command = "keystroke.showStats";
    this.render();
    this.item.show();
  }

  set(state: State, detail = ""): void {
    this.state = state;
    this.detail = detail;
    this.render();
  }

  /** The last suggestion shown: its lane and the time from the request to the answer, as VS Code saw it. */
  suggestion(lane: string, ms: number): void {
    this.last = `${lane} ${Math.round(ms)} ms`;
    this.render();
  }

  private render(): void {
    const showsLast = this.state === "ready";
    this.item.text = showsLast && this.last ? `${LABELS[this.state]} · ${this.last}` : LABELS[this.state];
    this.item.tooltip = [`keystroke: ${this.state}`, this.detail, this.last && `last suggestion: ${this.last}`, "click for the server's stats"]
      .filter(Boolean)
      .join("\n");
  }

  dispose(): void {
    this.item.dispose();
  }
}
