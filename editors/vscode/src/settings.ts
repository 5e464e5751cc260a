// The extension's settings as the language server's configuration: command-line arguments and environment
// variables (KEYSTROKE_SECTION__FIELD), never written to disk.
import * as vscode from "vscode";

export interface ServerLaunch {
  args: string[];
  env: Record<string, string>;
  mode: "embedded" | "gateway";
}

export function serverLaunch(config: vscode.WorkspaceConfiguration, apiKey: string | undefined): ServerLaunch {
  const env: Record<string, string> = {};
  const gateway = config.get<string>("gateway", "").trim();
  const model = config.get<string>("model", "").trim();
  if (model) env.KEYSTROKE_ENGINE__MODEL = model;
  env.KEYSTROKE_EDITOR__MULTILINE = String(config.get<boolean>("multiline", true));
  env.KEYSTROKE_EDITOR__DEBOUNCE_MS = String(config.get<number>("debounceMs", 150));
  env.KEYSTROKE_EDITOR__TELEMETRY = String(config.get<boolean>("telemetry", true));
  const exclude = config.get<string[]>("exclude", []);
  if (exclude.length) env.KEYSTROKE_CONTEXT__EXCLUDE = JSON.stringify(exclude);
  if (gateway && apiKey) env.KEYSTROKE_API_KEY = apiKey; // from SecretStorage, never from settings.json
  const args = gateway ? ["lsp", "--gateway", gateway] : ["lsp", "--embedded"];
  return { args, env, mode: gateway ? "gateway" : "embedded" };
}
