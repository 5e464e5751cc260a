// keystroke for VS Code: starts `keystroke lsp` (the model in-process, or a gateway) and lets VS Code's
// language client turn its inline completions into ghost text. Accepting runs the server's
// `keystroke.accepted` command, so acceptance and retention telemetry work as in any editor.
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, State as ClientState } from "vscode-languageclient/node";
import { INSTALL_HINT, findExecutable } from "./executable";
import { serverLaunch } from "./settings";
import { StatusBar } from "./status";

const SECRET = "keystroke.apiKey";
const STATS_EVERY_MS = 5000;

let client: LanguageClient | undefined;
let status: StatusBar;
let output: vscode.OutputChannel;
let poll: NodeJS.Timeout | undefined;
let told = false; // "not installed" is said once per session, not per keystroke

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("keystroke");
  status = new StatusBar();
  context.subscriptions.push(
    output,
    status,
    vscode.commands.registerCommand("keystroke.toggle", () => toggle(context)),
    vscode.commands.registerCommand("keystroke.askNow", () =>
      vscode.commands.executeCommand("editor.action.inlineSuggest.trigger"),
    ),
    vscode.commands.registerCommand("keystroke.showStats", showStats),
    vscode.commands.registerCommand("keystroke.showLog", () => output.show(true)),
    vscode.commands.registerCommand("keystroke.setApiKey", () => setApiKey(context)),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("keystroke")) await restart(context);
    }),
  );
  if (vscode.workspace.getConfiguration("keystroke").get<boolean>("enable", true)) await start(context);
  else status.set("off");
}

export async function deactivate(): Promise<void> {
  await stop();
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("keystroke");
  const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
  const executable = findExecutable(config.get<string>("path", "").trim(), folders);
  if (!executable) {
    status.set("not-installed", INSTALL_HINT);
    output.appendLine(INSTALL_HINT);
    if (!told) {
      told = true;
      void vscode.window.showWarningMessage(INSTALL_HINT);
    }
    return;
  }
  const launch = serverLaunch(config, await context.secrets.get(SECRET));
  const serverOptions: ServerOptions = {
    command: executable,
    args: launch.args,
    options: { env: { ...process.env, ...launch.env } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    outputChannel: output,
    initializationFailedHandler: (error) => {
      output.appendLine(`keystroke lsp did not start: ${error}`);
      status.set("failed", String(error));
      return false;
    },
    middleware: {
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        const started = Date.now();
        const result = await next(document, position, context, token);
        const items = Array.isArray(result) ? result : result?.items ?? [];
        const facts = items[0]?.command?.arguments?.[0] as { lane?: string } | undefined;
        if (facts?.lane) status.suggestion(facts.lane, Date.now() - started);
        return result;
      },
    },
  };
  client = new LanguageClient("keystroke", "keystroke", serverOptions, clientOptions);
  client.registerProposedFeatures(); // inline completion (LSP 3.18) is a proposed feature in this client
  client.onDidChangeState((event) => {
    if (event.newState === ClientState.Stopped && status.state !== "off") status.set("failed", "see the log");
  });
  status.set("starting", `${launch.mode}: ${launch.args.join(" ")}`);
  try {
    await client.start();
  } catch (error) {
    output.appendLine(`keystroke lsp failed: ${error}`);
    status.set("failed", String(error));
    return;
  }
  status.set("ready", `${launch.mode}; ${executable}`);
  poll = setInterval(() => void followStats(launch.mode), STATS_EVERY_MS);
}

async function followStats(mode: "embedded" | "gateway"): Promise<void> {
  if (!client || client.state !== ClientState.Running) return;
  try {
    const stats = (await client.sendRequest("keystroke/stats", {})) as Record<string, unknown>;
    // indexing progress is the language client's own ($/progress); here: is the gateway answering?
    if (mode === "gateway" && Number(stats.remote_errors ?? 0) > lastRemoteErrors) status.set("gateway-unreachable");
    else if (status.state !== "ready") status.set("ready", mode);
    lastRemoteErrors = Number(stats.remote_errors ?? 0);
  } catch {
    // the server is busy or restarting: the next poll tells
  }
}
let lastRemoteErrors = 0;

async function stop(): Promise<void> {
  if (poll) clearInterval(poll);
  poll = undefined;
  const running = client;
  client = undefined;
  if (running) await running.stop().catch(() => undefined);
}

async function restart(context: vscode.ExtensionContext): Promise<void> {
  await stop();
  if (vscode.workspace.getConfiguration("keystroke").get<boolean>("enable", true)) await start(context);
  else status.set("off");
}

async function toggle(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("keystroke");
  await config.update("enable", !config.get<boolean>("enable", true), vscode.ConfigurationTarget.Global);
  await restart(context);
}

async function showStats(): Promise<void> {
  if (!client || client.state !== ClientState.Running) {
    output.show(true);
    return;
  }
  const stats = await client.sendRequest("keystroke/stats", {});
  output.appendLine(JSON.stringify(stats, null, 2));
  output.show(true);
}

async function setApiKey(context: vscode.ExtensionContext): Promise<void> {
  const key = await vscode.window.showInputBox({
    prompt: "API key for the keystroke gateway (kept in VS Code's secret storage, not in settings)",
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return;
  if (key) await context.secrets.store(SECRET, key);
  else await context.secrets.delete(SECRET);
  await restart(context);
}
